/**
 * FG-B templates (sql/v1/fg_b_*.sql) against hand-built inputs. Expected numbers are
 * computed by hand in comments, or independently here from the raw values (linear
 * quantiles as numpy `percentile(method="linear")`, true MAD), with explicit tolerances.
 *
 * Execution order: fg_b_run, fg_b_capped, fg_b_groups, fg_b_obs, fg_b_stats, fg_b_host (+ fg_b_widen),
 * fg_b_segment (+ fg_b_widen), fg_b_ip_metadata, fg_b_pair_host, fg_b_pair_segment.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Session } from '../src/engine/session.ts';
import { loadTemplate } from '../src/engine/templates.ts';
import { createParamTable, setVariables, type Scalar } from '../src/engine/params.ts';

// ------------------------------------------------------------------ independent reference math
function quantile(values: number[], q: number): number | null {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, s.length - 1);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}
const median = (v: number[]) => quantile(v, 0.5);
function mad(values: number[]): number | null {
  const m = median(values);
  return m === null ? null : median(values.map((x) => Math.abs(x - m)));
}
function expectStats(row: Record<string, unknown>, metric: string, values: number[]) {
  const close = (col: string, want: number | null) => {
    const got = row[`${metric}_${col}`] as number | null;
    if (want === null) expect(got, `${metric}_${col}`).toBeNull();
    else expect(got, `${metric}_${col}`).toBeCloseTo(want, 9);
  };
  close('median', median(values));
  close('p25', quantile(values, 0.25));
  close('p75', quantile(values, 0.75));
  close('p95', quantile(values, 0.95));
  close('p99', quantile(values, 0.99));
  close('mad', mad(values));
  const p25 = quantile(values, 0.25);
  const p75 = quantile(values, 0.75);
  close('iqr', p25 === null || p75 === null ? null : p75 - p25);
}

// ------------------------------------------------------------------------------ input builders
const FGA_COLUMNS: Record<string, string> = {
  host_ip: 'VARCHAR',
  role: 'VARCHAR',
  window_label: 'VARCHAR',
  window_start_ts: 'TIMESTAMP',
  window_end_ts: 'TIMESTAMP',
  segment_id: 'VARCHAR',
  record_id: 'VARCHAR',
  sessions_cnt: 'BIGINT',
  bytes_src_sum: 'BIGINT',
  deny_ratio: 'DOUBLE',
  hour_of_day: 'INTEGER',
  time_band: 'VARCHAR',
  dt: 'VARCHAR',
  hh: 'VARCHAR',
  mm: 'VARCHAR',
  mini_batch_id: 'VARCHAR',
  feature_spec_version: 'VARCHAR',
};

interface Obs {
  host: string;
  seg: string | null;
  role?: string;
  wl: string;
  band?: string | null;
  /** minutes after 2026-11-16 00:00 UTC of window_end_ts */
  t: number;
  sessions: number | null;
  bytes?: number | null;
  deny?: number | null;
}

const BASE = Date.UTC(2026, 10, 16, 0, 0, 0);
const ts = (minutes: number) => new Date(BASE + minutes * 60_000).toISOString().replace('T', ' ').replace('.000Z', '');

function fgaRow(o: Obs): Scalar[] {
  const end = ts(o.t);
  return [
    o.host, o.role ?? 'outbound', o.wl, ts(o.t - 15), end, o.seg, `${o.host}|${o.role ?? 'outbound'}|${o.wl}|${end}`,
    o.sessions, o.bytes ?? 1000, o.deny === undefined ? 0.1 : o.deny, 12, o.band === undefined ? 'working_hours' : o.band,
    end.slice(0, 10), '00', '00', 'x', 'v1',
  ];
}

const S1 = '10.0.0.0/24';
const S2 = '10.0.1.0/24';
const A = '10.0.0.1';
const B = '10.0.0.2';
const C = '10.0.0.3';
const D = '10.0.1.4';

