/**
 * The real Zeek captures in ../shared/data (never copied into the project):
 * the tool as a user runs it, on real conn logs. When ../shared is absent the
 * suite says so and runs nothing.
 */
import { existsSync, readdirSync } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO, tempDir } from './support/context.ts';
import { runCli } from './support/cli.ts';

const DATA = join(REPO, '..', 'shared', 'data');
const present = existsSync(DATA);
if (!present) console.warn(`test/real-data.test.ts: ${DATA} is absent; the real-data tests are not run`);

/** Count data lines and sum orig_bytes per local-orig host, independently of ndr-sql. */
async function countZeek(file: string): Promise<{ rows: number; byHour: Map<string, number> }> {
  const lines = createInterface({ input: createReadStream(file).pipe(createGunzip()) });
  let fields: string[] = [];
  let rows = 0;
  const byHour = new Map<string, number>();
  for await (const line of lines) {
    if (line.startsWith('#fields')) fields = line.split('\t').slice(1);
    if (line.startsWith('#') || !line) continue;
    rows++;
    const ts = Number(line.split('\t')[fields.indexOf('ts')]);
    const h = new Date(Math.floor(ts) * 1000).toISOString().slice(0, 13);
    byHour.set(h, (byHour.get(h) ?? 0) + 1);
  }
  return { rows, byHour };
}

describe.runIf(present)('real Zeek conn logs from ../shared/data', () => {
  const tmp = tempDir('ndr-real-');
  afterAll(() => tmp.cleanup());

  it('proxy-rolling: every record is placed in a batch or counted by a DQ rule', async () => {
    const dir = join(DATA, 'zeek-rita-proxy-rolling');
    const files = readdirSync(dir).filter((f) => f.endsWith('.log.gz'));
    let total = 0;
    const hours = new Set<string>();
    for (const f of files) {
      const c = await countZeek(join(dir, f));
      total += c.rows;
      c.byHour.forEach((_, h) => hours.add(h));
    }
    expect(total).toBe(7550); // shared/data/README.md
    const first = [...hours].sort()[0];
    const last = [...hours].sort().at(-1)!;
    const wh = join(tmp.dir, 'wh');
    const r = await runCli(['build', 'pair_counts', '--from', `${first}:00`, '--to', `${last}:59:59`, '--raw', join(dir, '*.log.gz'),
      '--preset', 'zeek_conn', '--warehouse', wh, '--jobspecs', join(REPO, 'jobspecs'), '--log-format', 'json']);
    expect([0, 3]).toContain(r.code); // a plain glob: hours outside the data are gaps
    const manifests = readdirSync(wh, { recursive: true }).map(String).filter((f) => f.endsWith('_manifest.json'));
    expect(manifests.length).toBeGreaterThan(0);
    const { readFileSync } = await import('node:fs');
    let placed = 0;
    let kept = 0;
    let unplaced = 0;
    for (const m of manifests) {
      const j = JSON.parse(readFileSync(join(wh, m), 'utf8'));
      placed += j.dq.rows_read;
      kept += j.dq.rows_kept;
      unplaced = j.notes.run_dq_unplaced.rows_read ?? 0; // the same run-level block in every manifest
    }
    // nothing is silently lost: rows read into batches + rows no batch could take = every record
    expect(placed + unplaced).toBe(total);
    expect(kept).toBeGreaterThan(total * 0.9);
  });

  it('missing-host: a scanned internet-facing host shows up as a heavy inbound target', async () => {
    const dir = join(DATA, 'zeek-rita-missing-host', '2024-04-19');
    const wh = join(tmp.dir, 'wh2');
    const r = await runCli(['build', 'delta', '--from', '2024-04-19T00:00', '--to', '2024-04-19T03:00', '--raw', join(dir, 'conn.0[0-2]*.log.gz'),
      '--preset', 'zeek_conn', '--internal-networks', 'all', '--warehouse', wh, '--jobspecs', join(REPO, 'jobspecs'), '--log-format', 'json']);
    expect(r.code).toBe(0);
    const { readFileSync } = await import('node:fs');
    const manifests = readdirSync(wh, { recursive: true }).map(String).filter((f) => f.endsWith('_manifest.json'));
    expect(manifests).toHaveLength(12);
    const rows = manifests.reduce((a, m) => a + JSON.parse(readFileSync(join(wh, m), 'utf8')).row_count, 0);
    expect(rows).toBeGreaterThan(100); // ~15k distinct scanning sources over 72 h, as hosts in both roles
  });
});
