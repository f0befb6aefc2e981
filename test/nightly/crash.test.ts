/**
 * Crash safety and concurrency of `ndr-sql run nightly`, with real processes:
 * - kill -9 mid-run, then a rerun: the same result as a clean run, no orphan
 *   visible files, the dead run's locks taken over (and logged), no ledger
 *   entry left `running`;
 * - two concurrent runs of the same day: one set of partitions (written by
 *   one run only), the other exits 3 because the lock is busy.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDay } from '../../src/engine/batches.ts';
import { LocalLedger } from '../../src/pipeline/ledger-local.ts';
import { FileLockManager } from '../../src/pipeline/lock-file.ts';
import { Tracker, reportExitCode, runNightly } from '../../src/pipeline/nightly.ts';
import { LocalWarehouse } from '../../src/storage/local.ts';
import { tempDir, testContext } from '../support/context.ts';
import { FG_A_READY, cliArgs, datasetRows, events, orphans, runCli, sameRows, spawnCli, writeRawFixture, type RawFixture } from './fixture.ts';

const DAYS = ['2026-03-01', '2026-03-02'];
const SKIP = FG_A_READY ? 'fg-b,fg-c' : 'fg-a';
const DATASETS = ['delta', 'delta_peers', 'pair_counts', ...(FG_A_READY ? ['fg_a'] : [])];

const tmp = tempDir('ndr-crash-');
let fx: RawFixture;
const whClean = join(tmp.dir, 'wh-clean');

beforeAll(async () => {
  fx = await writeRawFixture(join(tmp.dir, 'fx'), DAYS);
  // The clean reference: the same nightly, in-process, never interrupted.
  const ctx = await testContext({ warehouse: whClean, raw: fx.uri, rawFormat: 'parquet', preset: 'paloalto' });
  const ledger = LocalLedger.forWarehouse(whClean);
  const tracker = new Tracker(ctx, { ledger, locks: new FileLockManager(whClean), lockWaitMs: 0, owner: 'clean reference' });
  try {
    const report = await runNightly(ctx, tracker, DAYS.map((d) => parseDay(d)), { skip: SKIP.split(',') });
    expect(reportExitCode(report)).toBe(0);
  } finally {
    await tracker.close();
    ctx.session.close();
    await ledger.close();
  }
}, 600_000);
afterAll(() => tmp.cleanup());

/** First committed manifest anywhere under the warehouse's dataset directories. */
function anyManifest(root: string): boolean {
  for (const ds of ['delta', 'delta_peers', 'pair_counts']) {
    const dir = join(root, ds);
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir, { recursive: true }) as string[]) if (f.endsWith('_manifest.json')) return true;
  }
  return false;
}

async function expectSameAsClean(root: string) {
  for (const ds of DATASETS) {
    const a = await datasetRows(root, ds);
    const b = await datasetRows(whClean, ds);
    expect(a.partitions.length, ds).toBe(2 * 96);
    expect(a.partitions, ds).toEqual(b.partitions);
    expect(sameRows(a.rows, b.rows), ds).toBeUndefined();
  }
}

describe('kill -9 mid-run, then rerun', () => {
  const wh = join(tmp.dir, 'wh-killed');
  let killedAfter = 0;

  it('the rerun completes, takes over the dead run\'s locks, equals a clean run, leaves no orphans', async () => {
    const args = ['run', 'nightly', '--from', DAYS[0], '--to', DAYS[1], '--skip', SKIP, ...cliArgs(wh, fx.uri)];
    const { child, done } = spawnCli(args);
    const t0 = Date.now();
    await new Promise<void>((resolve, reject) => {
      const poll = setInterval(() => {
        if (anyManifest(wh)) {
          clearInterval(poll);
          killedAfter = (Date.now() - t0) / 1000;
          child.kill('SIGKILL');
          resolve();
        } else if (child.exitCode !== null) {
          clearInterval(poll);
          reject(new Error(`nightly finished before it could be killed (exit ${child.exitCode})`));
        }
      }, 20);
    });
    const killed = await done;
    expect(killed.signal).toBe('SIGKILL');
    // The killed run left its lock files behind (no exit hook ran) and committed only part of the day.
    expect(readdirSync(join(wh, '_locks')).filter((f) => f.endsWith('.lock')).length).toBeGreaterThan(0);
    const partial = await new LocalWarehouse(wh).listCommitted('delta');
    expect(partial.length).toBeLessThan(2 * 96);

    const rerun = await runCli(args);
    expect(rerun.stderr).toBe('');
    expect(rerun.code).toBe(0);
    const ev = events(rerun.stdout);
    expect(ev.filter((e) => e.event === 'lock_takeover').map((e) => e.reason)).toContain('dead_pid');
    await expectSameAsClean(wh);
    expect(orphans(wh)).toEqual([]);
    // Locks released on exit; nothing left running in the ledger.
    expect(readdirSync(join(wh, '_locks')).filter((f) => f.endsWith('.lock'))).toEqual([]);
    const ledger = LocalLedger.forWarehouse(wh);
    try {
      const entries = await ledger.list({ project: 'demo', version: 'v1' });
      expect(entries.filter((e) => e.status !== 'committed')).toEqual([]);
      expect(entries.length).toBe(2 * 96 * DATASETS.length);
    } finally {
      await ledger.close();
    }
    console.info(`killed after ${killedAfter.toFixed(1)} s with ${partial.length} delta partitions committed`);
  }, 600_000);
});

describe('two concurrent nightly runs of the same day', () => {
  const wh = join(tmp.dir, 'wh-concurrent');

  it('produce one set of partitions; one run exits 3 (lock busy)', async () => {
    const args = ['run', 'nightly', '--from', DAYS[0], '--to', DAYS[1], '--skip', SKIP, ...cliArgs(wh, fx.uri)];
    const [a, b] = await Promise.all([runCli(args), runCli(args)]);
    const codes = [a.code, b.code].sort();
    expect(codes).toEqual([0, 3]);
    const [winner, loser] = a.code === 0 ? [a, b] : [b, a];
    expect(loser.stderr).toMatch(/^ndr-sql: error: lock .*nightly#dt=2026-03-01 is held by ndr-sql run nightly/);
    expect(events(loser.stdout).at(-1)).toMatchObject({ event: 'run_finished', status: 'lock_busy', exit_code: 3 });
    // The loser wrote nothing: every manifest carries the winner's run id.
    const runId = events(winner.stdout).find((e) => e.event === 'run_started')!.run_id as string;
    const loserStarted = events(loser.stdout).find((e) => e.event === 'run_started');
    const warehouse = new LocalWarehouse(wh);
    for (const ds of DATASETS) {
      const parts = await warehouse.listCommitted(ds);
      const manifests = [...(await warehouse.readManifests(parts)).values()];
      expect(new Set(manifests.map((m) => m.run_id)), ds).toEqual(new Set([runId]));
      if (loserStarted) expect(manifests.some((m) => m.run_id === loserStarted.run_id)).toBe(false);
    }
    await expectSameAsClean(wh);
    expect(orphans(wh)).toEqual([]);
  }, 600_000);
});