/**
 * The observations:
 *  - w_15m (S1, outbound, working): A = 10,12,11,13,1000 and B = 10 x5. The segment median is 10
 *    and its MAD 0, so every z is 0 and nothing is capped, 1000 included (capping with mad 0).
 *  - w_1h: A = 10,20,30,40,1000 and B = 15,25,35,45,50. Segment values sorted
 *    10,15,20,25,30,35,40,45,50,1000: median (30+35)/2 = 32.5; |dev| sorted
 *    2.5,2.5,7.5,7.5,12.5,12.5,17.5,17.5,22.5,967.5: MAD 12.5. A's 1000 has
 *    z = 967.5 / 12.500001 = 77.4 > 6: capped. The next largest |z| is 22.5/12.5 = 1.8.
 *  - w_30m: A = 10,20,30,40,50, B = 15,25,35,45,55, C = 5000,6000. Median (35+40)/2 = 37.5,
 *    MAD (12.5+17.5)/2 = 15; C's z are 330.8 and 397.5: both capped (an all-capped host group).
 *  - w_15m (S2): D = 0,5,5,5,5,1,10 (MAD 0, IQR 2 = p75 5 - p25 3).
 */
function observations(): Obs[] {
  const rows: Obs[] = [];
  const add = (host: string, seg: string, wl: string, values: (number | null)[], extra: Partial<Obs> = {}) =>
    values.forEach((v, i) => rows.push({ host, seg, wl, t: 60 * (i + 1), sessions: v, ...extra }));
  add(A, S1, 'w_15m', [10, 12, 11, 13, 1000]);
  add(B, S1, 'w_15m', [10, 10, 10, 10, 10]);
  add(A, S1, 'w_1h', [10, 20, 30, 40, 1000]);
  add(B, S1, 'w_1h', [15, 25, 35, 45, 50]);
  add(A, S1, 'w_30m', [10, 20, 30, 40, 50]);
  add(B, S1, 'w_30m', [15, 25, 35, 45, 55]);
  add(C, S1, 'w_30m', [5000, 6000]);
  add(D, S2, 'w_15m', [0, 5, 5, 5, 5, 1, 10]);
  // deny_ratio with a NULL (A w_15m): support 4 of 5 rows.
  for (const [i, d] of [0.1, null, 0.3, 0.2, 0.5].entries()) {
    const r = rows.find((o) => o.host === A && o.wl === 'w_15m' && o.t === 60 * (i + 1))!;
    r.deny = d;
  }
  return rows;
}

const RANGE = { horizon: '7d', range_start: '2026-11-16 00:00:00', range_end: '2026-11-23 00:00:00', reference_date: '2026-11-25' };

async function setup(s: Session, opts: { obs?: Obs[]; baseline?: [string, number][]; inventory?: [string, string][]; prefixes?: string[] } = {}) {
  await setVariables(s, { eps: 1e-6, z_max: 6, w_anom: 0.1, rarity_threshold: 0.5, feature_spec_version: 'v1' });
  const obs = opts.obs ?? observations();
  // An observation outside the range (window_end_ts = range_end) must never be read.
  const outside = fgaRow({ host: A, seg: S1, wl: 'w_1h', t: 7 * 1440, sessions: 999999 });
  await createParamTable(s, { name: 'fga', columns: FGA_COLUMNS, rows: [...obs.map(fgaRow), outside] });
  await s.run(`CREATE OR REPLACE TEMP VIEW fg_a_in AS SELECT * FROM fga`);
  await createParamTable(s, {
    name: 'p_baseline_metrics',
    columns: { metric: 'VARCHAR', support_min: 'INTEGER' },
    rows: opts.baseline ?? [['deny_ratio', 50], ['sessions_cnt', 3], ['bytes_src_sum', 3]],
  });
  await createParamTable(s, { name: 'p_key_metrics', columns: { metric: 'VARCHAR' }, rows: [['sessions_cnt']] });
  await createParamTable(s, { name: 'p_required_metrics', columns: { metric: 'VARCHAR' }, rows: [['sessions_cnt']] });
  await createParamTable(s, { name: 'p_inventory', columns: { ip: 'VARCHAR', machine_name: 'VARCHAR' }, rows: opts.inventory ?? [] });
  await createParamTable(s, { name: 'p_np_prefixes', columns: { prefix: 'VARCHAR' }, rows: (opts.prefixes ?? []).map((p) => [p]) });
  // pair_counts: (A -> 10.9.9.9:443) on two UTC days, (B -> same) once, one batch outside the range.
  await createParamTable(s, {
    name: 'pair_counts_in',
    columns: { src_ip: 'VARCHAR', dst_ip: 'VARCHAR', dst_port: 'INTEGER', segment_id: 'VARCHAR', sessions_cnt: 'BIGINT', event_ts: 'TIMESTAMP', slice_start_ts: 'TIMESTAMP' },
    rows: [
      [A, '10.9.9.9', 443, S1, 3, ts(615), ts(600)],
      [A, '10.9.9.9', 443, S1, 2, ts(630), ts(615)],
      [A, '10.9.9.9', 443, S1, 4, ts(1440 + 615), ts(1440 + 600)],
      [B, '10.9.9.9', 443, S1, 1, ts(1440 + 15), ts(1440)],
      [D, '10.9.9.9', 53, S2, 7, ts(15), ts(0)],
      [A, '10.9.9.9', 443, S1, 100, ts(7 * 1440 + 15), ts(7 * 1440)], // slice_start = range_end: outside
      [A, '10.9.9.9', 443, S1, 100, ts(-15), ts(-30)], // before range_start: outside
    ],
  });
}

