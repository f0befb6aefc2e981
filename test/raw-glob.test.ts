/**
 * Plain-glob raw input (a --raw path without {dt}/{hh}/{mm}), through the CLI in-process:
 * each file of the glob is scanned once per run for the span of 15-minute batches its
 * events fall in (raw_file_spans.sql), and a batch reads only the files whose span holds it;
 * a file with records lacking an event_start feeds every batch. Hence:
 * (a) a day no file covers is a gap (exit 3, nothing committed), even between covered days;
 * (b) a partition's manifest lists as raw inputs only the files that fed it;
 * (c) a new file for another day does not make a built day stale;
 * (d) an unparseable event_start still fails the build of a day the file may feed (exit 1);
 * (e) `build fg-a --upstream` over a glob of two days: one lookback_gap warning, right outputs.
 * The NDJSON fixtures are written here, one internal host (10.0.0.1) talking to internet peers.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedDirectory } from '../src/raw/locate.ts';
import { runCli } from './support/cli.ts';
import { tempDir } from './support/context.ts';
import { datasetRows, events, writeTestJobSpecs } from './nightly/fixture.ts';

const tmp = tempDir('ndr-raw-glob-');
afterAll(() => tmp.cleanup());

const D1 = '2026-06-01';
const D2 = '2026-06-02';
const D3 = '2026-06-03';
const RAW_DATASETS = ['delta', 'delta_peers', 'pair_counts'];

/** One session of 10.0.0.1 to an internet peer starting at `start` (ISO, UTC), lasting 1 s. */
function ev(start: string, peer = '8.8.8.8', port = 53): Record<string, unknown> {
  return {
    source_ip: '10.0.0.1', destination_ip: peer, source_port: 40000, destination_port: port,
    source_bytes: 100, destination_bytes: 200, event_start: start,
    event_end: new Date(Date.parse(start) + 1000).toISOString(),
    event_action: 'allow', event_reason: 'aged-out', event_name: 'TRAFFIC', network_transport: port === 53 ? 'UDP' : 'TCP',
  };
}

function writeNdjson(file: string, rows: Record<string, unknown>[]): string {
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return file;
}

/** The fingerprint build-raw gives a local raw file (size:mtime). */
const rawInput = (file: string) => {
  const st = statSync(file);
  return { dataset: 'raw', partition: file, fingerprint: `${st.size}:${st.mtimeMs}` };
};

type Result = { code: number; stderr: string; stdout: string };

/** `ndr-sql build <ds> --date <day>` over a plain NDJSON glob, JSON log on stdout. */
function build(ds: string, day: string, glob: string, wh: string, ...extra: string[]): Promise<Result> {
  return runCli([
    'build', ds, '--date', day, '--raw', glob, '--raw-format', 'ndjson', '--internal-networks', '10.0.0.0/8',
    '--warehouse', wh, '--cache-dir', join(wh, '.cache'), '--log-format', 'json', ...extra,
  ]);
}
const step = (r: Result) => events(r.stdout).filter((e) => e.event === 'step').at(-1);

