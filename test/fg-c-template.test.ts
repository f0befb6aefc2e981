/**
 * FG-C template (sql/v1/fg_c.sql) against hand-built FG-A rows and FG-B partitions.
 * Every expected number is derived in the comments from FEATURES.md §7 (eps = 1e-6,
 * z_max = 6, strong_z = 4, rarity_threshold = 0.5 unless a test says otherwise).
 */
import { setFgCVariables } from '../src/transforms/jobspec-params.ts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Session } from '../src/engine/session.ts';
import { loadTemplate } from '../src/engine/templates.ts';
import { createParamTable, setVariables, type Scalar } from '../src/engine/params.ts';

const T = '2026-11-24 12:00:00';
const S1 = '10.0.0.0/24';
const S2 = '10.0.1.0/24';
const H1 = '10.0.0.1';
const H2 = '10.0.0.2';
const H3 = '10.0.0.3';
const H4 = '10.0.1.4';
const REF = '2026-11-24';
const EPS = 1e-6;

/** FG-C metrics in output order, with their JobSpec scale_floor (null = family default). */
const METRICS: [string, number | null][] = [
  ['sessions_cnt', null], // counts: floor 1
  ['bytes_src_sum', null], // bytes_*_sum: floor 4096
  ['deny_ratio', null], // _ratio: floor 0.05
  ['duration_mean', null], // duration_*: floor 5
  ['peer_ip_nunique', 2], // explicit floor 2
  ['max_sessions_per_minute', null], // counts: floor 1
];
const M = METRICS.map(([m]) => m);
const TRANSFORMS = ['diff', 'z_mad', 'abs_dev_over_scale', 'z_mad_clipped', 'z_mad_signed_pow3', 'ratio', 'log_ratio', 'excess_over_p95', 'excess_ratio_p95', 'iqr_dev'];
const FAMILIES: [string, string][] = [
  ['anomaly_strength_core', 'sessions_cnt'],
  ['anomaly_strength_core', 'bytes_src_sum'],
  ['anomaly_strength_core', 'bytes_dst_sum'],
  ['anomaly_strength_core', 'deny_ratio'],
  ['anomaly_strength_core', 'peer_ip_nunique'],
  ['beacon_suspicion_score', 'max_sessions_per_minute'],
  ['beacon_suspicion_score', 'sessions_cnt'],
  ['exfiltration_suspicion_score', 'bytes_src_sum'],
  ['exfiltration_suspicion_score', 'bytes_asymmetry_ratio'],
  ['lateral_movement_score', 'peer_ip_nunique'],
  ['lateral_movement_score', 'peer_segment_nunique'],
  ['lateral_movement_score', 'admin_port_sessions_cnt'],
];

type X = Partial<Record<string, number | null>>;
interface Fga {
  host: string;
  role: string;
  wl: string;
  minutes: number;
  seg: string;
  x: X;
}
/** FG-A rows (metric columns as DOUBLE: FG-C casts every metric to DOUBLE anyway). */
async function fgaTable(s: Session, rows: Fga[]) {
  const cols: Record<string, string> = {
    host_ip: 'VARCHAR', role: 'VARCHAR', window_label: 'VARCHAR', window_start_ts: 'TIMESTAMP', window_end_ts: 'TIMESTAMP',
    segment_id: 'VARCHAR', record_id: 'VARCHAR',
  };
  for (const m of M) cols[m] = 'DOUBLE';
  Object.assign(cols, { hour_of_day: 'INTEGER', time_band: 'VARCHAR', dt: 'VARCHAR', hh: 'VARCHAR', mm: 'VARCHAR', mini_batch_id: 'VARCHAR', feature_spec_version: 'VARCHAR' });
  const start = (min: number) => new Date(Date.parse(T.replace(' ', 'T') + 'Z') - min * 60_000).toISOString().replace('T', ' ').replace('.000Z', '');
  await createParamTable(s, {
    name: 'fga',
    columns: cols,
    rows: rows.map((r) => [
      r.host, r.role, r.wl, start(r.minutes), T, r.seg, 'unused',
      ...M.map((m) => (r.x[m] === undefined ? 0 : r.x[m]!)),
      14, 'working_hours', '2026-11-24', '11', '45', '20261124T1145Z', 'v1',
    ] as Scalar[]),
  });
  await s.run(`CREATE OR REPLACE TEMP VIEW fg_a_in AS SELECT * FROM fga`);
}

