/**
 * The whole-day nightly with FG-B and FG-C (JobSpec `baseline_schedule:
 * daily`): `run nightly --date D` on top of one day of history commits FG-B
 * for reference D and FG-C for D's 96 batches, with the same values as
 * `build fg-c --date D --upstream` from the same history; a second run
 * changes nothing.
 *
 * Shrunk JobSpecs (writeTestJobSpecs) keep this to ~70 CPU-seconds: FG-C's
 * cost is mostly per pass and per metric, not per host.
 */
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FG_B_TABLES } from '../../src/transforms/columns.ts';
import { baselinePartition } from '../../src/storage/layout.ts';
import { LocalWarehouse } from '../../src/storage/local.ts';
import { runCli } from '../support/cli.ts';
import { tempDir } from '../support/context.ts';
import { HOSTS, cliArgs, datasetRows, events, orphans, sameRows, spawnCli, writeRawFixture, writeTestJobSpecs, type CliResult, type RawFixture } from './fixture.ts';

const HISTORY = '2026-03-01';
const D = '2026-03-02';
const RAW_STEP = 'delta+delta_peers+pair_counts';

const tmp = tempDir('ndr-whole-day-');
const specs = writeTestJobSpecs(join(tmp.dir, 'specs'), 'daily');
const whHistory = join(tmp.dir, 'wh-history');
const whNightly = join(tmp.dir, 'wh-nightly');
const whBuild = join(tmp.dir, 'wh-build');
let fx: RawFixture;
let nightly: Awaited<ReturnType<typeof runCli>>;
let built: CliResult;

/** Wide FG-C files are slow to read: each dataset of each warehouse is read once. */
const rowsCache = new Map<string, ReturnType<typeof datasetRows>>();
function rowsOf(wh: string, ds: string) {
  const key = `${wh} ${ds}`;
  if (!rowsCache.has(key)) rowsCache.set(key, datasetRows(wh, ds));
  return rowsCache.get(key)!;
}

const args = (wh: string) => [...cliArgs(wh, fx.uri, specs), '--log-format', 'json'];
const runIdOf = (stdout: string) => events(stdout).find((e) => e.event === 'run_started')!.run_id as string;
const steps = (stdout: string) => events(stdout).filter((e) => e.event === 'step');

beforeAll(async () => {
  const t0 = Date.now();
  fx = await writeRawFixture(join(tmp.dir, 'fx'), [HISTORY, D]);
  // One day of raw input and FG-A before D: what the 1-day FG-B horizon of reference D reads.
  const history = await runCli(['run', 'nightly', '--date', HISTORY, '--skip', 'fg-b,fg-c', ...args(whHistory)]);
  expect(history.stderr).toBe('');
  expect(history.code).toBe(0);
  const t1 = Date.now();
  cpSync(whHistory, whNightly, { recursive: true });
  cpSync(whHistory, whBuild, { recursive: true });
  // The build path in a child process while the nightly runs here: two cores, less waiting.
  const build = spawnCli(['build', 'fg-c', '--date', D, '--upstream', ...args(whBuild)]);
  nightly = await runCli(['run', 'nightly', '--date', D, ...args(whNightly)]);
  const t2 = Date.now();
  built = await build.done;
  console.info(`whole day: history ${((t1 - t0) / 1000).toFixed(1)} s, nightly ${((t2 - t1) / 1000).toFixed(1)} s, build path ${((Date.now() - t1) / 1000).toFixed(1)} s`);
}, 300_000);
afterAll(() => tmp.cleanup());

