/**
 * A day with three missing 15-minute raw batches: `run nightly` exits 3 and
 * lists them, commits nothing for them (no empty successes), records them as
 * missing_input; `status` lists exactly those gaps. When a late file
 * arrives, the next run builds that batch and only the others stay gaps.
 */
import { copyFileSync, mkdirSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchRuns, batchesOfDay, isoZ, parseDay } from '../../src/engine/batches.ts';
import { LocalLedger } from '../../src/pipeline/ledger-local.ts';
import { FileLockManager } from '../../src/pipeline/lock-file.ts';
import { Tracker, reportExitCode, runNightly } from '../../src/pipeline/nightly.ts';
import { collectStatus, renderStatus } from '../../src/cli/commands/status.ts';
import { batchPartition } from '../../src/storage/layout.ts';
import { LocalWarehouse } from '../../src/storage/local.ts';
import { tempDir, testContext } from '../support/context.ts';
import { FG_A_READY, cliArgs, events, orphans, runCli, writeRawFixture, type RawFixture } from './fixture.ts';

const DAY = '2026-03-01';
const SKIP = FG_A_READY ? 'fg-b,fg-c' : 'fg-a';
const RAW_DS = ['delta', 'delta_peers', 'pair_counts'];
const GAPS = ['2026-03-01T05:15:00Z', '2026-03-01T10:30:00Z', '2026-03-01T23:45:00Z'];

const tmp = tempDir('ndr-gaps-');
let fx: RawFixture;
const wh = join(tmp.dir, 'wh');
const held = join(tmp.dir, 'held-back');
const fileOf = (iso: string) => join(fx.dir, `dt=${iso.slice(0, 10)}`, `hh=${iso.slice(11, 13)}`, `mm=${iso.slice(14, 16)}`, 'data_0.parquet');

beforeAll(async () => {
  fx = await writeRawFixture(join(tmp.dir, 'fx'), [DAY], { perBatch: true });
  // Three batches whose raw input "never arrived": moved aside.
  for (const g of GAPS) {
    const to = join(held, g.replaceAll(':', ''));
    mkdirSync(dirname(to), { recursive: true });
    renameSync(fileOf(g), to);
  }
}, 120_000);
afterAll(() => tmp.cleanup());

describe('gaps for people', () => {
  it('are runs of consecutive batches: a missing day is one line, not 96', () => {
    const at = (t: string) => ({ start: Date.parse(t) });
    expect(batchRuns(batchesOfDay(parseDay('2026-11-25')))).toEqual(['2026-11-25T00:00:00Z..2026-11-25T23:45:00Z (96 batches)']);
    // Unsorted and repeated input; single batches stay single timestamps.
    expect(batchRuns([at('2026-03-01T10:45:00Z'), at('2026-03-01T05:15:00Z'), at('2026-03-01T10:30:00Z'), at('2026-03-01T10:30:00Z'), at('2026-03-01T11:00:00Z')])).toEqual([
      '2026-03-01T05:15:00Z',
      '2026-03-01T10:30:00Z..2026-03-01T11:00:00Z (3 batches)',
    ]);
    expect(batchRuns([])).toEqual([]);
  });
});

