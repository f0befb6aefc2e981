/**
 * `ndr-sql plan` and `ndr-sql publish --target offline` driven through the CLI
 * (ARCHITECTURE.md, "Command line" and "Feature-store publish"), on a small raw
 * fixture (4 hosts, 2 UTC days) and the shrunk test JobSpecs (1d FG-B horizon,
 * daily schedule, windows w_15m/w_1h).
 *
 * plan build fg-c --date D --upstream:
 *   - on an empty warehouse: the whole chain (raw stage, fg_a, fg_b, fg_c) with
 *     per-dataset counts of missing/stale/up_to_date/no_input and, with
 *     --verbose, each partition; nothing is written;
 *   - after the raw stage, then part of FG-C (two hours, --upstream), were built:
 *     those parts are reported up to date and what plan calls up to date is
 *     what a rerun of build skips.
 * publish <fg_c|fg_a_wide> (--date D | --batch ISO) --target offline:
 *   - the offline-store layout <root>/<feature group>/data/year=/month=/day=/hour=/
 *     with event_time, write_time, api_invocation_time, is_deleted; as many rows
 *     as the warehouse holds for that day/batch (counted here from the
 *     manifests), values carried over; a rerun does not duplicate rows;
 *   - no feature group, a column the data lacks, a day without FG-C: the exit
 *     code and a one-line message, nothing written.
 */
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { tempDir } from './support/context.ts';
import { cliArgs, datasetRows, events, writeRawFixture, writeTestJobSpecs } from './nightly/fixture.ts';

const D = '2026-03-10';
const PREV = '2026-03-09';
const HOSTS = 4;
/** Batches of a day. */
const DAY = 96;
/** The w_1h windows of D's first anchors reach 3 batches into the previous day (23:15, 23:30, 23:45). */
const LEAD = 60 / 15 - 1;
/** FG-B 1d horizon of reference D: FG-A window ends in [D-1, D) come from batches D-2 23:45 (no raw: a gap) .. D-1 23:30. */
const PREV_BATCHES = 95;
/** FG-A's novelty look-back of D reads the whole of D-1 (and days before it, which have no raw: a gap). */
const LOOKBACK = DAY;
const RAW_STAGE = 'delta+delta_peers+pair_counts';
const FG_B_TABLES = ['host', 'segment', 'ip_metadata', 'pair_host', 'pair_segment'];
/** The FG-C selection built in the middle of the chain: 10:00..11:45, 8 batches. */
const SEL = ['--from', `${D}T10:00:00Z`, '--to', `${D}T12:00:00Z`];
const SEL_BATCHES = 8;

const tmp = tempDir('ndr-cli-plan-publish-');
const wh = join(tmp.dir, 'wh');
const offline = join(tmp.dir, 'offline');
const offlineBad = join(tmp.dir, 'offline-bad');
let args: string[];
let badArgs: string[];
let db: DuckDBInstance;
let c: DuckDBConnection;

/** A copy of the test JobSpecs with a `project_parameters.publish` section. */
function jobSpecsWithPublish(dir: string, publish: Record<string, unknown>): string {
  const js = writeTestJobSpecs(dir, 'daily');
  const file = join(js, 'demo', 'project_parameters#v1.json');
  const j = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  j.publish = publish;
  writeFileSync(file, JSON.stringify(j, null, 2));
  return js;
}

beforeAll(async () => {
  const raw = await writeRawFixture(join(tmp.dir, 'in'), [PREV, D], { hosts: HOSTS });
  const js = jobSpecsWithPublish(join(tmp.dir, 'js'), {
    fg_c: { offline_s3_uri: offline },
    // fg_a_wide has no record_id column (FEATURES.md §4.5): publish identifies its records by
    // host_ip by default (one record per host and window end).
    fg_a_wide: { offline_s3_uri: offline },
  });
  const jsBad = jobSpecsWithPublish(join(tmp.dir, 'js-bad'), {
    fg_c: { offline_s3_uri: offlineBad, features: ['record_id', 'sessions_cnt_z_mad', 'no_such_metric'] },
  });
  args = [...cliArgs(wh, raw.uri, js), '--log-format', 'json'];
  badArgs = [...cliArgs(wh, raw.uri, jsBad), '--log-format', 'json'];
  db = await DuckDBInstance.create(':memory:');
  c = await db.connect();
  await c.run(`SET TimeZone = 'UTC'`);
});

