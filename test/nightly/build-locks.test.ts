/**
 * `ndr-sql build` takes the partition locks `run` takes: a build whose
 * partitions are locked exits 3 having written nothing (or waits
 * `--lock-wait` and then builds); two concurrent builds of the same day
 * leave one set of partitions, written by one of them.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileLockManager } from '../../src/pipeline/lock-file.ts';
import { lockKey } from '../../src/pipeline/lock.ts';
import { LocalWarehouse } from '../../src/storage/local.ts';
import { runCli } from '../support/cli.ts';
import { tempDir } from '../support/context.ts';
import { cliArgs, events, orphans, spawnCli, writeRawFixture, type RawFixture } from './fixture.ts';

const DAY = '2026-03-01';
const RAW = 'delta,delta_peers,pair_counts';
const tmp = tempDir('ndr-build-locks-');
let fx: RawFixture;

beforeAll(async () => {
  fx = await writeRawFixture(join(tmp.dir, 'fx'), [DAY]);
}, 120_000);
afterAll(() => tmp.cleanup());

const buildArgs = (wh: string, ...extra: string[]) => ['build', RAW, '--date', DAY, ...cliArgs(wh, fx.uri), '--log-format', 'json', ...extra];
const lockFiles = (wh: string) => readdirSync(join(wh, '_locks')).filter((f) => f.endsWith('.lock'));

async function runIds(wh: string): Promise<Map<string, Set<string>>> {
  const w = new LocalWarehouse(wh);
  const out = new Map<string, Set<string>>();
  for (const ds of ['delta', 'delta_peers', 'pair_counts']) {
    const manifests = [...(await w.readManifests(await w.listCommitted(ds))).values()];
    out.set(ds, new Set(manifests.map((m) => m.run_id)));
    expect(manifests.length, ds).toBe(96);
  }
  return out;
}

describe('build under a lock held by another run', () => {
  it('exits 3 at once, naming the holder, and writes nothing; with --lock-wait it builds once the lock is free', async () => {
    const wh = join(tmp.dir, 'wh-held');
    // As `run nightly` holds it during its raw step.
    const held = await new FileLockManager(wh).acquire(lockKey('demo', 'v1', 'pair_counts', `dt=${DAY}`), { waitMs: 0, leaseMs: 60_000, owner: 'ndr-sql run nightly 2026-03-01' });
    try {
      const busy = await runCli(buildArgs(wh));
      expect(busy.code).toBe(3);
      expect(busy.stderr).toMatch(/^ndr-sql: error: lock demo#v1#pair_counts#dt=2026-03-01 is held by ndr-sql run nightly 2026-03-01 \(pid \d+ on .*\); gave up after waiting 0 ms\n$/);
      expect(await new LocalWarehouse(wh).listCommitted('delta')).toEqual([]);
      // The locks it took before the busy one (delta, delta_peers) were given back.
      expect(lockFiles(wh)).toHaveLength(1);

      const t0 = Date.now();
      setTimeout(() => void held.release(), 500);
      const waited = await runCli(buildArgs(wh, '--lock-wait', '60'));
      expect(waited.stderr).toBe('');
      expect(waited.code).toBe(0);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(500);
      expect(events(waited.stdout).find((e) => e.event === 'step')).toMatchObject({ committed: 288, skipped_up_to_date: 0 });
      expect(lockFiles(wh)).toEqual([]);
    } finally {
      await held.release();
    }
  });
});

describe('two concurrent builds of the same day', () => {
  it('one builds every partition, the other waits and finds them up to date', async () => {
    const wh = join(tmp.dir, 'wh-concurrent');
    const [a, b] = await Promise.all([spawnCli(buildArgs(wh, '--lock-wait', '120')).done, spawnCli(buildArgs(wh, '--lock-wait', '120')).done]);
    expect([a.stderr, b.stderr]).toEqual(['', '']);
    expect([a.code, b.code]).toEqual([0, 0]);
    const step = (out: string) => events(out).find((e) => e.event === 'step')!;
    expect([step(a.stdout), step(b.stdout)].map((s) => `${s.committed}/${s.skipped_up_to_date}`).sort()).toEqual(['0/288', '288/0']);
    // One writer: every manifest of every dataset carries the same run id.
    const ids = await runIds(wh);
    expect(new Set([...ids.values()].flatMap((s) => [...s]))).toHaveProperty('size', 1);
    expect(orphans(wh)).toEqual([]);
    expect(lockFiles(wh)).toEqual([]);
  });
});