interface St {
  med: number | null;
  mad: number | null;
  iqr: number | null;
  p95: number | null;
}
const STAT_COLS = ['median', 'p25', 'p75', 'p95', 'p99', 'mad', 'iqr', 'support_count', 'cold_start_flag'];
function statCells(st: Record<string, St>): Scalar[] {
  return M.flatMap((m) => {
    const v = st[m] ?? { med: 0, mad: 1, iqr: 1, p95: 0 };
    return [v.med, v.med, v.med, v.p95, v.p95, v.mad, v.iqr, 100, 0];
  });
}
function statColumns(): Record<string, string> {
  const cols: Record<string, string> = {};
  for (const m of M) for (const c of STAT_COLS) cols[`${m}_${c}`] = c === 'support_count' ? 'BIGINT' : c === 'cold_start_flag' ? 'INTEGER' : 'DOUBLE';
  return cols;
}
const TAIL = { capped_rows: 'BIGINT', total_rows: 'BIGINT', baseline_start_ts: 'TIMESTAMP', baseline_end_ts: 'TIMESTAMP', reference_date: 'VARCHAR', record_id: 'VARCHAR', feature_spec_version: 'VARCHAR' };
const tail = (): Scalar[] => [0, 100, '2026-11-15 00:00:00', '2026-11-22 00:00:00', REF, 'r', 'v1'];

interface Fgb {
  host: [string, string, string, string, Record<string, St>][]; // host, role, segment, window_label, stats
  segment: [string, string, string, Record<string, St>][]; // segment, role, window_label, stats
  meta: [string, string, string, string, number][]; // host, role, segment, window_label, is_cold_start
  pairHost: [string, string, number, number][]; // src, dst, port, rarity
  pairSegment: [string, string, number, number][]; // segment, dst, port, rarity
}
async function fgbTables(s: Session, b: Fgb) {
  const band = 'working_hours';
  await createParamTable(s, {
    name: 'fgb_host_t',
    columns: { host_ip: 'VARCHAR', role: 'VARCHAR', segment_id: 'VARCHAR', time_band: 'VARCHAR', window_label: 'VARCHAR', baseline_horizon: 'VARCHAR', ...statColumns(), ...TAIL },
    rows: b.host.map(([h, r, seg, wl, st]) => [h, r, seg, band, wl, '7d', ...statCells(st), ...tail()]),
  });
  await createParamTable(s, {
    name: 'fgb_segment_t',
    columns: { segment_id: 'VARCHAR', role: 'VARCHAR', time_band: 'VARCHAR', window_label: 'VARCHAR', baseline_horizon: 'VARCHAR', ...statColumns(), ...TAIL },
    rows: b.segment.map(([seg, r, wl, st]) => [seg, r, band, wl, '7d', ...statCells(st), ...tail()]),
  });
  await createParamTable(s, {
    name: 'fgb_ip_metadata_t',
    columns: {
      host_ip: 'VARCHAR', role: 'VARCHAR', segment_id: 'VARCHAR', time_band: 'VARCHAR', window_label: 'VARCHAR', baseline_horizon: 'VARCHAR',
      is_full_history: 'INTEGER', is_non_persistent_machine: 'INTEGER', is_cold_start: 'INTEGER', machine_name: 'VARCHAR', reference_date: 'VARCHAR', feature_spec_version: 'VARCHAR',
    },
    rows: b.meta.map(([h, r, seg, wl, cold]) => [h, r, seg, band, wl, '7d', 1 - cold, 0, cold, null, REF, 'v1']),
  });
  const pairCols = { pair_seen_count: 'BIGINT', pair_last_seen_ts: 'TIMESTAMP', active_days: 'BIGINT', pair_daily_avg: 'DOUBLE', pair_rarity_score: 'DOUBLE', is_rare_pair_flag: 'INTEGER', baseline_horizon: 'VARCHAR', reference_date: 'VARCHAR', feature_spec_version: 'VARCHAR' };
  const pairTail = (r: number): Scalar[] => [Math.round(1 / r - 1), '2026-11-20 00:00:00', 1, 1, r, r >= 0.5 ? 1 : 0, '7d', REF, 'v1'];
  await createParamTable(s, { name: 'fgb_pair_host_t', columns: { src_ip: 'VARCHAR', dst_ip: 'VARCHAR', dst_port: 'INTEGER', ...pairCols }, rows: b.pairHost.map(([a, d, p, r]) => [a, d, p, ...pairTail(r)]) });
  await createParamTable(s, { name: 'fgb_pair_segment_t', columns: { segment_id: 'VARCHAR', dst_ip: 'VARCHAR', dst_port: 'INTEGER', ...pairCols }, rows: b.pairSegment.map(([a, d, p, r]) => [a, d, p, ...pairTail(r)]) });
  for (const t of ['host', 'segment', 'ip_metadata', 'pair_host', 'pair_segment']) await s.run(`CREATE OR REPLACE TEMP VIEW fgb_${t}_in AS SELECT * FROM fgb_${t}_t`);
}