afterAll(() => {
  c?.closeSync();
  db?.closeSync();
  tmp.cleanup();
});

// ---------------------------------------------------------------- helpers

const STATES = ['missing', 'stale', 'up_to_date', 'no_input'] as const;
type State = (typeof STATES)[number];
type Counts = Record<State, number>;
interface Plan {
  header: boolean;
  /** Dataset lines in printed order. */
  steps: [string, Counts][];
  /** --verbose partition lines (a stale one says why). */
  partitions: { dataset: string; state: State; partition: string; reason?: string }[];
}

const counts = (c: Partial<Counts>): Counts => ({ missing: 0, stale: 0, up_to_date: 0, no_input: 0, ...c });

/** The table renderPlan prints: `step missing stale up_to_date no_input`, one line per dataset, partitions under it with --verbose. */
function parsePlan(stdout: string): Plan {
  const plan: Plan = { header: false, steps: [], partitions: [] };
  for (const line of stdout.split('\n')) {
    if (/^step\s+missing\s+stale\s+up_to_date\s+no_input$/.test(line)) plan.header = true;
    const s = /^([a-z_+]+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$/.exec(line);
    if (s) plan.steps.push([s[1], { missing: +s[2], stale: +s[3], up_to_date: +s[4], no_input: +s[5] }]);
    const p = /^ {2}(missing|stale|up_to_date|no_input)\s+(\S+)(?: {2}\((.+)\))?$/.exec(line);
    if (p) plan.partitions.push({ dataset: plan.steps.at(-1)![0], state: p[1] as State, partition: p[2], ...(p[3] ? { reason: p[3] } : {}) });
  }
  return plan;
}
const stepCounts = (p: Plan, dataset: string) => p.steps.find(([d]) => d === dataset)?.[1];
const stateOf = (p: Plan, partition: string) => p.partitions.filter((x) => x.partition === partition).map((x) => x.state);

/** Partitions committed per dataset by a build run (its `step` events), zero counts left out. */
function committedBy(stdout: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of events(stdout).filter((e) => e.event === 'step')) {
    const n = Number(e.committed ?? 0);
    if (n) out[String(e.dataset)] = (out[String(e.dataset)] ?? 0) + n;
  }
  return out;
}

/** Every file under root (but the cache directory the CLI args put in the warehouse), with size and mtime. */
function snapshot(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      const st = statSync(p);
      if (st.isDirectory()) {
        if (!(d === root && e === '.cache')) walk(p);
      } else out.push(`${relative(root, p)} ${st.size} ${st.mtimeMs}`);
    }
  };
  if (existsSync(root)) walk(root);
  return out.sort();
}

/** Parquet files under a directory, relative to it. */
function parquetFiles(root: string): string[] {
  return snapshot(root)
    .map((l) => l.split(' ')[0])
    .filter((f) => f.endsWith('.parquet'));
}

async function q(text: string): Promise<Record<string, unknown>[]> {
  return (await c.runAndReadAll(text)).getRowObjectsJS() as Record<string, unknown>[];
}
const list = (paths: string[]) => `[${paths.map((p) => `'${p.replaceAll("'", "''")}'`).join(', ')}]`;

const isoZ = (d: unknown) => (d as Date).toISOString().replace('.000Z', 'Z');
const compact = (iso: string) => iso.replace(/[-:]/g, '').replace(/00Z$/, 'Z'); // 2026-03-10T10:00:00Z -> 20260310T1000Z
const BATCH_MS = 15 * 60_000;

