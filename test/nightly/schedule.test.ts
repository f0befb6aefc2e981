/**
 * `baseline_schedule: monthly`: a nightly on the 2nd does not build FG-B for
 * the 2nd; it finds the 1st's baseline up to date, leaves it as it was, and
 * scores the day's FG-C against it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FG_B_TABLES } from '../../src/transforms/columns.ts';
import { baselinePartition } from '../../src/storage/layout.ts';
import { LocalWarehouse } from '../../src/storage/local.ts';
import type { Manifest } from '../../src/storage/manifest.ts';
import { runCli } from '../support/cli.ts';
import { tempDir } from '../support/context.ts';
import { cliArgs, datasetRows, events, writeRawFixture, writeTestJobSpecs, type RawFixture } from './fixture.ts';

const FIRST = '2026-03-01';
const D = '2026-03-02';

const tmp = tempDir('ndr-schedule-');
const specs = writeTestJobSpecs(join(tmp.dir, 'specs'), 'monthly');
const wh = join(tmp.dir, 'wh');
let fx: RawFixture;
let baselineBefore: Manifest[];
let nightly: Awaited<ReturnType<typeof runCli>>;

const args = () => [...cliArgs(wh, fx.uri, specs), '--log-format', 'json'];
const fgBManifests = async () => {
  const w = new LocalWarehouse(wh);
  const parts = (await Promise.all(FG_B_TABLES.map((t) => w.listCommitted(`fg_b/${t}`)))).flat();
  return [...(await w.readManifests(parts)).values()].sort((a, b) => a.partition.localeCompare(b.partition));
};

beforeAll(async () => {
  fx = await writeRawFixture(join(tmp.dir, 'fx'), ['2026-02-28', FIRST, D]);
  // The month's baseline, as the nightly of the 1st (or this build) leaves it: reference the 1st, over February 28.
  const fgB = await runCli(['build', 'fg-b', '--date', FIRST, '--upstream', ...args()]);
  expect(fgB.stderr).toBe('');
  expect(fgB.code).toBe(0);
  baselineBefore = await fgBManifests();
  nightly = await runCli(['run', 'nightly', '--date', D, ...args()]);
}, 300_000);
afterAll(() => tmp.cleanup());

describe('run nightly on the 2nd with baseline_schedule monthly', () => {
  it('does not rebuild FG-B: the step targets the 1st and finds it up to date', () => {
    expect(nightly.stderr).toBe('');
    expect(nightly.code).toBe(0);
    const ev = events(nightly.stdout);
    expect(ev.find((e) => e.event === 'fg_b_schedule')!.msg).toBe(`baseline_schedule monthly: FG-B reference ${FIRST} for ${D} (rebuilt only if missing or stale)`);
    expect(ev.filter((e) => e.event === 'step').map((s) => `${s.dataset} ${s.partition} ${s.status} ${s.committed}/${s.up_to_date}`)).toEqual([
      `delta+delta_peers+pair_counts dt=${D} committed 288/0`,
      // 96 batches, and the look-back compaction of Feb 28 (the FG-B upstream built its FG-A only up to 23:30).
      `fg_a dt=${D} committed 97/0`,
      `fg_b reference_date=${FIRST} up_to_date 0/${FG_B_TABLES.length}`,
      `fg_c dt=${D} committed 96/0`,
    ]);
  });

  it('commits FG-A for every batch of the 2nd', async () => {
    const w = new LocalWarehouse(wh);
    expect((await w.listCommitted('fg_a')).filter((p) => p.includes(`/dt=${D}/`))).toHaveLength(96);
    expect(await w.listCommitted('delta_peers_daily')).toEqual(['delta_peers_daily/feature_spec_version=v1/dt=2026-02-28']);
  });

  it('leaves the 1st\'s baseline as it was and writes none for the 2nd', async () => {
    expect(baselineBefore.map((m) => m.partition)).toEqual(FG_B_TABLES.map((t) => baselinePartition(t, 'v1', '1d', FIRST)).sort());
    expect(await fgBManifests()).toEqual(baselineBefore);
    expect(existsSync(join(wh, `fg_b/_publication/feature_spec_version=v1/baseline_horizon=1d/reference_date=${D}.json`))).toBe(false);
  });

  it('scores the 2nd\'s FG-C against the 1st\'s baseline', async () => {
    const fgC = await datasetRows(wh, 'fg_c');
    expect(fgC.partitions).toHaveLength(96);
    expect(fgC.rows.length).toBeGreaterThan(0);
    expect(new Set(fgC.rows.map((r) => `${r.dt} ${r.baseline_reference_date}`))).toEqual(new Set([`${D} ${FIRST}`]));
    expect(fgC.rows.some((r) => r.baseline_source === 'host')).toBe(true);
    const manifests = [...(await new LocalWarehouse(wh).readManifests(fgC.partitions)).values()];
    const baselineRun = baselineBefore[0].run_id;
    for (const m of manifests) expect(m.inputs.find((i) => i.dataset === 'fg_b'), m.partition).toEqual({ dataset: 'fg_b', partition: `1d/${FIRST}`, fingerprint: baselineRun });
  });
});