async function params(s: Session, opts: { eps?: number; transforms?: string[] } = {}) {
  await setVariables(s, { eps: opts.eps ?? EPS, z_max: 6, strong_z: 4, rarity_threshold: 0.5, feature_spec_version: 'v1' });
  await createParamTable(s, { name: 'p_fgc_metrics', columns: { metric: 'VARCHAR', scale_floor: 'DOUBLE' }, rows: METRICS });
  await createParamTable(s, { name: 'p_score_families', columns: { score: 'VARCHAR', metric: 'VARCHAR' }, rows: FAMILIES });
  const selected = opts.transforms ?? TRANSFORMS;
  await createParamTable(s, { name: 'p_fgc_transforms', columns: { transform: 'VARCHAR', selected: 'BOOLEAN' }, rows: TRANSFORMS.map((t) => [t, selected.includes(t)]) });
  await setFgCVariables(s, 'v1');
  await createParamTable(s, { name: 'p_windows', columns: { window_label: 'VARCHAR', minutes: 'INTEGER' }, rows: [['w_15m', 15], ['w_1h', 60]] });
  await createParamTable(s, {
    name: 'p_batch_baselines',
    columns: { window_end_ts: 'TIMESTAMP', baseline_horizon: 'VARCHAR', baseline_reference_date: 'VARCHAR', baseline_start_ts: 'TIMESTAMP', baseline_end_ts: 'TIMESTAMP', has_baseline: 'BOOLEAN' },
    rows: [
      [T, '7d', REF, '2026-11-15 00:00:00', '2026-11-22 00:00:00', true],
      [T, '30d', null, null, null, false],
    ],
  });
  await createParamTable(s, {
    name: 'ip_dim',
    columns: { ip: 'VARCHAR', is_valid: 'BOOLEAN', is_internal: 'BOOLEAN', segment_id: 'VARCHAR' },
    rows: [
      [H1, true, true, S1], [H2, true, true, S1], [H3, true, true, S1], [H4, true, true, S2], ['10.0.0.9', true, true, S1],
      ['10.9.9.9', true, false, 'ext'], ['10.9.9.8', true, false, 'ext'], ['10.9.9.5', true, false, 'ext'],
    ],
  });
}

async function deltaPeers(s: Session, rows: [string, string, string | null, number | null, string][]) {
  await createParamTable(s, {
    name: 'delta_peers_in',
    columns: { host_ip: 'VARCHAR', role: 'VARCHAR', peer_ip: 'VARCHAR', peer_port: 'INTEGER', sessions_cnt: 'BIGINT', slice_start_ts: 'TIMESTAMP', slice_end_ts: 'TIMESTAMP' },
    rows: rows.map(([h, r, p, port, end]) => [h, r, p, port, 1, end, end]),
  });
}

async function runFgC(s: Session) {
  const t = await loadTemplate('v1', 'fg_c');
  expect(t.text).toContain('COALESCE(NULLIF(mad, 0), iqr)'); // seed bug class 8, literally
  await s.run(`CREATE OR REPLACE TEMP TABLE fgc_positions AS ${(await loadTemplate('v1', 'fg_c_positions')).text}`);
  // A view, as the runner reads it (a PIVOT over the data could not be part of one).
  await s.run(`CREATE OR REPLACE TEMP VIEW fgc_view AS ${t.text}`);
  await s.run(`CREATE OR REPLACE TEMP TABLE fgc AS FROM fgc_view`);
}

type Row = Record<string, any>;
const st = (med: number | null, mad: number | null, iqr: number | null, p95: number | null): St => ({ med, mad, iqr, p95 });