// ---------------------------------------------------------------- plan

describe('ndr-sql plan build fg-c --date D --upstream', () => {
  let empty: Plan;

  it('on an empty warehouse shows the whole chain, partition by partition, and writes nothing', async () => {
    const r = await runCli(['plan', 'build', 'fg-c', '--date', D, '--upstream', '--verbose', ...args]);
    expect(r.code, r.stderr).toBe(0);
    empty = parsePlan(r.stdout);
    expect(empty.header).toBe(true);
    expect(empty.steps.map(([d]) => d)).toEqual([RAW_STAGE, 'delta_peers_daily', 'fg_a', 'fg_b', 'fg_c']);

    // Raw stage, in the order --upstream builds it: the look-back history of D (all of D-1, so that
    // D's novelty sees it), D, and within D-1 the 3 lead batches (D's first w_1h windows) and the
    // 95 batches FG-B's horizon needs. A partition planned by several steps counts once.
    expect(stepCounts(empty, RAW_STAGE)).toEqual(counts({ missing: 3 * (LOOKBACK + DAY) }));
    for (const ds of ['delta', 'delta_peers', 'pair_counts']) {
      expect(stateOf(empty, `${ds}/feature_spec_version=v1/dt=${D}/hh=00/mm=00`)).toEqual(['missing']);
      expect(stateOf(empty, `${ds}/feature_spec_version=v1/dt=${D}/hh=23/mm=45`)).toEqual(['missing']);
      expect(stateOf(empty, `${ds}/feature_spec_version=v1/dt=${PREV}/hh=00/mm=00`)).toEqual(['missing']); // look-back, FG-B's range
      expect(stateOf(empty, `${ds}/feature_spec_version=v1/dt=${PREV}/hh=23/mm=45`)).toEqual(['missing']); // look-back, lead
      expect(stateOf(empty, `${ds}/feature_spec_version=v1/dt=${PREV}/hh=23/mm=15`)).toEqual(['missing']); // look-back, lead, FG-B's range
    }
    // FG-A: the plan's raw stage builds its input first, so every anchor would be built.
    expect(stepCounts(empty, 'fg_a')).toEqual(counts({ missing: DAY + PREV_BATCHES }));
    expect(stateOf(empty, `fg_a/feature_spec_version=v1/dt=${D}/hh=10/mm=00`)).toEqual(['missing']);
    // FG-B for the scheduled reference date (daily: D itself), every table.
    expect(stepCounts(empty, 'fg_b')).toEqual(counts({ missing: FG_B_TABLES.length }));
    expect(empty.partitions.filter((p) => p.dataset === 'fg_b')).toEqual(
      FG_B_TABLES.map((t) => ({ dataset: 'fg_b', state: 'missing', partition: `fg_b/${t}/feature_spec_version=v1/baseline_horizon=1d/reference_date=${D}` })),
    );
    // The raw gap before the fixture (D-2) is reported, not planned: the lead of D-1's first
    // anchors, and FG-B's range reaching into D-2 (one line for all its days without raw).
    const gaps = events(r.stdout).filter((e) => e.event === 'upstream_gap');
    expect(gaps.map((e) => [e.msg, e.days_without_raw, e.first, e.last])).toEqual([
      [`input not ready: no raw files match ${args[args.indexOf('--raw') + 1]} for 2026-03-08T23:15:00Z..2026-03-09T00:00:00Z`, undefined, undefined, undefined],
      ['no raw input for 1 of the days in 2026-03-08T23:45:00Z..2026-03-09T23:45:00Z: their FG-A is missing, a gap in the baseline, not quiet time', 1, '2026-03-08', '2026-03-08'],
    ]);
    expect(empty.partitions.some((p) => p.partition.includes('dt=2026-03-08'))).toBe(false);

    // Nothing written: no partition, manifest, ledger, lock or staging file.
    expect(snapshot(wh)).toEqual([]);
  });

  it('on an empty warehouse also lists the FG-C partitions of D that the build would produce', () => {
    // Every batch of D, missing: the plan's FG-A step builds what it reads (FG-C is planned in passes of 24 batches).
    expect(stepCounts(empty, 'fg_c')).toEqual(counts({ missing: DAY }));
    expect(empty.partitions.filter((p) => p.dataset === 'fg_c' && p.partition.includes(`dt=${D}`))).toHaveLength(DAY);
  });

  it('after the raw stage of D is built, shows it up to date and FG-A of D as missing; plan still writes nothing', async () => {
    const b = await runCli(['build', 'delta,delta_peers,pair_counts', '--date', D, ...args]);
    expect(b.code, b.stderr).toBe(0);
    expect(committedBy(b.stdout)).toEqual({ [RAW_STAGE]: 3 * DAY });

    const before = snapshot(wh);
    expect(before.filter((f) => f.includes('_manifest.json'))).toHaveLength(3 * DAY);
    const r = await runCli(['plan', 'build', 'fg-c', '--date', D, '--upstream', '--verbose', ...args]);
    expect(r.code, r.stderr).toBe(0);
    expect(snapshot(wh)).toEqual(before);

    const p = parsePlan(r.stdout);
    expect(stateOf(p, `delta_peers/feature_spec_version=v1/dt=${D}/hh=12/mm=00`)).toEqual(['up_to_date']);
    expect(stepCounts(p, RAW_STAGE)).toEqual(counts({ up_to_date: 3 * DAY, missing: 3 * LOOKBACK }));
    expect(stateOf(p, `pair_counts/feature_spec_version=v1/dt=${PREV}/hh=12/mm=00`)).toEqual(['missing']); // look-back, FG-B's range
    // D's anchors read what exists, D-1's what the plan's raw stage builds: all would be built.
    expect(stepCounts(p, 'fg_a')).toEqual(counts({ missing: DAY + PREV_BATCHES }));
    expect(stateOf(p, `fg_a/feature_spec_version=v1/dt=${D}/hh=12/mm=00`)).toEqual(['missing']);
    expect(stepCounts(p, 'fg_b')).toEqual(counts({ missing: FG_B_TABLES.length }));
  });

  it('plans the raw stage in the form `build` takes it (delta,delta_peers,pair_counts): D up to date, D-1 missing', async () => {
    const today = parsePlan((await runCli(['plan', 'build', 'delta,delta_peers,pair_counts', '--date', D, ...args])).stdout);
    expect(today.steps).toEqual([[RAW_STAGE, counts({ up_to_date: 3 * DAY })]]);
    const before = parsePlan((await runCli(['plan', 'build', 'delta-peers,pair-counts', '--date', PREV, ...args])).stdout);
    expect(before.steps).toEqual([['delta_peers+pair_counts', counts({ missing: 2 * DAY })]]);
    const bad = await runCli(['plan', 'build', 'delta,fg_a', '--date', D, ...args]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown dataset fg_a; expected one of delta, delta_peers, pair_counts');
  });

  it('after FG-A of one batch is built (no FG-B yet), shows that FG-A up to date and FG-B, FG-C still to do', async () => {
    const b = await runCli(['build', 'fg-a', '--batch', `${D}T10:00:00Z`, ...args]);
    expect(b.code, b.stderr).toBe(0);
    expect(committedBy(b.stdout)).toEqual({ fg_a: 1 });

    const before = snapshot(wh);
    const r = await runCli(['plan', 'build', 'fg-c', '--date', D, '--upstream', '--verbose', ...args]);
    expect(snapshot(wh)).toEqual(before);
    // FG-B is not built in a dry run: the plan still shows FG-C (it does not stop at the missing baseline).
    expect(r.code, r.stderr).toBe(0);
    const p = parsePlan(r.stdout);
    // The batch just built read no look-back (D-1 has no raw stage yet); the plan builds D-1's
    // first, so that batch is stale, as the build below then finds it.
    expect(stepCounts(p, 'fg_a')).toEqual(counts({ stale: 1, missing: DAY - 1 + PREV_BATCHES }));
    expect(stateOf(p, `fg_a/feature_spec_version=v1/dt=${D}/hh=10/mm=00`)).toEqual(['stale']);
    expect(stepCounts(p, 'fg_b')).toEqual(counts({ missing: FG_B_TABLES.length }));
    expect(stepCounts(p, 'fg_c')).toEqual(counts({ missing: DAY }));
  });

  it('without --upstream, the plan stops where the build would: no baseline, exit 3 naming the fg-b command', async () => {
    const before = snapshot(wh);
    const plan = await runCli(['plan', 'build', 'fg-c', '--batch', `${D}T10:00:00Z`, ...args]);
    const build = await runCli(['build', 'fg-c', '--batch', `${D}T10:00:00Z`, ...args]);
    for (const r of [plan, build]) {
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toContain(`no FG-B baseline for horizon 1d at or before ${D}T10:00:00Z; build it with: ndr-sql build fg-b --date ${D}`);
    }
    expect(snapshot(wh)).toEqual(before);
  });

  it('after FG-C of two hours is built with --upstream, the same selection plans as all up to date', async () => {
    const plan = parsePlan((await runCli(['plan', 'build', 'fg-c', ...SEL, '--upstream', ...args])).stdout);
    const b = await runCli(['build', 'fg-c', ...SEL, '--upstream', ...args]);
    expect(b.code, b.stderr).toBe(0);
    const built = committedBy(b.stdout);
    // The plan said exactly what the build then did, step by step.
    const toBuild = Object.fromEntries(plan.steps.map(([d, c]) => [d, c.missing + c.stale]).filter(([, n]) => n));
    expect(toBuild).toEqual(built);
    expect(built.fg_c).toBe(SEL_BATCHES);
    expect(built.fg_b).toBe(FG_B_TABLES.length);
    // All 8 anchors: 10:00, built above before D-1 existed, is stale now that its look-back has D-1.
    expect(built.fg_a).toBe(SEL_BATCHES + PREV_BATCHES);

    const r = await runCli(['plan', 'build', 'fg-c', ...SEL, '--upstream', ...args]);
    expect(r.code, r.stderr).toBe(0);
    const p = parsePlan(r.stdout);
    // A complete look-back day (D-1 now) is only listed, not planned again.
    expect(stepCounts(p, RAW_STAGE)).toEqual(counts({ up_to_date: 3 * (LEAD + SEL_BATCHES + PREV_BATCHES) }));
    expect(stepCounts(p, 'fg_a')).toEqual(counts({ up_to_date: SEL_BATCHES + PREV_BATCHES }));
    expect(stepCounts(p, 'fg_b')).toEqual(counts({ up_to_date: FG_B_TABLES.length }));
    expect(stepCounts(p, 'fg_c')).toEqual(counts({ up_to_date: SEL_BATCHES }));
  });

  it('what plan reports up to date, a rerun of the same build does not rebuild', async () => {
    // --upstream builds FG-A's look-back history before FG-A, and FG-A's freshness follows the
    // delta_peers batches of its look-back (not whether this run reads a day's compaction).
    const r = await runCli(['build', 'fg-c', ...SEL, '--upstream', ...args]);
    expect(r.code, r.stderr).toBe(0);
    expect(committedBy(r.stdout)).toEqual({});
  });

  it('for the whole day D: the built parts up to date, the rest of D to do', async () => {
    const r = await runCli(['plan', 'build', 'fg-c', '--date', D, '--upstream', ...args]);
    expect(r.code, r.stderr).toBe(0);
    const p = parsePlan(r.stdout);
    // The whole raw stage is built: D (above) and D-1 (the look-back, hence the lead and FG-B's
    // range too); the complete look-back day itself is only listed, not planned.
    expect(stepCounts(p, RAW_STAGE)).toEqual(counts({ up_to_date: 3 * (DAY + LOOKBACK) })); // D-1's lead and FG-B batches are within it
    expect(stepCounts(p, 'fg_b')).toEqual(counts({ up_to_date: FG_B_TABLES.length }));
    // Every batch of D is listed, whichever pass of 24 it falls in: the rest of D missing, as the plan's FG-A step builds their input.
    expect(stepCounts(p, 'fg_c')).toEqual(counts({ up_to_date: SEL_BATCHES, missing: DAY - SEL_BATCHES }));
    // FG-A's freshness does not depend on the selection: the anchors built with --from/--to are up to date for --date.
    expect(stepCounts(p, 'fg_a')).toEqual(counts({ up_to_date: SEL_BATCHES + PREV_BATCHES, missing: DAY - SEL_BATCHES }));
  });

  it('--verbose says why a partition is stale: --force, or a different host scope (part of the JobSpec hash)', async () => {
    const forced = parsePlan((await runCli(['plan', 'build', 'fg-c', ...SEL, '--force', '--verbose', ...args])).stdout);
    const fgc = forced.partitions.filter((x) => x.dataset === 'fg_c');
    expect(fgc).toHaveLength(SEL_BATCHES);
    expect(fgc.every((x) => x.state === 'stale' && x.reason === '--force')).toBe(true);

    const rescoped = await runCli(['plan', 'build', 'fg-a', ...SEL, '--verbose', ...args, '--internal-networks', '10.0.0.0/8']);
    expect(rescoped.code, rescoped.stderr).toBe(0);
    const fga = parsePlan(rescoped.stdout).partitions.filter((x) => x.dataset === 'fg_a');
    expect(fga).toHaveLength(SEL_BATCHES);
    expect(fga.every((x) => x.state === 'stale' && x.reason === 'JobSpecs (or --internal-networks) changed')).toBe(true);
  });
});

// ---------------------------------------------------------------- publish

describe('ndr-sql publish --target offline', () => {
  const fgcData = join(offline, 'ndr-fg-c', 'data');

  /** The FG-C rows of D, straight from the warehouse manifests. */
  const sourceFgC = () => datasetRows(wh, `fg_c/feature_spec_version=v1/baseline_horizon=1d/dt=${D}`);

  async function checkFgCPublished() {
    const src = await sourceFgC();
    expect(src.partitions).toHaveLength(SEL_BATCHES);
    const rows = src.rows;
    expect(rows.length).toBeGreaterThan(0);

    // One file per batch, in the hour partition of its event time (window end = batch start + 15 min).
    const ends = [...new Set(rows.map((r) => isoZ(r.window_end_ts)))].sort();
    expect(ends).toHaveLength(SEL_BATCHES);
    const expectedFiles = ends
      .map((end) => {
        const [y, m, d, h] = [end.slice(0, 4), end.slice(5, 7), end.slice(8, 10), end.slice(11, 13)];
        const batch = compact(new Date(Date.parse(end) - BATCH_MS).toISOString().replace('.000Z', 'Z'));
        return `year=${y}/month=${m}/day=${d}/hour=${h}/fg_c-1d-${batch}-0.parquet`;
      })
      .sort();
    const files = parquetFiles(fgcData);
    expect(files).toEqual(expectedFiles);
    expect(files.some((f) => f.includes('hour=12/'))).toBe(true); // 11:45's window ends at 12:00

    const paths = files.map((f) => join(fgcData, f));
    const types = Object.fromEntries(
      (await q(`DESCRIBE SELECT * FROM read_parquet(${list(paths)}, hive_partitioning = false)`)).map((r) => [r.column_name, r.column_type]),
    );
    expect(types).toMatchObject({ event_time: 'VARCHAR', write_time: 'TIMESTAMP', api_invocation_time: 'TIMESTAMP', is_deleted: 'BOOLEAN', record_id: 'VARCHAR' });
    for (const col of ['year', 'month', 'day', 'hour']) expect(types[col]).toBeUndefined();

    const agg = await q(
      `SELECT count(*)::INTEGER AS n, count(DISTINCT record_id)::INTEGER AS ids, bool_or(is_deleted) AS deleted,
              count(*) FILTER (WHERE event_time <> window_end_ts)::INTEGER AS bad_event_time,
              count(*) FILTER (WHERE write_time IS NULL OR api_invocation_time IS NULL)::INTEGER AS no_times,
              count(*) FILTER (WHERE filename NOT LIKE '%/year=' || substr(event_time, 1, 4) || '/month=' || substr(event_time, 6, 2)
                                 || '/day=' || substr(event_time, 9, 2) || '/hour=' || substr(event_time, 12, 2) || '/%')::INTEGER AS misplaced
       FROM read_parquet(${list(paths)}, hive_partitioning = false, filename = true)`,
    );
    expect(agg[0]).toEqual({ n: rows.length, ids: rows.length, deleted: false, bad_event_time: 0, no_times: 0, misplaced: 0 });

    // The same records, with their values.
    const published = await q(`SELECT record_id, host_ip, strong_deviation_cnt, anomaly_score FROM read_parquet(${list(paths)}, hive_partitioning = false) ORDER BY record_id`);
    const expected = rows
      .map((r) => ({ record_id: r.record_id, host_ip: r.host_ip, strong_deviation_cnt: Number(r.strong_deviation_cnt), anomaly_score: r.anomaly_score }))
      .sort((a, b) => (String(a.record_id) < String(b.record_id) ? -1 : 1));
    expect(published.map((r) => ({ ...r, strong_deviation_cnt: Number(r.strong_deviation_cnt) }))).toEqual(expected);

    // A publication record per batch, committed.
    const records = readdirSync(join(offline, 'ndr-fg-c', '_ndr_publish')).sort();
    expect(records).toEqual(expectedFiles.map((f) => `${f.split('/').at(-1)!.replace(/-0\.parquet$/, '')}.json`).sort());
    for (const rec of records) {
      const j = JSON.parse(readFileSync(join(offline, 'ndr-fg-c', '_ndr_publish', rec), 'utf8')) as { status: string; feature_group: string; rows: number };
      expect([j.status, j.feature_group]).toEqual(['committed', 'ndr-fg-c']);
    }
    return { rows: rows.length, files };
  }

  let first: { rows: number; files: string[] };

  it('fg_c --date D writes the offline-store layout with the Feature Store columns, one row per source row', async () => {
    const r = await runCli(['publish', 'fg_c', '--date', D, '--target', 'offline', '--feature-group', 'ndr-fg-c', ...args]);
    expect(r.code, r.stderr).toBe(0);
    const published = events(r.stdout).filter((e) => e.event === 'published');
    expect(published).toHaveLength(SEL_BATCHES);
    expect(published.every((e) => e.status === 'ok' && e.dataset === 'fg_c')).toBe(true);
    first = await checkFgCPublished();
    expect(published.reduce((n, e) => n + Number(e.rows), 0)).toBe(first.rows);
  });

  it('a rerun of the same publish replaces the batches: same files, no duplicated rows', async () => {
    const r = await runCli(['publish', 'fg-c', '--date', D, '--target', 'offline', '--feature-group', 'ndr-fg-c', ...args]);
    expect(r.code, r.stderr).toBe(0);
    const again = await checkFgCPublished();
    expect(again).toEqual(first);
  });

  it('fg_a_wide --batch ISO publishes one record per host of that batch, with FG-A values spread over role and window', async () => {
    const batch = `${D}T10:00:00Z`;
    const fga = (await datasetRows(wh, `fg_a/feature_spec_version=v1/dt=${D}/hh=10/mm=00`)).rows;
    const hosts = [...new Set(fga.map((r) => String(r.host_ip)))].sort();
    expect(hosts.length).toBeGreaterThanOrEqual(HOSTS);
    const value = (host: string, role: string, window: string) => {
      const row = fga.find((r) => r.host_ip === host && r.role === role && r.window_label === window);
      return row ? Number(row.sessions_cnt) : null;
    };
    const dataDir = join(offline, 'ndr-fg-a', 'data');
    const file = 'year=2026/month=03/day=10/hour=10/fg_a_wide-20260310T1000Z-0.parquet';

    for (let run = 0; run < 2; run++) {
      const r = await runCli(['publish', 'fg_a_wide', '--batch', batch, '--target', 'offline', '--feature-group', 'ndr-fg-a', ...args]);
      expect(r.code, r.stderr).toBe(0);
      expect(events(r.stdout).filter((e) => e.event === 'published').map((e) => [e.partition, e.rows])).toEqual([['fg_a_wide-20260310T1000Z', hosts.length]]);
      expect(parquetFiles(dataDir)).toEqual([file]);
      const rows = await q(
        `SELECT host_ip, event_time, window_end_ts, is_deleted, write_time IS NOT NULL AND api_invocation_time IS NOT NULL AS times,
                sessions_cnt_w_15m, in_sessions_cnt_w_1h
         FROM read_parquet('${join(dataDir, file)}', hive_partitioning = false) ORDER BY host_ip`,
      );
      expect(rows).toEqual(
        hosts.map((h) => ({
          host_ip: h,
          event_time: '2026-03-10T10:15:00Z',
          window_end_ts: '2026-03-10T10:15:00Z',
          is_deleted: false,
          times: true,
          sessions_cnt_w_15m: value(h, 'outbound', 'w_15m'),
          in_sessions_cnt_w_1h: value(h, 'inbound', 'w_1h'),
        })),
      );
    }
  });

  it('no feature group, a column the data lacks, a day without FG-C: exit code and one line, nothing written', async () => {
    const before = snapshot(offline);
    const oneLine = (stderr: string) => {
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr).not.toMatch(/\n\s+at /);
      return stderr.trim();
    };

    const noGroup = await runCli(['publish', 'fg_c', '--date', D, '--target', 'offline', ...args]);
    expect(noGroup.code).toBe(1);
    expect(oneLine(noGroup.stderr)).toMatch(/^ndr-sql: error: no feature group: pass --feature-group or set project_parameters\.publish\.fg_c\.feature_group$/);

    const badName = await runCli(['publish', 'fg_c', '--date', D, '--target', 'offline', '--feature-group', 'not a name', ...args]);
    expect(badName.code).toBe(1);
    expect(oneLine(badName.stderr)).toMatch(/^ndr-sql: error: publish: invalid feature group name "not a name"$/);

    const missingColumn = await runCli(['publish', 'fg_c', '--date', D, '--target', 'offline', '--feature-group', 'ndr-fg-c', ...badArgs]);
    expect(missingColumn.code).toBe(1);
    expect(oneLine(missingColumn.stderr)).toMatch(
      /^ndr-sql: error: file .*, column no_such_metric, rule publish\.columns: feature group ndr-fg-c needs column\(s\) the data does not have \(present: host_ip, role, window_label, .*record_id.*\)$/,
    );
    expect(existsSync(offlineBad)).toBe(false);

    const noFgC = await runCli(['publish', 'fg_c', '--date', PREV, '--target', 'offline', '--feature-group', 'ndr-fg-c', ...args]);
    expect(noFgC.code).toBe(3);
    expect(oneLine(noFgC.stderr)).toBe('ndr-sql: error: input not ready: no committed fg_c partitions for the selection');

    expect(snapshot(offline)).toEqual(before);
  });
});
