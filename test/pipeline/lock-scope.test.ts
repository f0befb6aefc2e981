/**
 * The locks `ndr-sql build` takes (buildLocks): the keys `run`'s steps take,
 * for everything the build may write, upstream included; and the lock each
 * kind of partition falls under (lockOfPartition).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { batchesOfDay, parseDay } from '../../src/engine/batches.ts';
import type { JobSpecs } from '../../src/config/jobspec-schemas.ts';
import { FileLockManager } from '../../src/pipeline/lock-file.ts';
import { acquireAll } from '../../src/pipeline/lock.ts';
import { LockBusyError } from '../../src/errors/index.ts';
import { buildLocks, lockOfPartition } from '../../src/pipeline/nightly.ts';
import { baselinePartition, batchPartition } from '../../src/storage/layout.ts';
import { tempDir, testContext } from '../support/context.ts';

const tmp = tempDir('ndr-lock-scope-');
afterAll(() => tmp.cleanup());

const D = '2026-03-02';
const shrink = (schedule: 'daily' | 'monthly') => (s: JobSpecs) => {
  s.project_parameters.baseline_schedule = schedule;
  s.fg_a_builder.windows = { w_15m: 15, w_1h: 60 };
  s.fg_b_builder.horizons = { '1d': { days: 1, tail: 0, head: 0 } };
  s.fg_a_builder.lookback_days = 3;
};
const keys = (locks: { dataset: string; range: string }[]) => locks.map((l) => `${l.dataset} ${l.range}`).sort();
const raw = (day: string) => ['delta', 'delta_peers', 'pair_counts'].map((d) => `${d} dt=${day}`);

describe('buildLocks', () => {
  it('build fg-c --date D --upstream (daily, 1-day horizon, 1 h windows): raw and FG-A of D and the two days its inputs reach, FG-B of D, FG-C of D', async () => {
    const ctx = await testContext({ warehouse: `${tmp.dir}/wh-daily` }, shrink('daily'));
    try {
      const locks = await buildLocks(ctx, { dataset: 'fg_c', batches: batchesOfDay(parseDay(D)), upstream: true });
      expect(keys(locks)).toEqual(
        [
          // D's first 1 h windows read D-1 23:15..23:45; FG-B's horizon reads FG-A of D-2 23:45 .. D-1 23:30, whose windows reach into D-2.
          // The novelty look-back (3 days before each FG-A day's first window) of D, D-1 and D-2,
          // none of them complete in this empty warehouse, reaches back to 2026-02-24.
          ...['2026-02-24', '2026-02-25', '2026-02-26', '2026-02-27'].flatMap(raw),
          ...raw('2026-02-28'),
          ...raw('2026-03-01'),
          ...raw(D),
          'fg_a dt=2026-02-28',
          'fg_a dt=2026-03-01',
          `fg_a dt=${D}`,
          'delta_peers_daily all',
          `fg_b reference_date=${D}`,
          `fg_c dt=${D}`,
        ].sort(),
      );
      expect(keys(await buildLocks(ctx, { dataset: 'fg_c', batches: batchesOfDay(parseDay(D)), upstream: false }))).toEqual([`fg_c dt=${D}`]);
    } finally {
      ctx.session.close();
    }
  });

  it('a look-back day whose delta_peers are all committed is not locked (nor rebuilt) by --upstream', async () => {
    const ctx = await testContext({ warehouse: `${tmp.dir}/wh-complete` }, shrink('daily'));
    try {
      // Every batch of 2026-02-25 committed (a manifest per partition is what a listing sees); 2026-02-26 only half.
      for (const [day, n] of [['2026-02-25', 96], ['2026-02-26', 48]] as const)
        for (const b of batchesOfDay(parseDay(day)).slice(0, n)) {
          const dir = join(tmp.dir, 'wh-complete', batchPartition('delta_peers', 'v1', b));
          mkdirSync(dir, { recursive: true });
          writeFileSync(join(dir, '_manifest.json'), '{}');
        }
      const locked = keys(await buildLocks(ctx, { dataset: 'fg_a', batches: batchesOfDay(parseDay('2026-02-28')), upstream: true }));
      // Look-back of 2026-02-28: 2026-02-24 .. 2026-02-27; the complete day is left out, the half day is not.
      expect(locked.filter((k) => k.startsWith('delta_peers dt='))).toEqual(
        ['2026-02-24', '2026-02-26', '2026-02-27', '2026-02-28'].map((d) => `delta_peers dt=${d}`),
      );
    } finally {
      ctx.session.close();
    }
  });

  it('monthly: FG-C upstream locks the 1st\'s FG-B; one raw dataset locks only itself', async () => {
    const ctx = await testContext({ warehouse: `${tmp.dir}/wh-monthly` }, shrink('monthly'));
    try {
      const fgC = keys(await buildLocks(ctx, { dataset: 'fg_c', batches: batchesOfDay(parseDay(D)), upstream: true }));
      expect(fgC.filter((k) => k.startsWith('fg_b'))).toEqual(['fg_b reference_date=2026-03-01']);
      expect(fgC.filter((k) => k.startsWith('fg_a'))).toEqual(['fg_a dt=2026-02-27', 'fg_a dt=2026-02-28', `fg_a dt=${D}`]);
      expect(keys(await buildLocks(ctx, { dataset: 'delta', batches: batchesOfDay(parseDay(D)), upstream: false }))).toEqual([`delta dt=${D}`]);
      expect(keys(await buildLocks(ctx, { dataset: 'delta', rawDatasets: ['delta', 'pair_counts'], batches: batchesOfDay(parseDay(D)), upstream: false }))).toEqual([`delta dt=${D}`, `pair_counts dt=${D}`]);
      expect(keys(await buildLocks(ctx, { dataset: 'fg_b', batches: [], referenceMs: parseDay('2026-03-01'), upstream: false }))).toEqual(['fg_b reference_date=2026-03-01']);
    } finally {
      ctx.session.close();
    }
  });
});

describe('lockOfPartition', () => {
  it('maps every kind of partition to the lock of its day, reference date or look-back', () => {
    const b = { start: Date.parse(`${D}T12:15:00Z`) };
    expect(lockOfPartition(batchPartition('delta_peers', 'v1', b))).toEqual({ dataset: 'delta_peers', range: `dt=${D}` });
    expect(lockOfPartition(batchPartition('fg_c', 'v1', b, '7d'))).toEqual({ dataset: 'fg_c', range: `dt=${D}` });
    expect(lockOfPartition(baselinePartition('pair_host', 'v1', '30d', '2026-03-01'))).toEqual({ dataset: 'fg_b', range: 'reference_date=2026-03-01' });
    expect(lockOfPartition(`delta_peers_daily/feature_spec_version=v1/dt=${D}`)).toEqual({ dataset: 'delta_peers_daily', range: 'all' });
  });
});

describe('acquireAll', () => {
  it('all or none: a busy key fails the call and releases the keys it took', async () => {
    const m = new FileLockManager(`${tmp.dir}/wh-all`);
    const opts = { waitMs: 0, leaseMs: 10_000, owner: 'test' };
    const [b] = await acquireAll(m, ['b'], { ...opts, owner: 'holder of b' });
    await expect(acquireAll(m, ['c', 'a', 'b', 'a'], opts)).rejects.toBeInstanceOf(LockBusyError);
    // a (sorted before b) was taken and given back; c (after b) was never taken.
    expect(await m.holder('a')).toBeUndefined();
    expect(await m.holder('c')).toBeUndefined();
    await b.release();
    const all = await acquireAll(m, ['c', 'a', 'b', 'a'], opts);
    expect(all.map((l) => l.key)).toEqual(['a', 'b', 'c']);
    for (const l of all) await l.release();
  });
});