const templateText = async (name: string) => (await loadTemplate('v1', name)).text;

/** fg_b_stats once per chunk of metrics, appended to fgb_stats_long (as build-fg-b.ts does). */
async function runStats(s: Session, metricChunks: (string[] | null)[] = [null]) {
  for (const [i, chunk] of metricChunks.entries()) {
    if (chunk) await s.run(`SET VARIABLE fgb_metrics = ${JSON.stringify(chunk).replaceAll('"', "'")}`);
    else await s.run(`RESET VARIABLE fgb_metrics`);
    const into = i === 0 ? 'CREATE OR REPLACE TEMP TABLE fgb_stats_long AS' : 'INSERT INTO fgb_stats_long';
    await s.run(`${into} ${await templateText('fg_b_stats')}`);
  }
}

async function runFgB(s: Session, names = ['fg_b_run', 'fg_b_capped', 'fg_b_obs', 'fg_b_host', 'fg_b_segment', 'fg_b_ip_metadata', 'fg_b_pairs', 'fg_b_pair_host', 'fg_b_pair_segment']) {
  for (const name of names) {
    const table = name.replace(/^fg_b_/, 'fgb_');
    // As the runner does: fg_b_obs comes with its group ids (fg_b_groups) and is followed by the
    // statistics of both levels (fg_b_stats, here in one chunk of whatever fgb_metrics selects);
    // fg_b_host and fg_b_segment are the view fgb_keys, through which fg_b_widen turns that
    // level's statistics into the contract's table.
    if (name === 'fg_b_obs') {
      await s.run(`CREATE OR REPLACE TEMP TABLE fgb_groups AS ${await templateText('fg_b_groups')}`);
      await s.run(`CREATE OR REPLACE TEMP TABLE fgb_obs AS ${await templateText('fg_b_obs')}`);
      await s.run(`CREATE OR REPLACE TEMP TABLE fgb_stats_long AS ${await templateText('fg_b_stats')}`);
    } else if (name === 'fg_b_host' || name === 'fg_b_segment') {
      await s.run(`CREATE OR REPLACE TEMP VIEW fgb_keys AS ${await templateText(name)}`);
      await s.run(`CREATE OR REPLACE TEMP TABLE ${table} AS ${await templateText('fg_b_widen')}`, RANGE);
    } else await s.run(`CREATE OR REPLACE TEMP TABLE ${table} AS ${await templateText(name)}`, RANGE);
  }
}

type Row = Record<string, any>;
const hostRow = (rows: Row[], host: string, wl: string) => rows.find((r) => r.host_ip === host && r.window_label === wl)!;