/** The main scenario: warm host H1, cold H3 (segment), H4 without any baseline row. */
async function mainScenario(s: Session) {
  await params(s);
  const warm = {
    sessions_cnt: st(10, 0, 4, 15), // MAD 0, IQR 4
    bytes_src_sum: st(8000, 0, 100, 9000), // MAD 0, IQR 100 < floor 4096
    deny_ratio: st(0.1, 0, 0, 0.1), // MAD 0 and IQR 0
    duration_mean: st(2, 1, 2, 4),
    peer_ip_nunique: st(5, 2, 3, 8),
    max_sessions_per_minute: st(0, 0, 0, 0),
  };
  const hostOfH3 = { sessions_cnt: st(0, 1, 1, 0) }; // must NOT be used: H3 is cold
  const segS1 = { sessions_cnt: st(100, 10, 20, 150), duration_mean: st(-10, 1, 1, 0) };
  await fgbTables(s, {
    host: [
      [H1, 'outbound', S1, 'w_15m', warm],
      [H1, 'outbound', S1, 'w_1h', warm],
      [H1, 'inbound', S1, 'w_15m', warm],
      [H3, 'outbound', S1, 'w_15m', hostOfH3],
    ],
    segment: [[S1, 'outbound', 'w_15m', segS1]],
    meta: [
      [H1, 'outbound', S1, 'w_15m', 0],
      [H1, 'outbound', S1, 'w_1h', 0],
      [H1, 'inbound', S1, 'w_15m', 0],
      [H3, 'outbound', S1, 'w_15m', 1],
    ],
    pairHost: [
      [H1, '10.9.9.9', 443, 0.25],
      [H1, '10.9.9.5', 443, 0.5],
      ['10.0.0.9', H1, 22, 0.1], // inbound pair, oriented peer -> host
      [H1, '10.0.0.9', 22, 0.9], // decoy with the wrong orientation
      [H3, '10.9.9.9', 443, 0.9], // decoy: H3 is cold, so pair_segment applies
    ],
    pairSegment: [[S1, '10.9.9.9', 443, 0.2]],
  });
  await fgaTable(s, [
    { host: H1, role: 'outbound', wl: 'w_15m', minutes: 15, seg: S1, x: { sessions_cnt: 20, bytes_src_sum: 10000, deny_ratio: 0.3, duration_mean: null, peer_ip_nunique: 100, max_sessions_per_minute: 0 } },
    { host: H1, role: 'outbound', wl: 'w_1h', minutes: 60, seg: S1, x: { sessions_cnt: 10, bytes_src_sum: 8000, deny_ratio: 0.1, duration_mean: 2, peer_ip_nunique: 5, max_sessions_per_minute: 0 } },
    { host: H1, role: 'inbound', wl: 'w_15m', minutes: 15, seg: S1, x: { sessions_cnt: 10, bytes_src_sum: 8000, deny_ratio: 0.1, duration_mean: 2, peer_ip_nunique: 5 } },
    { host: H3, role: 'outbound', wl: 'w_15m', minutes: 15, seg: S1, x: { sessions_cnt: 130, duration_mean: 1 } },
    { host: H4, role: 'outbound', wl: 'w_15m', minutes: 15, seg: S2, x: { sessions_cnt: 7 } },
  ]);
  await deltaPeers(s, [
    [H1, 'outbound', '10.9.9.9', 443, '2026-11-24 12:00:00'],
    [H1, 'outbound', '10.9.9.9', 443, '2026-11-24 11:45:00'], // same pair, earlier slice: counted once
    [H1, 'outbound', '10.9.9.8', 80, '2026-11-24 12:00:00'], // unseen
    [H1, 'outbound', '10.9.9.7', 0, '2026-11-24 12:00:00'], // port 0: ignored
    [H1, 'outbound', '10.9.9.6', null, '2026-11-24 12:00:00'], // NULL port: ignored
    [H1, 'outbound', '10.9.9.5', 443, '2026-11-24 11:30:00'], // in w_1h only
    [H1, 'inbound', '10.0.0.9', 22, '2026-11-24 12:00:00'],
    [H3, 'outbound', '10.9.9.9', 443, '2026-11-24 12:00:00'],
    [H4, 'outbound', '10.9.9.9', 443, '2026-11-24 12:00:00'],
  ]);
  await runFgC(s);
  return s.all<Row>(`SELECT * FROM fgc ORDER BY host_ip, role DESC, window_label, baseline_horizon DESC`);
}
const find = (rows: Row[], host: string, role: string, wl: string, h = '7d') =>
  rows.find((r) => r.host_ip === host && r.role === role && r.window_label === wl && r.baseline_horizon === h)!;