/** Every committed manifest under a warehouse, by partition path. */
function manifests(wh: string): Map<string, Record<string, any>> {
  if (!existsSync(wh)) return new Map();
  return new Map(
    readdirSync(wh, { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('_manifest.json') && !f.includes('_staging'))
      .map((f) => {
        const m = JSON.parse(readFileSync(join(wh, f), 'utf8'));
        return [m.partition as string, m];
      }),
  );
}
const partitionsOf = (wh: string, ds: string, day: string) =>
  [...manifests(wh).keys()].filter((p) => p.startsWith(`${ds}/feature_spec_version=v1/dt=${day}/`)).sort();
const partitionPath = (ds: string, day: string, hh: string, mm: string) => `${ds}/feature_spec_version=v1/dt=${day}/hh=${hh}/mm=${mm}`;

function expectOneLineError(r: Result, code: number, ...parts: string[]) {
  expect(r.code, r.stderr).toBe(code);
  const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('ndr-sql:'));
  expect(lines, r.stderr).toHaveLength(1);
  for (const p of parts) expect(lines[0]).toContain(p);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

/** hh, mm of the 96 batches of a day, in order. */
const BATCHES = Array.from({ length: 96 }, (_, i) => [String(Math.floor(i / 4)).padStart(2, '0'), String((i % 4) * 15).padStart(2, '0')] as const);

// ---------------------------------------------------------------------------
// Day 1 in two files (morning, afternoon), day 3 in one, day 2 in none.
// ---------------------------------------------------------------------------
describe('the directory a raw pattern must match under', () => {
  // A missing directory matches nothing, so the glob is skipped (FG-A's look-back asks for every hour of 30 days).
  it('is the part before the first wildcard, or a plain path\'s directory', () => {
    expect(fixedDirectory('/data/raw/dt=2026-11-24/hh=05/*.parquet')).toBe('/data/raw/dt=2026-11-24/hh=05');
    expect(fixedDirectory('/data/raw/dt=2026-11-*/**/*.ndjson.gz')).toBe('/data/raw');
    expect(fixedDirectory('/data/raw/{a,b}/x.parquet')).toBe('/data/raw');
    expect(fixedDirectory('/data/raw/conn.[0-9].log')).toBe('/data/raw');
    expect(fixedDirectory('/data/raw/one.parquet')).toBe('/data/raw');
    expect(fixedDirectory('*.parquet')).toBe('.');
    expect(fixedDirectory('/*.parquet')).toBe('/');
  });
});

describe('a plain glob over per-day files', () => {
  const RAW = join(tmp.dir, 'raw');
  const GLOB = join(RAW, '*.ndjson');
  const WH = join(tmp.dir, 'wh');
  // Batches (UTC): d1-am spans 00:00..11:45, d1-pm 12:00..23:45, d3 00:00..23:45 of its day.
  const AM = join(RAW, 'd1-am.ndjson');
  const PM = join(RAW, 'd1-pm.ndjson');
  const DAY3 = join(RAW, 'd3.ndjson');
  let d1: Result;
  let d3: Result;

  beforeAll(async () => {
    writeNdjson(AM, [ev(`${D1}T00:00:05Z`), ev(`${D1}T00:10:00Z`), ev(`${D1}T06:30:00Z`), ev(`${D1}T11:59:59Z`)]);
    writeNdjson(PM, [ev(`${D1}T12:00:00Z`), ev(`${D1}T12:14:59Z`, '1.1.1.1', 443), ev(`${D1}T23:50:00Z`)]);
    writeNdjson(DAY3, [ev(`${D3}T00:05:00Z`), ev(`${D3}T23:46:00Z`)]);
    d1 = await build('delta,delta_peers,pair_counts', D1, GLOB, WH);
    d3 = await build('delta,delta_peers,pair_counts', D3, GLOB, WH);
  }, 120_000);

  it('days covered by files build whole: 96 partitions per dataset, rows from their own files only', async () => {
    expect(d1.code, d1.stderr).toBe(0);
    expect(step(d1)).toMatchObject({ committed: 288, skipped_up_to_date: 0, missing_input: 0 });
    expect(d3.code, d3.stderr).toBe(0);
    expect(step(d3)).toMatchObject({ committed: 288, skipped_up_to_date: 0, missing_input: 0 });
    for (const ds of RAW_DATASETS) {
      expect(partitionsOf(WH, ds, D1)).toHaveLength(96);
      expect(partitionsOf(WH, ds, D3)).toHaveLength(96);
    }
    // delta: 10.0.0.1 outbound in the non-empty batches; 8.8.8.8/1.1.1.1 are not internal.
    const { rows } = await datasetRows(WH, 'delta');
    const got = rows.map((r) => `${r.dt} ${r.hh}:${r.mm} ${r.host_ip} ${r.role} ${Number(r.sessions_cnt)}`).sort();
    expect(got).toEqual([
      `${D1} 00:00 10.0.0.1 outbound 2`,
      `${D1} 06:30 10.0.0.1 outbound 1`,
      `${D1} 11:45 10.0.0.1 outbound 1`,
      `${D1} 12:00 10.0.0.1 outbound 2`,
      `${D1} 23:45 10.0.0.1 outbound 1`,
      `${D3} 00:00 10.0.0.1 outbound 1`,
      `${D3} 23:45 10.0.0.1 outbound 1`,
    ]);
    // A quiet batch inside a file's span is committed empty.
    const quiet = manifests(WH).get(partitionPath('delta', D1, '03', '00'))!;
    expect(quiet.row_count).toBe(0);
    expect(quiet.dq).toMatchObject({ rows_read: 0, rows_kept: 0 });
  });

  it('(b) a partition lists as raw inputs exactly the files that fed it', () => {
    const all = manifests(WH);
    for (const ds of RAW_DATASETS) {
      for (const [hh, mm] of BATCHES) {
        const m1 = all.get(partitionPath(ds, D1, hh, mm))!;
        expect(m1.inputs, m1.partition).toEqual([rawInput(Number(hh) < 12 ? AM : PM)]);
        const m3 = all.get(partitionPath(ds, D3, hh, mm))!;
        expect(m3.inputs, m3.partition).toEqual([rawInput(DAY3)]);
      }
    }
    // DQ of a partition counts its own file's rows only: 12:00 read the two pm rows of that batch.
    const noon = all.get(partitionPath('delta', D1, '12', '00'))!;
    expect(noon.dq).toMatchObject({ rows_read: 2, rows_kept: 2 });
    expect(noon.row_count).toBe(1);
  });

  it('(a) a day between two covered days with no file of its own is a gap: exit 3, nothing committed', async () => {
    const before = [...manifests(WH).keys()].sort();
    for (const ds of ['delta', 'delta,delta_peers,pair_counts']) {
      const r = await build(ds, D2, GLOB, WH);
      expectOneLineError(r, 3, 'input not ready', GLOB);
      expect([...manifests(WH).keys()].sort()).toEqual(before);
    }
    for (const ds of RAW_DATASETS) expect(partitionsOf(WH, ds, D2)).toEqual([]);
  });

  it('(a) a range over the three days commits days 1 and 3 and reports day 2 missing (exit 3), not as empty partitions', async () => {
    // Before per-file spans, day 2 lay inside the span of the events read in this one pass and was committed empty.
    const wh = join(tmp.dir, 'wh-range');
    const r = await runCli([
      'build', 'delta,delta_peers,pair_counts', '--from', D1, '--to', D3, '--raw', GLOB, '--raw-format', 'ndjson',
      '--internal-networks', '10.0.0.0/8', '--warehouse', wh, '--cache-dir', join(wh, '.cache'), '--log-format', 'json',
    ]);
    expect(r.code, r.stderr).toBe(3);
    expect(step(r)).toMatchObject({ status: 'partial', committed: 2 * 288, skipped_up_to_date: 0, missing_input: 96 });
    const notReady = events(r.stdout).filter((e) => e.event === 'input_not_ready');
    expect(notReady).toHaveLength(1);
    expect(String(notReady[0].batches).split(',').slice(0, 2)).toEqual([`${D2}T00:00:00Z`, `${D2}T00:15:00Z`]);
    for (const ds of RAW_DATASETS) {
      expect(partitionsOf(wh, ds, D1)).toHaveLength(96);
      expect(partitionsOf(wh, ds, D2)).toEqual([]);
      expect(partitionsOf(wh, ds, D3)).toHaveLength(96);
    }
  });

  it('(c) a new file for another day does not make a built day stale; that day then builds from it alone', async () => {
    const DAY2 = writeNdjson(join(RAW, 'd2.ndjson'), [ev(`${D2}T00:01:00Z`), ev(`${D2}T23:59:00Z`, '1.1.1.1', 443)]);
    const runIds = new Map([...manifests(WH)].map(([p, m]) => [p, m.run_id]));
    for (const day of [D1, D3]) {
      const r = await build('delta,delta_peers,pair_counts', day, GLOB, WH);
      expect(r.code, r.stderr).toBe(0);
      expect(step(r)).toMatchObject({ committed: 0, skipped_up_to_date: 288, missing_input: 0 });
    }
    // single-dataset builds agree
    const one = await build('delta', D1, GLOB, WH);
    expect(one.code, one.stderr).toBe(0);
    expect(step(one)).toMatchObject({ dataset: 'delta', committed: 0, skipped_up_to_date: 96 });
    expect(new Map([...manifests(WH)].map(([p, m]) => [p, m.run_id]))).toEqual(runIds);

    // The gap is filled by the new file: day 2 builds whole, fed by d2.ndjson only.
    const r2 = await build('delta,delta_peers,pair_counts', D2, GLOB, WH);
    expect(r2.code, r2.stderr).toBe(0);
    expect(step(r2)).toMatchObject({ committed: 288, skipped_up_to_date: 0, missing_input: 0 });
    const all = manifests(WH);
    for (const ds of RAW_DATASETS) {
      expect(partitionsOf(WH, ds, D2)).toHaveLength(96);
      for (const [hh, mm] of BATCHES) expect(all.get(partitionPath(ds, D2, hh, mm))!.inputs).toEqual([rawInput(DAY2)]);
    }
    expect(all.get(partitionPath('delta', D2, '00', '00'))!.row_count).toBe(1);
    expect(all.get(partitionPath('delta', D2, '23', '45'))!.row_count).toBe(1);
    expect(all.get(partitionPath('delta', D2, '12', '00'))!.row_count).toBe(0);
  });

  it('the same files spelled relative to the working directory are the same inputs: nothing is stale', async () => {
    const runIds = new Map([...manifests(WH)].map(([p, m]) => [p, m.run_id]));
    const cwd = process.cwd();
    process.chdir(tmp.dir);
    try {
      const r = await build('delta,delta_peers,pair_counts', D1, join('raw', '*.ndjson'), WH);
      expect(r.code, r.stderr).toBe(0);
      expect(step(r)).toMatchObject({ committed: 0, skipped_up_to_date: 288, missing_input: 0 });
    } finally {
      process.chdir(cwd);
    }
    expect(new Map([...manifests(WH)].map(([p, m]) => [p, m.run_id]))).toEqual(runIds);
    // Manifests name raw files by their absolute path, whichever spelling built them.
    expect(manifests(WH).get(partitionPath('delta', D1, '00', '00'))!.inputs).toEqual([rawInput(AM)]);
  });

  it('a file with a record without event_start feeds every batch: listed as input of each, counted unplaced', async () => {
    const raw = join(tmp.dir, 'raw-null');
    mkdirSync(raw, { recursive: true });
    const am = join(raw, 'd1-am.ndjson');
    const pm = join(raw, 'd1-pm.ndjson');
    copyFileSync(AM, am);
    copyFileSync(PM, pm);
    // one record without event_start, one on 2026-06-10 (outside every batch built here)
    const nulls = writeNdjson(join(raw, 'nulls.ndjson'), [{ ...ev(`${D1}T05:00:00Z`), event_start: null }, ev('2026-06-10T08:00:00Z')]);
    const wh = join(tmp.dir, 'wh-null');
    const r = await build('delta', D1, join(raw, '*.ndjson'), wh);
    expect(r.code, r.stderr).toBe(0);
    expect(step(r)).toMatchObject({ committed: 96, missing_input: 0 });
    const all = manifests(wh);
    for (const [hh, mm] of BATCHES) {
      const m = all.get(partitionPath('delta', D1, hh, mm))!;
      expect(m.inputs, m.partition).toEqual([rawInput(Number(hh) < 12 ? am : pm), rawInput(nulls)]);
      expect(m.notes.run_dq_unplaced, m.partition).toMatchObject({ null_event_start: 1, outside_batch: 1 });
    }
    expect(all.get(partitionPath('delta', D1, '00', '00'))!.row_count).toBe(1);
    // Day 2 is fed by the nulls file alone and has no event in it: still a gap.
    const r2 = await build('delta', D2, join(raw, '*.ndjson'), wh);
    expectOneLineError(r2, 3, 'input not ready');
    expect(partitionsOf(wh, 'delta', D2)).toEqual([]);
  });

  it('(d) an unparseable event_start fails the build of a day the file may feed: exit 1, one line, nothing committed', async () => {
    const raw = join(tmp.dir, 'raw-bad');
    mkdirSync(raw, { recursive: true });
    copyFileSync(AM, join(raw, 'd1-am.ndjson'));
    copyFileSync(PM, join(raw, 'd1-pm.ndjson'));
    // Its only parseable event is on 2026-06-20; the bad value could be any time, so it feeds day 1.
    const bad = writeNdjson(join(raw, 'bad.ndjson'), [ev('2026-06-20T08:00:00Z'), { ...ev('2026-06-20T08:00:00Z'), event_start: '20/06/2026 08:00' }]);
    const wh = join(tmp.dir, 'wh-bad');
    const r = await build('delta,delta_peers,pair_counts', D1, join(raw, '*.ndjson'), wh);
    expectOneLineError(r, 1, bad, 'event_start', 'timestamp_format iso', '20/06/2026 08:00');
    expect([...manifests(wh).keys()]).toEqual([]);
    // The same glob without the bad file builds day 1.
    const good = await build('delta,delta_peers,pair_counts', D1, join(raw, 'd1-*.ndjson'), join(tmp.dir, 'wh-bad-control'));
    expect(good.code, good.stderr).toBe(0);
  });
});

// ---------------------------------------------------------------------------
// (e) FG-A with --upstream over a glob of two days: the 30-day look-back
// ---------------------------------------------------------------------------
describe('build fg-a --upstream over a plain glob of two days', () => {
  it('one lookback_gap warning for the 30 days without files; FG-A reads the previous day and its history', async () => {
    const raw = join(tmp.dir, 'raw-fga');
    // Day 1: 8.8.8.8:53 early and late (whole-day span); day 2: 8.8.8.8:53 and a new peer 1.1.1.1:443 at 00:05/00:06, one late event.
    writeNdjson(join(raw, 'd1.ndjson'), [ev(`${D1}T00:00:05Z`), ev(`${D1}T10:00:00Z`), ev(`${D1}T23:50:00Z`)]);
    writeNdjson(join(raw, 'd2.ndjson'), [ev(`${D2}T00:05:00Z`), ev(`${D2}T00:06:00Z`, '1.1.1.1', 443), ev(`${D2}T23:59:00Z`)]);
    const specs = writeTestJobSpecs(join(tmp.dir, 'specs-fga'), 'daily'); // windows w_15m, w_1h; lookback_days 30
    const wh = join(tmp.dir, 'wh-fga');
    const r = await build('fg-a', D2, join(raw, '*.ndjson'), wh, '--upstream', '--jobspecs', specs);
    expect(r.code, r.stderr).toBe(0);
    const ev_ = events(r.stdout);
    const gaps = ev_.filter((e) => e.event === 'lookback_gap');
    // Look-back of 2026-06-02: days from floor(06-02 - 1 h - 30 d) = 05-02 to 06-01; only 06-01 has a file.
    expect(gaps).toHaveLength(1);
    expect(gaps[0]).toMatchObject({ before: D2, days_without_raw: 30, first: '2026-05-02', last: '2026-05-31' });
    expect(ev_.filter((e) => e.event === 'upstream_gap' || e.event === 'input_not_ready')).toEqual([]);

    // The raw stage exists for the two days of the files only.
    const parts = [...manifests(wh).keys()];
    const days = (ds: string) => [...new Set(parts.filter((p) => p.startsWith(`${ds}/`)).map((p) => /dt=([\d-]+)/.exec(p)![1]))].sort();
    expect(days('delta')).toEqual([D1, D2]);
    expect(days('delta_peers')).toEqual([D1, D2]);
    expect(partitionsOf(wh, 'delta', D1)).toHaveLength(96);
    expect(partitionsOf(wh, 'fg_a', D2)).toHaveLength(96);
    expect(days('fg_a')).toEqual([D2]);

    const { rows } = await datasetRows(wh, 'fg_a');
    const at = (hh: string, mm: string, w: string) => rows.filter((x) => x.hh === hh && x.mm === mm && x.window_label === w);
    // Anchor 00:15 (batch 00:00): w_15m holds the two day-2 sessions; w_1h (23:15, 00:15] adds day 1's 23:50.
    const [w15] = at('00', '00', 'w_15m');
    expect(at('00', '00', 'w_15m')).toHaveLength(1);
    expect([w15.host_ip, w15.role, Number(w15.sessions_cnt), Number(w15.peer_ip_nunique)]).toEqual(['10.0.0.1', 'outbound', 2, 2]);
    // Novelty over day 1's history: 8.8.8.8 was seen, 1.1.1.1 (and port 443) was not.
    expect([Number(w15.new_peer_cnt), Number(w15.new_port_cnt), Number(w15.new_pair_cnt)]).toEqual([1, 1, 1]);
    const [w1h] = at('00', '00', 'w_1h');
    expect([Number(w1h.sessions_cnt), Number(w1h.new_peer_cnt)]).toEqual([3, 1]);
    // Anchor 00:30 (batch 00:15): w_15m has nothing (no row), w_1h still the three sessions.
    expect(at('00', '15', 'w_15m')).toEqual([]);
    expect(Number(at('00', '15', 'w_1h')[0].sessions_cnt)).toBe(3);
    // Rows: w_15m at the two active batches (00:00, 23:45); w_1h at the anchors whose hour holds a session:
    // 00:00..00:45 (the 00:05/00:06 and 23:50 sessions) and 23:45 (23:59).
    const labels = rows.map((x) => `${x.hh}:${x.mm} ${x.window_label}`).sort();
    expect(labels).toEqual(['00:00 w_15m', '00:00 w_1h', '00:15 w_1h', '00:30 w_1h', '00:45 w_1h', '23:45 w_15m', '23:45 w_1h']);
  }, 180_000);
});