describe('fg_b templates', () => {
  let s: Session;
  beforeEach(async () => {
    s = await Session.open({ specVersion: 'v1', threads: 1 });
  });
  afterEach(() => s.close());

  it('caps per §6.1: mad 0 gives z 0; a far outlier is capped; all-capped groups', async () => {
    await setup(s);
    await runFgB(s, ['fg_b_run', 'fg_b_capped']);
    const capped = await s.all<Row>(`SELECT host_ip, window_label, max_abs_z, anomaly_weight FROM fgb_capped ORDER BY host_ip, window_label, max_abs_z`);
    // w_15m: A's 1000 is not capped although far from the median, because the segment MAD is 0.
    expect(capped.map((r) => [r.host_ip, r.window_label])).toEqual([
      [A, 'w_1h'],
      [C, 'w_30m'],
      [C, 'w_30m'],
    ]);
    expect(capped[0].max_abs_z).toBeCloseTo(967.5 / (12.5 + 1e-6), 9);
    expect(capped[1].max_abs_z).toBeCloseTo((5000 - 37.5) / (15 + 1e-6), 9);
    expect(capped[2].max_abs_z).toBeCloseTo((6000 - 37.5) / (15 + 1e-6), 9);
    expect(capped.every((r) => r.anomaly_weight === 0.1)).toBe(true);
  });

  it('host baselines: exact quantiles, true MAD, capped rows out of stats but in support', async () => {
    await setup(s);
    await runFgB(s, ['fg_b_run', 'fg_b_capped', 'fg_b_obs', 'fg_b_host']);
    const rows = await s.all<Row>(`SELECT * FROM fgb_host ORDER BY host_ip, window_label`);
    expect(rows.length).toBe(8); // A x3, B x3, C x1, D x1

    // A w_1h: the 1000 row is capped. Stats over 10,20,30,40: median 25, p25 = 10 + .75*10 = 17.5,
    // p75 = 30 + .25*10 = 32.5, p95 = 30 + .85*10 = 38.5, p99 = 39.7, MAD median(15,5,5,15) = 10, IQR 15.
    const a1h = hostRow(rows, A, 'w_1h');
    expect(a1h.sessions_cnt_median).toBe(25);
    expect(a1h.sessions_cnt_p25).toBe(17.5);
    expect(a1h.sessions_cnt_p75).toBe(32.5);
    expect(a1h.sessions_cnt_p95).toBeCloseTo(38.5, 12);
    expect(a1h.sessions_cnt_p99).toBeCloseTo(39.7, 12);
    expect(a1h.sessions_cnt_mad).toBe(10);
    expect(a1h.sessions_cnt_iqr).toBe(15);
    expect(a1h.sessions_cnt_support_count).toBe(5); // capped row included
    expect(a1h.sessions_cnt_cold_start_flag).toBe(0); // 5 >= 3
    expect(a1h.capped_rows).toBe(1);
    expect(a1h.total_rows).toBe(5);
    expect(a1h.record_id).toBe(`${A}|outbound|${S1}|working_hours|w_1h|7d`);
    expect(a1h.baseline_horizon).toBe('7d');
    expect(a1h.reference_date).toBe('2026-11-25');
    expect(a1h.feature_spec_version).toBe('v1');

    // A w_15m: nothing capped (mad 0 in the segment), so stats over all five values.
    const a15 = hostRow(rows, A, 'w_15m');
    expectStats(a15, 'sessions_cnt', [10, 12, 11, 13, 1000]);
    // deny_ratio has a NULL: stats over 0.1,0.3,0.2,0.5; support 4 < support_min 50 -> cold flag.
    expectStats(a15, 'deny_ratio', [0.1, 0.3, 0.2, 0.5]);
    expect(a15.deny_ratio_support_count).toBe(4);
    expect(a15.deny_ratio_cold_start_flag).toBe(1);
    expectStats(a15, 'bytes_src_sum', [1000, 1000, 1000, 1000, 1000]);

    // B w_15m: all 10 -> MAD 0 and IQR 0.
    const b15 = hostRow(rows, B, 'w_15m');
    expect([b15.sessions_cnt_median, b15.sessions_cnt_mad, b15.sessions_cnt_iqr]).toEqual([10, 0, 0]);

    // D (S2): 0,1,5,5,5,5,10 -> median 5, MAD 0, p25 = 1 + .5*(5-1) = 3, p75 = 5: IQR 2 (MAD 0, IQR not).
    const d = hostRow(rows, D, 'w_15m');
    expect([d.sessions_cnt_median, d.sessions_cnt_mad, d.sessions_cnt_p25, d.sessions_cnt_p75, d.sessions_cnt_iqr]).toEqual([5, 0, 3, 5, 2]);

    // C w_30m: every row capped -> statistics NULL, support still 2 (< 3 -> cold flag 1).
    const c = hostRow(rows, C, 'w_30m');
    for (const col of ['median', 'p25', 'p75', 'p95', 'p99', 'mad', 'iqr']) expect(c[`sessions_cnt_${col}`]).toBeNull();
    expect(c.deny_ratio_median).toBeNull();
    expect(c.sessions_cnt_support_count).toBe(2);
    expect(c.sessions_cnt_cold_start_flag).toBe(1);
    expect([c.capped_rows, c.total_rows]).toEqual([2, 2]);

    // The observation at window_end_ts = range_end (999999) was never read.
    expect(rows.every((r) => r.sessions_cnt_p99 === null || r.sessions_cnt_p99 < 999999)).toBe(true);
  });

  it('host output columns follow the contract and p_baseline_metrics order', async () => {
    await setup(s);
    await runFgB(s, ['fg_b_run', 'fg_b_capped', 'fg_b_obs', 'fg_b_host', 'fg_b_segment']);
    const stats = ['median', 'p25', 'p75', 'p95', 'p99', 'mad', 'iqr', 'support_count', 'cold_start_flag'];
    const perMetric = ['deny_ratio', 'sessions_cnt', 'bytes_src_sum'].flatMap((m) => stats.map((st) => `${m}_${st}`));
    const tail = ['capped_rows', 'total_rows', 'baseline_start_ts', 'baseline_end_ts', 'reference_date', 'record_id', 'feature_spec_version'];
    const host = await s.describe('fgb_host');
    expect(host.map((c) => c.name)).toEqual(['host_ip', 'role', 'segment_id', 'time_band', 'window_label', 'baseline_horizon', ...perMetric, ...tail]);
    const seg = await s.describe('fgb_segment');
    expect(seg.map((c) => c.name)).toEqual(['segment_id', 'role', 'time_band', 'window_label', 'baseline_horizon', ...perMetric, ...tail]);
    const types = Object.fromEntries(host.map((c) => [c.name, c.type]));
    expect([types.sessions_cnt_median, types.sessions_cnt_mad, types.sessions_cnt_support_count, types.sessions_cnt_cold_start_flag]).toEqual([
      'DOUBLE', 'DOUBLE', 'BIGINT', 'INTEGER',
    ]);
    expect([types.capped_rows, types.total_rows, types.baseline_start_ts, types.reference_date]).toEqual(['BIGINT', 'BIGINT', 'TIMESTAMP', 'VARCHAR']);
    // hour_of_day is a numeric FG-A column but not a baseline metric here: not in the output.
    expect(host.some((c) => c.name.startsWith('hour_of_day'))).toBe(false);
    const r = await s.one<Row>(`SELECT baseline_start_ts::VARCHAR AS a, baseline_end_ts::VARCHAR AS b FROM fgb_host LIMIT 1`);
    expect([r.a, r.b]).toEqual(['2026-11-16 00:00:00', '2026-11-23 00:00:00']);
  });

  it('segment baselines pool the hosts of the segment, excluding capped rows', async () => {
    await setup(s);
    await runFgB(s, ['fg_b_run', 'fg_b_capped', 'fg_b_obs', 'fg_b_segment']);
    const rows = await s.all<Row>(`SELECT * FROM fgb_segment ORDER BY segment_id, window_label`);
    expect(rows.map((r) => [r.segment_id, r.window_label])).toEqual([
      [S1, 'w_15m'],
      [S1, 'w_1h'],
      [S1, 'w_30m'],
      [S2, 'w_15m'],
    ]);
    const byWl = (seg: string, wl: string) => rows.find((r) => r.segment_id === seg && r.window_label === wl)!;
    expectStats(byWl(S1, 'w_15m'), 'sessions_cnt', [10, 12, 11, 13, 1000, 10, 10, 10, 10, 10]);
    // w_1h without A's capped 1000: 10..50 (9 values): median 30.
    expectStats(byWl(S1, 'w_1h'), 'sessions_cnt', [10, 20, 30, 40, 15, 25, 35, 45, 50]);
    expect(byWl(S1, 'w_1h').sessions_cnt_median).toBe(30);
    expect(byWl(S1, 'w_1h').sessions_cnt_support_count).toBe(10);
    expect([byWl(S1, 'w_1h').capped_rows, byWl(S1, 'w_1h').total_rows]).toEqual([1, 10]);
    expectStats(byWl(S1, 'w_30m'), 'sessions_cnt', [10, 20, 30, 40, 50, 15, 25, 35, 45, 55]);
    expect([byWl(S1, 'w_30m').capped_rows, byWl(S1, 'w_30m').total_rows, byWl(S1, 'w_30m').sessions_cnt_support_count]).toEqual([2, 12, 12]);
    expect(byWl(S2, 'w_15m').record_id).toBe(`${S2}|outbound|working_hours|w_15m|7d`);
  });

  it('ip_metadata: full history, empty inventory', async () => {
    await setup(s);
    await runFgB(s, ['fg_b_run', 'fg_b_capped', 'fg_b_obs', 'fg_b_host', 'fg_b_ip_metadata']);
    const rows = await s.all<Row>(`SELECT * FROM fgb_ip_metadata ORDER BY host_ip, window_label`);
    expect(rows.length).toBe(8);
    // sessions_cnt support_min 3: C (2 rows) lacks history, everyone else has it.
    const c = hostRow(rows, C, 'w_30m');
    expect([c.is_full_history, c.is_non_persistent_machine, c.is_cold_start, c.machine_name]).toEqual([0, 0, 1, null]);
    const a = hostRow(rows, A, 'w_1h');
    expect([a.is_full_history, a.is_non_persistent_machine, a.is_cold_start, a.machine_name]).toEqual([1, 0, 0, null]);
    expect(a.reference_date).toBe('2026-11-25');
    const cols = (await s.describe('fgb_ip_metadata')).map((x) => `${x.name}:${x.type}`);
    expect(cols).toEqual([
      'host_ip:VARCHAR', 'role:VARCHAR', 'segment_id:VARCHAR', 'time_band:VARCHAR', 'window_label:VARCHAR', 'baseline_horizon:VARCHAR',
      'is_full_history:INTEGER', 'is_non_persistent_machine:INTEGER', 'is_cold_start:INTEGER', 'machine_name:VARCHAR',
      'reference_date:VARCHAR', 'feature_spec_version:VARCHAR',
    ]);
  });

  it('ip_metadata: non-persistent prefix matches case-insensitively', async () => {
    await setup(s, { inventory: [[A, 'VDI-Pool-07'], [` ${B} `, 'laptop-vdi'], [D, 'citrix01']], prefixes: ['vdi-', 'CITRIX'] });
    await runFgB(s, ['fg_b_run', 'fg_b_capped', 'fg_b_obs', 'fg_b_host', 'fg_b_ip_metadata']);
    const rows = await s.all<Row>(`SELECT * FROM fgb_ip_metadata ORDER BY host_ip, window_label`);
    const a = hostRow(rows, A, 'w_1h');
    expect([a.is_full_history, a.is_non_persistent_machine, a.is_cold_start, a.machine_name]).toEqual([1, 1, 1, 'VDI-Pool-07']);
    // 'laptop-vdi' contains but does not start with 'vdi-'; the inventory IP is trimmed.
    const b = hostRow(rows, B, 'w_1h');
    expect([b.is_non_persistent_machine, b.is_cold_start, b.machine_name]).toEqual([0, 0, 'laptop-vdi']);
    const d = hostRow(rows, D, 'w_15m');
    expect([d.is_non_persistent_machine, d.is_cold_start]).toEqual([1, 1]);
  });

  it('pair rarity, host and segment level, over the range only', async () => {
    await setup(s);
    await runFgB(s, ['fg_b_run', 'fg_b_pairs', 'fg_b_pair_host', 'fg_b_pair_segment']);
    const host = await s.all<Row>(`SELECT * EXCLUDE (pair_last_seen_ts), pair_last_seen_ts::VARCHAR AS last FROM fgb_pair_host ORDER BY src_ip, dst_port`);
    // A -> 10.9.9.9:443: 3 + 2 + 4 = 9 sessions on 2 UTC days (11-16, 11-17): avg 4.5, rarity 1/10.
    expect(host[0]).toMatchObject({ src_ip: A, dst_ip: '10.9.9.9', dst_port: 443, pair_seen_count: 9, active_days: 2, pair_daily_avg: 4.5, is_rare_pair_flag: 0 });
    expect(host[0].pair_rarity_score).toBeCloseTo(0.1, 15);
    expect(host[0].last).toBe('2026-11-17 10:15:00');
    // B: 1 session -> rarity 1/2 = 0.5 >= threshold 0.5 -> rare.
    expect(host[1]).toMatchObject({ src_ip: B, pair_seen_count: 1, active_days: 1, pair_daily_avg: 1, pair_rarity_score: 0.5, is_rare_pair_flag: 1 });
    expect(host[2]).toMatchObject({ src_ip: D, dst_port: 53, pair_seen_count: 7, pair_rarity_score: 0.125, baseline_horizon: '7d', reference_date: '2026-11-25' });
    expect(host.length).toBe(3);
    const seg = await s.all<Row>(`SELECT * FROM fgb_pair_segment ORDER BY segment_id`);
    // S1 -> 10.9.9.9:443: 9 + 1 = 10 sessions over 2 days: avg 5, rarity 1/11.
    expect(seg[0]).toMatchObject({ segment_id: S1, dst_ip: '10.9.9.9', dst_port: 443, pair_seen_count: 10, active_days: 2, pair_daily_avg: 5 });
    expect(seg[0].pair_rarity_score).toBeCloseTo(1 / 11, 15);
    expect(seg[1]).toMatchObject({ segment_id: S2, pair_seen_count: 7 });
    const cols = (await s.describe('fgb_pair_host')).map((x) => `${x.name}:${x.type}`);
    expect(cols).toEqual([
      'src_ip:VARCHAR', 'dst_ip:VARCHAR', 'dst_port:INTEGER', 'pair_seen_count:BIGINT', 'pair_last_seen_ts:TIMESTAMP', 'active_days:BIGINT',
      'pair_daily_avg:DOUBLE', 'pair_rarity_score:DOUBLE', 'is_rare_pair_flag:INTEGER', 'baseline_horizon:VARCHAR', 'reference_date:VARCHAR',
      'feature_spec_version:VARCHAR',
    ]);
  });

  it('an empty range still produces the (empty) tables with the full schema', async () => {
    await setup(s, { obs: [] });
    await runFgB(s);
    expect((await s.one<Row>(`SELECT count(*) AS n FROM fgb_host`)).n).toBe(0);
    expect((await s.describe('fgb_host')).length).toBe(6 + 3 * 9 + 7);
    expect((await s.one<Row>(`SELECT count(*) AS n FROM fgb_segment`)).n).toBe(0);
    expect((await s.one<Row>(`SELECT count(*) AS n FROM fgb_ip_metadata`)).n).toBe(0);
  });

  it('fgb_key_metrics / fgb_metrics (set by build-fg-b.ts) only narrow what is read and computed', async () => {
    await setup(s);
    const snapshot = async (table: string, order: string) => JSON.stringify(await s.all<Row>(`SELECT * FROM ${table} ORDER BY ${order}`));
    await runFgB(s, ['fg_b_run', 'fg_b_capped', 'fg_b_obs', 'fg_b_host', 'fg_b_segment']);
    const capped = await snapshot('fgb_capped', 'host_ip, window_label, window_end_ts');
    const host = await snapshot('fgb_host', 'host_ip, window_label');
    const segment = await snapshot('fgb_segment', 'segment_id, window_label');
    // The pipeline's settings: the key metrics, then all baseline metrics: the same tables.
    await s.run(`SET VARIABLE fgb_key_metrics = ['sessions_cnt']`);
    await s.run(`SET VARIABLE fgb_metrics = ['deny_ratio', 'sessions_cnt', 'bytes_src_sum']`);
    await runFgB(s, ['fg_b_capped', 'fg_b_obs', 'fg_b_host', 'fg_b_segment']);
    expect(await snapshot('fgb_capped', 'host_ip, window_label, window_end_ts')).toBe(capped);
    expect(await snapshot('fgb_host', 'host_ip, window_label')).toBe(host);
    expect(await snapshot('fgb_segment', 'segment_id, window_label')).toBe(segment);
    // The observations keep only those metric columns.
    expect((await s.describe('fgb_obs')).map((c) => c.name)).toEqual(['hid', 'sid', 'is_capped__', 'sessions_cnt', 'bytes_src_sum', 'deny_ratio']);
    // One chunk of metrics: its statistics are those of the full run, the others' are NULL,
    // the row counts are the same.
    await runStats(s, [['sessions_cnt']]);
    await runFgB(s, ['fg_b_segment']);
    const full = JSON.parse(segment) as Row[];
    const chunk = await s.all<Row>(`SELECT * FROM fgb_segment ORDER BY segment_id, window_label`);
    expect(chunk.length).toBe(full.length);
    for (const [i, r] of chunk.entries()) {
      for (const [col, v] of Object.entries(r)) {
        if (col.startsWith('deny_ratio_') || col.startsWith('bytes_src_sum_')) expect(v, col).toBeNull();
        else expect(v === null ? null : JSON.parse(JSON.stringify(v)), col).toEqual(full[i][col]);
      }
    }
    // Both chunks appended (as build-fg-b.ts runs them when memory requires): exactly the
    // unchunked tables at both levels.
    await runStats(s, [['bytes_src_sum'], ['sessions_cnt', 'deny_ratio']]);
    await runFgB(s, ['fg_b_host', 'fg_b_segment']);
    expect(await snapshot('fgb_host', 'host_ip, window_label')).toBe(host);
    expect(await snapshot('fgb_segment', 'segment_id, window_label')).toBe(segment);
    await s.run(`RESET VARIABLE fgb_key_metrics; RESET VARIABLE fgb_metrics`);
  });

  it('groups: dense ids in segment-group then host order, NULL segment and band as groups of their own; observations in hid order', async () => {
    const E = '10.0.9.9'; // no segment
    const obs = [
      ...observations(),
      ...[3, 4, 5].map((v, i) => ({ host: E, seg: null, wl: 'w_15m', t: 60 * (i + 1), sessions: v })),
      ...[7, 8].map((v, i) => ({ host: A, seg: S1, wl: 'w_15m', band: null, t: 600 + 60 * i, sessions: v })),
    ];
    await setup(s, { obs });
    await runFgB(s, ['fg_b_run', 'fg_b_capped', 'fg_b_obs', 'fg_b_host', 'fg_b_segment']);
    const groups = await s.all<Row>(`SELECT host_ip, segment_id, time_band, window_label, hid, sid FROM fgb_groups ORDER BY hid`);
    // One row per host group: A x4 (w_15m in two bands, w_1h, w_30m), B x3, C, D, E.
    expect(groups.length).toBe(10);
    expect(groups.map((g) => Number(g.hid))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // Ordered by (segment_id, role, time_band, window_label) with NULLs last, then host; sid
    // numbers the segment groups densely in the same order.
    expect(groups.map((g) => [g.segment_id, g.time_band, g.window_label, g.host_ip, Number(g.sid)])).toEqual([
      [S1, 'working_hours', 'w_15m', A, 1],
      [S1, 'working_hours', 'w_15m', B, 1],
      [S1, 'working_hours', 'w_1h', A, 2],
      [S1, 'working_hours', 'w_1h', B, 2],
      [S1, 'working_hours', 'w_30m', A, 3],
      [S1, 'working_hours', 'w_30m', B, 3],
      [S1, 'working_hours', 'w_30m', C, 3],
      [S1, null, 'w_15m', A, 4],
      [S2, 'working_hours', 'w_15m', D, 5],
      [null, 'working_hours', 'w_15m', E, 6],
    ]);
    // Every observation of the range once, stored in hid order.
    const o = await s.one<Row>(`SELECT count(*) AS n, bool_and(hid >= prev) AS sorted FROM (SELECT hid, lag(hid, 1, 0) OVER (ORDER BY rowid) AS prev FROM fgb_obs)`);
    expect([Number(o.n), o.sorted]).toEqual([obs.length, true]);
    // The NULL segment and the NULL band are groups of their own at both levels.
    const host = await s.all<Row>(`SELECT host_ip, segment_id, time_band, sessions_cnt_median AS med, total_rows FROM fgb_host WHERE segment_id IS NULL OR time_band IS NULL ORDER BY host_ip`);
    expect(host).toEqual([
      { host_ip: A, segment_id: S1, time_band: null, med: 7.5, total_rows: 2 },
      { host_ip: E, segment_id: null, time_band: 'working_hours', med: 4, total_rows: 3 },
    ]);
    const seg = await s.all<Row>(`SELECT segment_id, time_band, sessions_cnt_median AS med, total_rows, record_id FROM fgb_segment WHERE segment_id IS NULL OR time_band IS NULL ORDER BY segment_id NULLS LAST`);
    expect(seg).toEqual([
      { segment_id: S1, time_band: null, med: 7.5, total_rows: 2, record_id: `${S1}|outbound||w_15m|7d` },
      { segment_id: null, time_band: 'working_hours', med: 4, total_rows: 3, record_id: '|outbound|working_hours|w_15m|7d' },
    ]);
  });

  it('a baseline metric missing from FG-A is a clear error', async () => {
    await setup(s, { baseline: [['sessions_cnt', 3], ['bytes_sent_sum', 50]] });
    await runFgB(s, ['fg_b_run', 'fg_b_capped']);
    await s.run(`CREATE TEMP TABLE fgb_groups AS ${await templateText('fg_b_groups')}`);
    await expect(s.run(`CREATE TEMP TABLE fgb_obs AS ${await templateText('fg_b_obs')}`)).rejects.toThrow(
      /baseline_metrics not found among numeric FG-A columns: bytes_sent_sum/,
    );
  });

  it('a capping key metric missing from FG-A (or not numeric) is a clear error', async () => {
    await setup(s);
    await createParamTable(s, { name: 'p_key_metrics', columns: { metric: 'VARCHAR' }, rows: [['sessions_cnt'], ['time_band'], ['bytes_sent_sum']] });
    await expect(runFgB(s, ['fg_b_run', 'fg_b_capped'])).rejects.toThrow(
      /fg_b: anomaly_capping\.key_metrics not found among numeric FG-A columns: bytes_sent_sum, time_band/,
    );
  });
});