describe('run nightly --date D with baseline_schedule daily', () => {
  it('exits 0 after raw, FG-A, FG-B (reference D, due today) and FG-C all committed', () => {
    expect(nightly.stderr).toBe('');
    expect(nightly.code).toBe(0);
    expect(steps(nightly.stdout).map((s) => `${s.dataset} ${s.partition} ${s.status} ${s.committed}`)).toEqual([
      `${RAW_STEP} dt=${D} committed 288`,
      `fg_a dt=${D} committed 96`,
      `fg_b reference_date=${D} committed ${FG_B_TABLES.length}`,
      `fg_c dt=${D} committed 96`,
    ]);
    const schedule = events(nightly.stdout).find((e) => e.event === 'fg_b_schedule')!;
    expect(schedule.msg).toBe(`baseline_schedule daily: FG-B reference ${D} for ${D} (due today)`);
    expect(events(nightly.stdout).at(-1)).toMatchObject({ event: 'run_finished', status: 'ok', exit_code: 0 });
  });

  it('commits FG-B for reference D over the history day, and FG-C for every batch of D against it', async () => {
    const runId = runIdOf(nightly.stdout);
    const wh = new LocalWarehouse(whNightly);
    for (const table of FG_B_TABLES) {
      const parts = await wh.listCommitted(`fg_b/${table}`);
      expect(parts, table).toEqual([baselinePartition(table, 'v1', '1d', D)]);
      expect((await wh.readManifest(parts[0]))!.run_id, table).toBe(runId);
    }
    const publication = JSON.parse(readFileSync(join(whNightly, `fg_b/_publication/feature_spec_version=v1/baseline_horizon=1d/reference_date=${D}.json`), 'utf8'));
    expect(publication).toMatchObject({ baseline_start_ts: `${HISTORY}T00:00:00Z`, baseline_end_ts: `${D}T00:00:00Z`, run_id: runId });
    // FG-A rows ending in [HISTORY, D) come from batches HISTORY-15min .. D-30min: the first is before the history.
    expect(publication.input_coverage).toMatchObject({ fg_a_batches_found: 95, fg_a_batches_expected: 96 });

    const hostBaseline = await rowsOf(whNightly, 'fg_b/host');
    // The fixture's hosts, and its one internal peer that only receives (role inbound).
    expect(new Set(hostBaseline.rows.map((r) => r.host_ip))).toEqual(new Set([...Array.from({ length: HOSTS }, (_, i) => `10.0.0.${i + 1}`), '192.168.1.20']));
    expect(hostBaseline.rows.every((r) => Number(r.sessions_cnt_support_count) > 0 && r.sessions_cnt_median !== null)).toBe(true);

    const fgC = await rowsOf(whNightly, 'fg_c');
    expect(fgC.partitions).toHaveLength(96);
    expect(fgC.partitions.every((p) => p.includes(`/baseline_horizon=1d/dt=${D}/`))).toBe(true);
    const manifests = [...(await wh.readManifests(fgC.partitions)).values()];
    expect(new Set(manifests.map((m) => m.run_id))).toEqual(new Set([runId]));
    // Every FG-A row of D is scored, against reference D.
    const fgAParts = (await wh.listCommitted('fg_a')).filter((p) => p.includes(`/dt=${D}/`));
    expect(fgAParts).toHaveLength(96);
    expect(fgC.rows.length).toBe([...(await wh.readManifests(fgAParts)).values()].reduce((n, m) => n + m.row_count, 0));
    expect(new Set(fgC.rows.map((r) => r.baseline_reference_date))).toEqual(new Set([D]));
    expect(fgC.rows.filter((r) => r.baseline_source === 'host').length).toBeGreaterThan(fgC.rows.length / 2);
    expect(fgC.rows.some((r) => r.baseline_source === 'none')).toBe(false);
    // The fixture repeats its session counts every day (z = 0) but not its byte counts.
    expect(fgC.rows.every((r) => r.sessions_cnt_z_mad === 0)).toBe(true);
    expect(fgC.rows.filter((r) => Number.isFinite(r.bytes_src_sum_z_mad) && r.bytes_src_sum_z_mad !== 0).length).toBeGreaterThan(fgC.rows.length / 2);
    expect(orphans(whNightly)).toEqual([]);
  });

  it('FG-B and FG-C hold the same values as `build fg-c --date D --upstream`', async () => {
    expect(built.stderr).toBe('');
    expect(built.code).toBe(0);
    // Everything the build committed, upstream included, was under its locks.
    expect(events(built.stdout).filter((e) => e.event === 'lock_scope')).toEqual([]);
    for (const ds of [...FG_B_TABLES.map((t) => `fg_b/${t}`), 'fg_c']) {
      const a = await rowsOf(whNightly, ds);
      const b = await rowsOf(whBuild, ds);
      expect(a.partitions, ds).toEqual(b.partitions);
      expect(a.rows.length, ds).toBeGreaterThan(0);
      expect(sameRows(a.rows, b.rows), ds).toBeUndefined();
    }
  });

  it('a second run is a no-op: every step up to date, nothing rewritten', async () => {
    const wh = new LocalWarehouse(whNightly);
    const manifestsOf = async () => [...(await wh.readManifests(await wh.listCommitted('fg_c'))).values()];
    const before = await manifestsOf();
    const again = await runCli(['run', 'nightly', '--date', D, ...args(whNightly)]);
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    expect(steps(again.stdout).map((s) => `${s.dataset} ${s.status} ${s.committed} ${s.up_to_date}`)).toEqual([
      `${RAW_STEP} up_to_date 0 288`,
      'fg_a up_to_date 0 96',
      `fg_b up_to_date 0 ${FG_B_TABLES.length}`,
      'fg_c up_to_date 0 96',
    ]);
    expect(events(again.stdout).find((e) => e.event === 'summary')!.counts).toEqual({ up_to_date: 288 + 96 + FG_B_TABLES.length + 96 });
    // Its time is the bench's business (target 5 s); here "no-op" means nothing committed or rewritten.
    // The same manifests (files, run ids, commit times): nothing was rewritten.
    expect(await manifestsOf()).toEqual(before);
    expect(new Set(before.map((m) => m.run_id))).toEqual(new Set([runIdOf(nightly.stdout)]));
  });
});