describe('fg_c template', () => {
  let s: Session;
  beforeEach(async () => {
    s = await Session.open({ threads: 1, specVersion: 'v1' });
  });
  afterEach(() => s.close());

  it('one row per FG-A row and horizon, with exactly the contract columns', async () => {
    const rows = await mainScenario(s);
    expect(rows.length).toBe(10); // 5 FG-A rows x 2 horizons
    const cols = await s.describe('fgc');
    // The template's column order groups transforms; the runner writes the contract order
    // (src/transforms/columns.ts fgCColumns, checked in test/fg-pipeline.test.ts).
    const names = cols.map((c) => c.name).sort();
    expect(names).toEqual([
      'host_ip', 'role', 'window_label', 'window_start_ts', 'window_end_ts', 'baseline_horizon',
      ...M.flatMap((m) => TRANSFORMS.map((t) => `${m}_${t}`)),
      'anomaly_strength_core', 'beacon_suspicion_score', 'exfiltration_suspicion_score', 'lateral_movement_score',
      'anomaly_score', 'strong_deviation_cnt', 'top_contributors',
      'pair_rarity_mean', 'pair_rarity_max', 'rare_pair_cnt', 'unseen_pair_cnt',
      'baseline_source', 'baseline_reference_date', 'baseline_start_ts', 'baseline_end_ts', 'is_cold_start', 'segment_id', 'time_band',
      'record_id', 'dt', 'hh', 'mm', 'mini_batch_id', 'feature_spec_version',
    ].sort());
    const types = Object.fromEntries(cols.map((c) => [c.name, c.type]));
    expect(types.sessions_cnt_z_mad).toBe('DOUBLE');
    expect(types.anomaly_strength_core).toBe('DOUBLE');
    expect([types.strong_deviation_cnt, types.rare_pair_cnt, types.unseen_pair_cnt, types.is_cold_start]).toEqual(['BIGINT', 'BIGINT', 'BIGINT', 'INTEGER']);
    const r = find(rows, H1, 'outbound', 'w_15m');
    expect(r.record_id).toBe(`${H1}|outbound|w_15m|2026-11-24T12:00:00Z|7d`);
    expect([r.dt, r.hh, r.mm, r.mini_batch_id, r.feature_spec_version]).toEqual(['2026-11-24', '11', '45', '20261124T1145Z', 'v1']);
    expect([r.baseline_reference_date, r.segment_id, r.time_band]).toEqual([REF, S1, 'working_hours']);
  });

  it('transforms of a warm host (mad 0 / iqr fallback, both 0, floors, NULL x)', async () => {
    const r = find(await mainScenario(s), H1, 'outbound', 'w_15m');
    expect([r.baseline_source, r.is_cold_start]).toEqual(['host', 0]);
    // sessions_cnt: x 20, med 10, mad 0, iqr 4, p95 15. scale = iqr = 4; z_scale = max(iqr 4, floor 1) = 4.
    const z = 10 / (4 + EPS);
    expect(r.sessions_cnt_diff).toBe(10);
    expect(r.sessions_cnt_z_mad).toBeCloseTo(z, 12);
    expect(r.sessions_cnt_abs_dev_over_scale).toBeCloseTo(10 / (4 + EPS), 12);
    expect(r.sessions_cnt_z_mad_clipped).toBeCloseTo(z, 12);
    expect(r.sessions_cnt_z_mad_signed_pow3).toBeCloseTo(z ** 3, 10);
    expect(r.sessions_cnt_ratio).toBeCloseTo(20 / (10 + EPS), 12);
    expect(r.sessions_cnt_log_ratio).toBeCloseTo(Math.log(20 / (10 + EPS) + EPS), 12);
    expect(r.sessions_cnt_excess_over_p95).toBe(5);
    expect(r.sessions_cnt_excess_ratio_p95).toBeCloseTo(20 / (15 + EPS), 12);
    expect(r.sessions_cnt_iqr_dev).toBeCloseTo(10 / (4 + EPS), 12);
    // bytes_src_sum: mad 0, iqr 100: abs_dev_over_scale uses iqr (2000/100); z uses max(iqr, 4096).
    expect(r.bytes_src_sum_abs_dev_over_scale).toBeCloseTo(2000 / (100 + EPS), 9);
    expect(r.bytes_src_sum_z_mad).toBeCloseTo(2000 / (4096 + EPS), 12);
    expect(r.bytes_src_sum_excess_over_p95).toBe(1000);
    // deny_ratio: mad 0 and iqr 0: abs_dev_over_scale divides by eps; z_mad by the 0.05 floor.
    expect(r.deny_ratio_abs_dev_over_scale).toBeCloseTo((0.3 - 0.1) / EPS, 3); // ≈ 200000
    expect(r.deny_ratio_z_mad).toBeCloseTo((0.3 - 0.1) / (0.05 + EPS), 12); // ≈ 3.99992
    expect(r.deny_ratio_iqr_dev).toBeCloseTo((0.3 - 0.1) / EPS, 3);
    // duration_mean: x is NULL -> every transform NULL.
    for (const t of TRANSFORMS) expect(r[`duration_mean_${t}`], t).toBeNull();
    // peer_ip_nunique: explicit floor 2 = max(mad 2, floor 2); z = 95/2.000001 = 47.5 -> clipped to 6.
    expect(r.peer_ip_nunique_z_mad).toBeCloseTo(95 / (2 + EPS), 10);
    expect(r.peer_ip_nunique_z_mad_clipped).toBe(6);
    expect(r.peer_ip_nunique_z_mad_signed_pow3).toBe(216);
    // max_sessions_per_minute: x = med = 0, mad = iqr = 0: z = 0/(floor 1 + eps) = 0; ratio 0; log_ratio = ln(eps).
    expect(r.max_sessions_per_minute_z_mad).toBe(0);
    expect(r.max_sessions_per_minute_abs_dev_over_scale).toBe(0);
    expect(r.max_sessions_per_minute_z_mad_signed_pow3).toBe(0);
    expect(r.max_sessions_per_minute_log_ratio).toBeCloseTo(Math.log(EPS), 12);
    expect(r.max_sessions_per_minute_excess_over_p95).toBe(0);
  });

  it('row scores, strong deviations and top contributors', async () => {
    const rows = await mainScenario(s);
    const r = find(rows, H1, 'outbound', 'w_15m');
    const zSess = 10 / (4 + EPS); // 2.4999994
    const zBytes = 2000 / (4096 + EPS); // 0.48828
    const zDeny = (0.3 - 0.1) / (0.05 + EPS); // 3.99992
    // core = max(|sessions|, |bytes_src|, |deny|, |peer_ip_nunique| = 6) (bytes_dst_sum is not a FG-C metric here)
    expect(r.anomaly_strength_core).toBe(6);
    expect(r.beacon_suspicion_score).toBeCloseTo(zSess, 12); // max(msm 0, sessions)
    expect(r.exfiltration_suspicion_score).toBeCloseTo(zBytes, 12); // bytes_asymmetry_ratio absent
    expect(r.lateral_movement_score).toBe(6);
    expect(r.anomaly_score).toBeCloseTo((6 + zDeny + zSess) / 3, 12);
    expect(r.strong_deviation_cnt).toBe(1); // only 6 >= 4 (3.99992 is not)
    expect(r.top_contributors).toBe('peer_ip_nunique:6.00;deny_ratio:4.00;sessions_cnt:2.50');
    // H1 outbound w_1h: x = med everywhere, every z is 0: ties go to the metric name.
    const w1h = find(rows, H1, 'outbound', 'w_1h');
    expect(w1h.top_contributors).toBe('bytes_src_sum:0.00;deny_ratio:0.00;duration_mean:0.00');
    expect([w1h.anomaly_score, w1h.strong_deviation_cnt, w1h.anomaly_strength_core]).toEqual([0, 0, 0]);
  });

  it('top_contributors rounds half away from zero on the printed value, ties by name', async () => {
    await params(s, { eps: 0 }); // eps 0 makes z exactly x / scale
    await fgbTables(s, {
      host: [[H2, 'outbound', S1, 'w_15m', {
        sessions_cnt: st(0, 1, 1, 0),
        bytes_src_sum: st(0, 8192, 1, 0),
        deny_ratio: st(0, 1, 1, 0),
        duration_mean: st(0, 1, 1, 0),
        peer_ip_nunique: st(0, 1, 1, 0),
        max_sessions_per_minute: st(0, 1, 1, 0),
      }]],
      segment: [],
      meta: [[H2, 'outbound', S1, 'w_15m', 0]],
      pairHost: [],
      pairSegment: [],
    });
    // z: sessions -2.345/1, deny 2.345/max(1, .05), peer 4.69/max(1, 2) = 2.345, bytes 8192/8192 = 1.
    await fgaTable(s, [{ host: H2, role: 'outbound', wl: 'w_15m', minutes: 15, seg: S1, x: { sessions_cnt: -2.345, bytes_src_sum: 8192, deny_ratio: 2.345, duration_mean: null, peer_ip_nunique: 4.69, max_sessions_per_minute: null } }]);
    await deltaPeers(s, []);
    await runFgC(s);
    const r = await s.one<Row>(`SELECT * FROM fgc WHERE baseline_horizon = '7d'`);
    expect(r.sessions_cnt_z_mad_clipped).toBe(-2.345);
    expect(r.peer_ip_nunique_z_mad_clipped).toBe(2.345);
    expect(r.top_contributors).toBe('deny_ratio:2.35;peer_ip_nunique:2.35;sessions_cnt:-2.35');
    expect(r.anomaly_score).toBeCloseTo(2.345, 12);
    // With no pair in the window the summary is computed but empty.
    expect([r.pair_rarity_mean, r.pair_rarity_max, r.rare_pair_cnt, r.unseen_pair_cnt]).toEqual([null, null, 0, 0]);
  });

  it('routing: cold host to its segment; no segment row -> none; ln of non-positive is NULL', async () => {
    const rows = await mainScenario(s);
    const h3 = find(rows, H3, 'outbound', 'w_15m');
    expect([h3.baseline_source, h3.is_cold_start]).toEqual(['segment', 1]);
    // segment S1: sessions med 100, mad 10: z = 30 / (10 + eps) (the host row, med 0, is ignored).
    expect(h3.sessions_cnt_z_mad).toBeCloseTo(30 / (10 + EPS), 12);
    // duration_mean: x 1, segment med -10: ratio = 1/(-10 + eps) < 0 -> log_ratio NULL, not an error.
    expect(h3.duration_mean_ratio).toBeCloseTo(1 / (-10 + EPS), 12);
    expect(h3.duration_mean_log_ratio).toBeNull();
    // H4 (S2): no ip_metadata -> cold; S2 has no segment baseline -> 'none' with NULL transforms.
    const h4 = find(rows, H4, 'outbound', 'w_15m');
    expect([h4.baseline_source, h4.is_cold_start]).toEqual(['none', 1]);
    for (const m of M) for (const t of TRANSFORMS) expect(h4[`${m}_${t}`]).toBeNull();
    expect([h4.anomaly_strength_core, h4.anomaly_score, h4.top_contributors, h4.strong_deviation_cnt]).toEqual([null, null, null, 0]);
    // The partition exists, so its pair summary is computed: (H4 -> 10.9.9.9:443) not in pair_segment(S2).
    expect([h4.pair_rarity_mean, h4.pair_rarity_max, h4.rare_pair_cnt, h4.unseen_pair_cnt]).toEqual([1, 1, 1, 1]);
    expect([h4.baseline_reference_date, (h4.baseline_start_ts as Date).toISOString()]).toEqual([REF, '2026-11-15T00:00:00.000Z']);
  });

  it('pair rarity summary: windows, distinct pairs, ignored ports, unseen, inbound orientation, cold lookup', async () => {
    const rows = await mainScenario(s);
    // H1 outbound w_15m: 10.9.9.9:443 (0.25) and 10.9.9.8:80 (unseen, 1.0). Port 0 / NULL ignored.
    const w15 = find(rows, H1, 'outbound', 'w_15m');
    expect([w15.pair_rarity_mean, w15.pair_rarity_max, w15.rare_pair_cnt, w15.unseen_pair_cnt]).toEqual([0.625, 1, 1, 1]);
    // w_1h adds 10.9.9.5:443 (0.5, slice 11:30): mean (0.25 + 1 + 0.5)/3, rare: 1.0 and 0.5.
    const w1h = find(rows, H1, 'outbound', 'w_1h');
    expect(w1h.pair_rarity_mean).toBeCloseTo(1.75 / 3, 15);
    expect([w1h.pair_rarity_max, w1h.rare_pair_cnt, w1h.unseen_pair_cnt]).toEqual([1, 2, 1]);
    // Inbound: the pair is (src = 10.0.0.9, dst = H1, 22) -> 0.1 (not the 0.9 decoy).
    const inb = find(rows, H1, 'inbound', 'w_15m');
    expect([inb.pair_rarity_mean, inb.pair_rarity_max, inb.rare_pair_cnt, inb.unseen_pair_cnt]).toEqual([0.1, 0.1, 0, 0]);
    // Cold H3: pair_segment (segment_id(H3) = S1, 10.9.9.9, 443) -> 0.2, not pair_host's 0.9.
    const h3 = find(rows, H3, 'outbound', 'w_15m');
    expect([h3.pair_rarity_mean, h3.pair_rarity_max, h3.rare_pair_cnt, h3.unseen_pair_cnt]).toEqual([0.2, 0.2, 0, 0]);
  });

  it('has_baseline false -> none, NULL transforms and NULL pair summary', async () => {
    const rows = await mainScenario(s);
    const r = find(rows, H1, 'outbound', 'w_15m', '30d');
    expect([r.baseline_source, r.is_cold_start, r.baseline_reference_date, r.baseline_start_ts]).toEqual(['none', 1, null, null]);
    for (const m of M) for (const t of TRANSFORMS) expect(r[`${m}_${t}`]).toBeNull();
    expect([r.pair_rarity_mean, r.pair_rarity_max, r.rare_pair_cnt, r.unseen_pair_cnt]).toEqual([null, null, null, null]);
    expect([r.anomaly_score, r.top_contributors, r.strong_deviation_cnt]).toEqual([null, null, 0]);
    expect(r.record_id).toBe(`${H1}|outbound|w_15m|2026-11-24T12:00:00Z|30d`);
  });

  it('metrics are matched by name, whatever the column order of FG-A, of the FG-B views and of p_fgc_metrics', async () => {
    const before = await mainScenario(s);
    // Same data; FG-A's metric columns, the segment baselines' statistics columns (so that they
    // differ from the host baselines' order) and the JobSpec's metric list all reversed.
    const reversed = [...M].reverse();
    await s.run(`CREATE OR REPLACE TEMP VIEW fg_a_in AS SELECT * EXCLUDE (${M.join(', ')}), ${reversed.join(', ')} FROM fga`);
    const stats = Object.keys(statColumns());
    await s.run(`CREATE OR REPLACE TEMP VIEW fgb_segment_in AS SELECT * EXCLUDE (${stats.join(', ')}), ${[...stats].reverse().join(', ')} FROM fgb_segment_t`);
    await createParamTable(s, { name: 'p_fgc_metrics', columns: { metric: 'VARCHAR', scale_floor: 'DOUBLE' }, rows: [...METRICS].reverse() });
    await setFgCVariables(s, 'v1');
    await runFgC(s);
    const after = await s.all<Row>(`SELECT * FROM fgc ORDER BY host_ip, role DESC, window_label, baseline_horizon DESC`);
    expect(after.length).toBe(before.length);
    after.forEach((row, i) => expect(row).toEqual(before[i]));
    expect(before.some((r) => r.sessions_cnt_z_mad !== null && r.peer_ip_nunique_z_mad !== null)).toBe(true);
  });

  it('a transform subset keeps exactly the selected transforms', async () => {
    await params(s, { transforms: ['iqr_dev', 'z_mad', 'ratio'] });
    await fgbTables(s, { host: [], segment: [], meta: [], pairHost: [], pairSegment: [] });
    await fgaTable(s, [{ host: H2, role: 'outbound', wl: 'w_15m', minutes: 15, seg: S1, x: {} }]);
    await deltaPeers(s, []);
    await runFgC(s);
    const names = (await s.describe('fgc')).map((c) => c.name);
    const transformCols = names.filter((n) => M.some((m) => n.startsWith(`${m}_`)));
    expect(transformCols.sort()).toEqual(M.flatMap((m) => [`${m}_z_mad`, `${m}_ratio`, `${m}_iqr_dev`]).sort());
    expect(names).toContain('anomaly_strength_core');
    const r = await s.one<Row>(`SELECT baseline_source, sessions_cnt_z_mad FROM fgc WHERE baseline_horizon = '7d'`);
    expect(r).toEqual({ baseline_source: 'none', sessions_cnt_z_mad: null });
  });

  it('a FG-C metric missing from FG-A is a clear error', async () => {
    await params(s);
    await createParamTable(s, { name: 'p_fgc_metrics', columns: { metric: 'VARCHAR', scale_floor: 'DOUBLE' }, rows: [...METRICS, ['bytes_sent_sum', null]] });
    await fgbTables(s, { host: [], segment: [], meta: [], pairHost: [], pairSegment: [] });
    await fgaTable(s, [{ host: H2, role: 'outbound', wl: 'w_15m', minutes: 15, seg: S1, x: {} }]);
    await deltaPeers(s, []);
    await expect(runFgC(s)).rejects.toThrow(/fg_c: metrics missing from FG-A .*: bytes_sent_sum/);
  });

  it('ranking macros: first of equal maxima, NULLs skipped; labels round like DECIMAL, even from exponent text', async () => {
    const rank = await s.one<{ p1: number | null; p2: number | null; p3: number | null; none: number | null; blank: (number | null)[] }>(`
      SELECT list_first_max_pos(l) AS p1,
             list_first_max_pos(list_blank_at(l, list_first_max_pos(l))) AS p2,
             list_first_max_pos(list_blank_at(list_blank_at(l, 2), 4)) AS p3,
             list_first_max_pos([NULL, NULL]::DOUBLE[]) AS none,
             list_blank_at([1.0, 2.0, 3.0], 3) AS blank
      FROM (SELECT [NULL, 3.0, 1.0, 3.0, 0.0]::DOUBLE[] AS l)`);
    // 3.0 at positions 2 and 4: the first wins, then the second; with both blanked, 1.0 at 3.
    expect([rank.p1, rank.p2, rank.p3, rank.none]).toEqual([2, 4, 3, null]);
    expect(rank.blank).toEqual([1, 2, null]);
    // DOUBLE text of |z| < 1e-4 has an exponent ('-8.9e-06'), which DuckDB's VARCHAR -> DECIMAL(18, 2)
    // would round to -0.01; the macro prints 0.00 for it, as DECIMAL(38, 18) -> DECIMAL(38, 2) does.
    const zs = [2.345, -2.345, 0.005, -0.005, 0.0049999, -8.9e-6, 1e-7, 0, 9.995, -6, 0.125, 1234567.891, 2e15];
    const labels = await s.one<{ got: string[]; wide: string[] }>(`
      SELECT list(contributor_label('m', z) ORDER BY i) AS got,
             list('m:' || (z::VARCHAR::DECIMAL(38, 18))::DECIMAL(38, 2)::VARCHAR ORDER BY i) AS wide
      FROM (SELECT unnest(string_split($zs, ',')::DOUBLE[]) AS z, generate_subscripts(string_split($zs, ','), 1) AS i)`, { zs: zs.join(',') });
    expect(labels.got).toEqual(['m:2.35', 'm:-2.35', 'm:0.01', 'm:-0.01', 'm:0.00', 'm:0.00', 'm:0.00', 'm:0.00', 'm:10.00', 'm:-6.00', 'm:0.13', 'm:1234567.89', 'm:2000000000000000.00']);
    expect(labels.got).toEqual(labels.wide);
  });
});