describe('a day with three missing raw batches', () => {
  let nightly: Awaited<ReturnType<typeof runCli>>;

  it('run nightly exits 3 and lists exactly those batches', async () => {
    nightly = await runCli(['run', 'nightly', '--date', DAY, '--skip', SKIP, ...cliArgs(wh, fx.uri)]);
    expect(nightly.stderr).toBe('');
    expect(nightly.code).toBe(3);
    const ev = events(nightly.stdout);
    expect(ev.find((e) => e.event === 'gaps')).toMatchObject({ level: 'warn', status: 'missing_input', batches: GAPS, msg: `3 batch(es) have no raw input (not built, exit 3): ${GAPS.join(', ')}` });
    const raw = ev.find((e) => e.event === 'step' && e.dataset === 'delta+delta_peers+pair_counts')!;
    expect(raw).toMatchObject({ status: 'partial', committed: 93 * 3, missing_input: 3 * 3 });
    expect(ev.at(-1)).toMatchObject({ event: 'run_finished', exit_code: 3, status: 'input_not_ready' });
    if (FG_A_READY) {
      const fgA = ev.find((e) => e.event === 'step' && e.dataset === 'fg_a')!;
      expect(fgA).toMatchObject({ committed: 93, missing_input: 3 });
    }
  }, 600_000);

  it('commits nothing for the gaps and records them as missing_input', async () => {
    const warehouse = new LocalWarehouse(wh);
    const gapBatches = GAPS.map((g) => ({ start: Date.parse(g) }));
    const found = await warehouse.readManifests(RAW_DS.flatMap((d) => gapBatches.map((b) => batchPartition(d, 'v1', b))));
    expect(found.size).toBe(0);
    expect((await warehouse.listCommitted('delta')).length).toBe(93);
    const ledger = LocalLedger.forWarehouse(wh);
    try {
      const missing = await ledger.list({ project: 'demo', version: 'v1', status: 'missing_input' });
      const expected = [...RAW_DS, ...(FG_A_READY ? ['fg_a'] : [])].flatMap((d) => gapBatches.map((b) => batchPartition(d, 'v1', b)));
      expect(missing.map((e) => e.partition).sort()).toEqual(expected.sort());
      expect(missing.every((e) => e.attempts === 0 && e.manifest === null)).toBe(true);
    } finally {
      await ledger.close();
    }
    expect(orphans(wh)).toEqual([]);
  });

  it('status lists exactly those gaps, and per dataset 93 committed / 3 missing', async () => {
    const st = await runCli(['status', '--date', DAY, ...cliArgs(wh, fx.uri)]);
    expect(st.stderr).toBe('');
    expect(st.code).toBe(0);
    const ev = events(st.stdout);
    expect(ev.find((e) => e.event === 'gaps')).toMatchObject({ count: 3, batches: GAPS });
    for (const ds of [...RAW_DS, ...(FG_A_READY ? ['fg_a'] : [])]) {
      expect(ev.find((e) => e.event === 'status' && e.dataset === ds), ds).toMatchObject({ day: DAY, committed: 93, missing: 3, stale: 0, failed: 0, checked: true });
    }
  }, 600_000);

  it('a late file is built by the next run; a changed raw file makes its partitions stale', async () => {
    // The 10:30 file arrives late; the 05:15 file never does. An earlier batch's file is rewritten (new mtime).
    copyFileSync(join(held, GAPS[1].replaceAll(':', '')), fileOf(GAPS[1]));
    const rewritten = '2026-03-01T02:00:00Z';
    copyFileSync(fileOf(rewritten), `${fileOf(rewritten)}.tmp`);
    renameSync(`${fileOf(rewritten)}.tmp`, fileOf(rewritten));

    const ctx = await testContext({ warehouse: wh, raw: fx.uri, rawFormat: 'parquet', preset: 'paloalto' });
    const ledger = LocalLedger.forWarehouse(wh);
    try {
      ctx.dryRun = true;
      const before = await collectStatus(ctx, ledger, batchesOfDay(parseDay(DAY)));
      ctx.dryRun = false;
      expect(before.gaps.map((b) => isoZ(b.start))).toEqual([GAPS[0], GAPS[2]]);
      const delta = before.rows.find((r) => r.dataset === 'delta')!;
      expect(delta.counts).toMatchObject({ committed: 92, stale: 1, missing: 3 });
      // The stale partition says why (as `plan --verbose` does): its raw file changed.
      const stale = before.problems.filter((p) => p.dataset === 'delta' && p.status === 'stale');
      expect(stale).toEqual([
        expect.objectContaining({ partition: batchPartition('delta', 'v1', { start: Date.parse(rewritten) }), reason: `1 input changed (raw ${fileOf(rewritten)})` }),
      ]);
      expect(renderStatus(before, true)).toContain(`  stale     ${batchPartition('delta', 'v1', { start: Date.parse(rewritten) })}  (1 input changed (raw ${fileOf(rewritten)}))`);

      const tracker = new Tracker(ctx, { ledger, locks: new FileLockManager(wh), lockWaitMs: 0, owner: 'test late file' });
      const report = await runNightly(ctx, tracker, [parseDay(DAY)], { skip: SKIP.split(',') });
      expect(await tracker.close()).toBe(true);
      expect(reportExitCode(report)).toBe(3);
      expect(report.gaps.map((b) => isoZ(b.start))).toEqual([GAPS[0], GAPS[2]]);
      const raw = report.outcomes[0];
      expect(raw.committed.map((m) => m.partition).sort()).toEqual(
        RAW_DS.flatMap((d) => [batchPartition(d, 'v1', { start: Date.parse(rewritten) }), batchPartition(d, 'v1', { start: Date.parse(GAPS[1]) })]).sort(),
      );
      const e = await ledger.get({ project: 'demo', version: 'v1', dataset: 'delta', partition: batchPartition('delta', 'v1', { start: Date.parse(GAPS[1]) }) });
      expect(e).toMatchObject({ status: 'committed', attempts: 1, last_error: null });
      ctx.dryRun = true;
      const after = await collectStatus(ctx, ledger, batchesOfDay(parseDay(DAY)));
      expect(after.rows.find((r) => r.dataset === 'delta')!.counts).toMatchObject({ committed: 94, stale: 0, missing: 2 });
    } finally {
      ctx.session.close();
      await ledger.close();
    }
  }, 600_000);
});
