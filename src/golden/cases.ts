/**
 * Golden-file cases: a fixture input, the batches to build, and the expected
 * output of each dataset as a sorted CSV with per-column tolerances.
 * Layout: fixtures/golden/<case>/case.json and <dataset>.csv.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors/index.ts';

export const goldenCaseSchema = z.object({
  description: z.string(),
  raw: z.string(),
  raw_format: z.enum(['parquet', 'ndjson', 'zeek_tsv']).optional(),
  preset: z.enum(['paloalto', 'zeek_conn']).optional(),
  from: z.string(),
  to: z.string(),
  internal_networks: z.string().optional(),
  datasets: z.record(
    z.string(),
    z.object({
      order_by: z.array(z.string()).min(1),
      /** Columns left out of the comparison (e.g. run-dependent ones); none by default. */
      ignore: z.array(z.string()).default([]),
      /** column -> absolute tolerance; columns not listed must match exactly. */
      tolerance: z.record(z.string(), z.number().min(0)).default({}),
    }),
  ),
});
export type GoldenCase = z.infer<typeof goldenCaseSchema> & { name: string; dir: string };

export async function loadGoldenCases(root: string, only?: string): Promise<GoldenCase[]> {
  const names = (await readdir(root).catch(() => [] as string[])).filter((n) => !only || n === only).sort();
  if (only && !names.length) throw new ConfigError(`no golden case ${only} under ${root}`);
  return Promise.all(
    names.map(async (name) => {
      const dir = join(root, name);
      const parsed = goldenCaseSchema.safeParse(JSON.parse(await readFile(join(dir, 'case.json'), 'utf8')));
      if (!parsed.success) throw new ConfigError(`golden case ${name}: ${parsed.error.issues[0].path.join('.')}: ${parsed.error.issues[0].message}`);
      return { ...parsed.data, name, dir };
    }),
  );
}
