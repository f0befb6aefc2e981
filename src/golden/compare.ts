/**
 * Run a golden case into a scratch warehouse and compare (or rewrite) its
 * expected CSVs. Values are compared as text, except columns with a declared
 * tolerance, which compare numerically.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { JobSpecs } from '../config/jobspec-schemas.ts';
import type { RuntimeConfig } from '../config/runtime.ts';
import { selectBatches } from '../engine/batches.ts';
import { registerInputView } from '../engine/execute.ts';
import { ident, inline, lit, sql } from '../engine/sql.ts';
import type { Logger } from '../log/index.ts';
import { build, type Buildable } from '../pipeline/build.ts';
import '../pipeline/builders.ts';
import { openRunContext, type RunContext } from '../pipeline/context.ts';
import { LocalWarehouse } from '../storage/local.ts';
import type { GoldenCase } from './cases.ts';

export interface Mismatch {
  dataset: string;
  detail: string;
}

async function datasetRelation(ctx: RunContext, dataset: string, view: string) {
  const manifests = [...(await ctx.warehouse.readManifests(await ctx.warehouse.listCommitted(dataset))).values()];
  await registerInputView(ctx.session, ctx.warehouse, view, manifests, manifests[0]?.columns ?? []);
}

export async function runGoldenCase(
  c: GoldenCase,
  base: { specs: JobSpecs; runtime: RuntimeConfig; log: Logger },
  mode: 'check' | 'update',
): Promise<Mismatch[]> {
  const scratch = await mkdtemp(join(tmpdir(), `ndr-golden-${c.name}-`));
  const runtime = { ...base.runtime, raw: resolve(c.dir, c.raw), rawFormat: c.raw_format, preset: c.preset, internalNetworks: c.internal_networks, warehouse: scratch };
  const ctx = await openRunContext({ specs: base.specs, runtime, warehouse: new LocalWarehouse(scratch), log: base.log });
  try {
    const batches = selectBatches({ from: c.from, to: c.to });
    for (const dataset of Object.keys(c.datasets)) await build(ctx, dataset as Buildable, batches, { upstream: true });
    const mismatches: Mismatch[] = [];
    for (const [dataset, opts] of Object.entries(c.datasets)) {
      await datasetRelation(ctx, dataset, 'actual');
      // Qualified, so that the order is the typed columns' even when the output is text.
      const order = sql.join(opts.order_by.map((col) => sql.ref(`actual.${col}`)));
      const file = join(c.dir, `${dataset}.csv`);
      const columns = sql`COLUMNS(* EXCLUDE (${sql.join(['dt', 'hh', 'mm', ...opts.ignore].map(ident))}))`;
      const actual = (asText: boolean) => sql`SELECT ${columns}${asText ? sql`::VARCHAR` : sql``} FROM actual ORDER BY ${order}`;
      if (mode === 'update') {
        await ctx.session.run(inline(sql`COPY (${actual(false)}) TO ${lit(file)} (HEADER, DELIMITER ',')`));
        continue;
      }
      const got = await ctx.session.all<Record<string, string | null>>(inline(actual(true)));
      const want = await ctx.session.all<Record<string, string | null>>(
        inline(sql`SELECT * FROM read_csv(${lit(file)}, header = true, all_varchar = true, nullstr = '')`),
      );
      mismatches.push(...compareRows(dataset, got, want, opts.tolerance));
    }
    return mismatches;
  } finally {
    ctx.session.close();
    await rm(scratch, { recursive: true, force: true });
  }
}

export function compareRows(dataset: string, got: Record<string, string | null>[], want: Record<string, string | null>[], tolerance: Record<string, number>): Mismatch[] {
  const out: Mismatch[] = [];
  if (got.length !== want.length) out.push({ dataset, detail: `row count ${got.length}, expected ${want.length}` });
  const gotCols = Object.keys(got[0] ?? want[0] ?? {});
  const wantCols = Object.keys(want[0] ?? got[0] ?? {});
  if (gotCols.join(',') !== wantCols.join(',')) out.push({ dataset, detail: `columns differ: got ${gotCols.join(',')} expected ${wantCols.join(',')}` });
  for (let i = 0; i < Math.min(got.length, want.length) && out.length < 20; i++) {
    for (const col of wantCols) {
      const g = got[i][col] ?? null;
      const w = want[i][col] === '' ? null : (want[i][col] ?? null);
      const tol = tolerance[col];
      const same =
        tol !== undefined && g !== null && w !== null ? Math.abs(Number(g) - Number(w)) <= tol : normalise(g) === normalise(w);
      if (!same) out.push({ dataset, detail: `row ${i + 1} column ${col}: got ${g}, expected ${w}${tol !== undefined ? ` (tolerance ${tol})` : ''}` });
    }
  }
  return out;
}

/** CSV round trips lose nothing for text; timestamps print the same either way. */
const normalise = (v: string | null) => (v === null || v === '' ? null : v);
