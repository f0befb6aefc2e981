/**
 * FG-A templates (sql/v1/delta_to_fg_a.sql, fg_a.sql, delta_peers_daily.sql) against
 * hand-built inputs, registered the way the runner registers them (delta_in ->
 * delta_mapped view, delta_peers_in, peer_history_daily, peer_history_batches, ip_dim
 * and the p_* parameter tables). Expected numbers are written out by hand in comments
 * or computed independently here from the raw rows (a naive reading of FEATURES.md §4:
 * entropy as -sum(p ln p), novelty by scanning every logical 15-minute row, local time
 * through Intl), with explicit float tolerances.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Session } from '../src/engine/session.ts';
import { loadTemplate } from '../src/engine/templates.ts';
import { createParamTable, setVariables, type Scalar } from '../src/engine/params.ts';

// ------------------------------------------------------------------------------ schemas
const PORT_SETS = ['high_risk', 'admin', 'db']; // JobSpec order; the columns are dynamic
const PORT_COLS = PORT_SETS.map((p) => `${p}_port_sessions_cnt`);
const DELTA_COUNTS = [
  'allow_cnt', 'drop_cnt', 'alert_cnt', 'rst_cnt', 'aged_out_cnt', 'threat_cnt', 'traffic_cnt',
  'tcp_cnt', 'udp_cnt', 'icmp_cnt', 'zero_reply_cnt', 'short_session_cnt',
];
const QUANTILES = ['bytes_sent', 'bytes_recv', 'duration'].flatMap((m) => [25, 50, 75, 95, 99].map((q) => `${m}_p${q}`));
type Schema = [string, string][];
const DELTA_SCHEMA: Schema = [
  ['host_ip', 'VARCHAR'], ['role', 'VARCHAR'], ['slice_start_ts', 'TIMESTAMP'], ['slice_end_ts', 'TIMESTAMP'],
  ['dt', 'VARCHAR'], ['hh', 'VARCHAR'], ['mm', 'VARCHAR'],
  ['sessions_cnt', 'BIGINT'], ['bytes_sent_sum', 'BIGINT'], ['bytes_recv_sum', 'BIGINT'], ['duration_sum', 'DOUBLE'],
  ...DELTA_COUNTS.map((c): [string, string] => [c, 'BIGINT']),
  ...PORT_COLS.map((c): [string, string] => [c, 'BIGINT']),
  ['max_sessions_per_minute', 'BIGINT'],
  ...QUANTILES.map((c): [string, string] => [c, 'DOUBLE']),
  ['mini_batch_id', 'VARCHAR'], ['feature_spec_version', 'VARCHAR'],
];
const PEERS_SCHEMA: Schema = [
  ['host_ip', 'VARCHAR'], ['role', 'VARCHAR'], ['peer_ip', 'VARCHAR'], ['peer_port', 'INTEGER'],
  ['sessions_cnt', 'BIGINT'], ['bytes_sent_sum', 'BIGINT'], ['bytes_recv_sum', 'BIGINT'],
  ['last_event_ts', 'TIMESTAMP'], ['slice_start_ts', 'TIMESTAMP'], ['slice_end_ts', 'TIMESTAMP'],
  ['dt', 'VARCHAR'], ['hh', 'VARCHAR'], ['mm', 'VARCHAR'], ['mini_batch_id', 'VARCHAR'], ['feature_spec_version', 'VARCHAR'],
];
const DAILY_SCHEMA: Schema = [
  ['host_ip', 'VARCHAR'], ['role', 'VARCHAR'], ['peer_ip', 'VARCHAR'], ['peer_port', 'INTEGER'], ['day', 'DATE'],
  ['sessions_cnt', 'BIGINT'], ['dt', 'VARCHAR'], ['feature_spec_version', 'VARCHAR'],
];
const IP_DIM_SCHEMA: Schema = [['ip', 'VARCHAR'], ['is_valid', 'BOOLEAN'], ['is_internal', 'BOOLEAN'], ['segment_id', 'VARCHAR']];

/** docs/CONTRACTS.md "fg_a", written out independently of src/transforms. */
const FG_A_SCHEMA: Schema = [
  ['host_ip', 'VARCHAR'], ['role', 'VARCHAR'], ['window_label', 'VARCHAR'],
  ['window_start_ts', 'TIMESTAMP'], ['window_end_ts', 'TIMESTAMP'], ['segment_id', 'VARCHAR'], ['record_id', 'VARCHAR'],
  ...['sessions_cnt', 'allow_cnt', 'deny_cnt', 'alert_cnt', 'rst_cnt', 'aged_out_cnt', 'zero_reply_cnt', 'short_session_cnt',
    'bytes_src_sum', 'bytes_dst_sum'].map((c): [string, string] => [c, 'BIGINT']),
  ['duration_sum', 'DOUBLE'],
  ...['tcp_cnt', 'udp_cnt', 'icmp_cnt', 'threat_cnt', 'traffic_cnt', ...PORT_COLS, 'max_sessions_per_minute'].map(
    (c): [string, string] => [c, 'BIGINT'],
  ),
  ...['duration_mean', 'deny_ratio', 'bytes_asymmetry_ratio', 'transport_tcp_ratio', 'transport_udp_ratio', 'transport_icmp_ratio'].map(
    (c): [string, string] => [c, 'DOUBLE'],
  ),
  ['has_high_risk_port_activity', 'INTEGER'],
  ...['peer_ip_nunique', 'peer_port_nunique', 'peer_segment_nunique'].map((c): [string, string] => [c, 'BIGINT']),
  ...['peer_ip_entropy', 'peer_port_entropy', 'peer_ip_top1_sessions_share', 'peer_port_top1_sessions_share',
    'peer_ip_top1_bytes_share', 'peer_port_top1_bytes_share'].map((c): [string, string] => [c, 'DOUBLE']),
  ['high_risk_segment_sessions_cnt', 'BIGINT'], ['high_risk_segment_unique_peers', 'BIGINT'],
  ['has_high_risk_segment_interaction', 'INTEGER'],
  ['new_peer_cnt', 'BIGINT'], ['rare_peer_cnt', 'BIGINT'], ['new_peer_ratio', 'DOUBLE'],
  ['new_port_cnt', 'BIGINT'], ['rare_port_cnt', 'BIGINT'], ['new_pair_cnt', 'BIGINT'], ['rare_pair_cnt', 'BIGINT'],
  ...['hour_of_day', 'day_of_week', 'is_working_hours', 'is_off_hours', 'is_night_hours', 'is_weekend', 'is_holiday', 'is_offday'].map(
    (c): [string, string] => [c, 'INTEGER'],
  ),
  ['time_band', 'VARCHAR'], ['dt', 'VARCHAR'], ['hh', 'VARCHAR'], ['mm', 'VARCHAR'],
  ['mini_batch_id', 'VARCHAR'], ['feature_spec_version', 'VARCHAR'],
];
const NOVELTY = ['new_peer_cnt', 'rare_peer_cnt', 'new_peer_ratio', 'new_port_cnt', 'rare_port_cnt', 'new_pair_cnt', 'rare_pair_cnt'];
const EPS = 1e-9;
const WINDOWS: [string, number][] = [['w_15m', 15], ['w_30m', 30], ['w_1h', 60], ['w_8h', 480], ['w_24h', 1440]];

// ------------------------------------------------------------------------------ time helpers
const MIN = 60_000;
const ms = (t: string) => Date.parse(`${t.replace(' ', 'T')}:00Z`); // 'YYYY-MM-DD HH:MM' (UTC)
const sqlTs = (m: number) => new Date(m).toISOString().slice(0, 19).replace('T', ' ');
const hm = (m: number) => new Date(m).toISOString().slice(0, 16).replace('T', ' ');

// ------------------------------------------------------------------------------ input builders
type Row = Record<string, Scalar>;
const lit = (v: Scalar) =>
  v === null ? 'NULL' : typeof v === 'number' || typeof v === 'boolean' ? String(v) : `'${String(v).replace(/'/g, "''")}'`;

async function table(s: Session, name: string, schema: Schema, rows: Row[]) {
  await s.run(`CREATE OR REPLACE TEMP TABLE ${name} (${schema.map(([c, t]) => `${c} ${t}`).join(', ')})`);
  if (rows.length)
    await s.run(`INSERT INTO ${name} VALUES ${rows.map((r) => `(${schema.map(([c]) => lit(r[c] ?? null)).join(', ')})`).join(',\n')}`);
}

function slice(end: string) {
  const e = ms(end);
  const st = new Date(e - 15 * MIN).toISOString();
  return {
    slice_start_ts: sqlTs(e - 15 * MIN), slice_end_ts: sqlTs(e),
    dt: st.slice(0, 10), hh: st.slice(11, 13), mm: st.slice(14, 16),
    mini_batch_id: `${st.slice(0, 10).replace(/-/g, '')}T${st.slice(11, 13)}${st.slice(14, 16)}Z`, feature_spec_version: 'v1',
  };
}

/** A delta row (delta names); every count not given is 0. */
function delta(host: string, role: string, end: string, vals: Record<string, number>): Row {
  const zeros = Object.fromEntries(
    DELTA_SCHEMA.filter(([, t]) => t === 'BIGINT' || t === 'DOUBLE').map(([c]) => [c, QUANTILES.includes(c) ? null : 0]),
  );
  return { ...zeros, ...slice(end), host_ip: host, role, ...vals };
}

interface PeerRow {
  host: string;
  role: string;
  peer: string;
  port: number | null;
  end: string; // slice_end_ts 'YYYY-MM-DD HH:MM'
  s: number;
  sent?: number;
  recv?: number;
}
const peerRow = (p: PeerRow): Row => ({
  ...slice(p.end), host_ip: p.host, role: p.role, peer_ip: p.peer, peer_port: p.port, sessions_cnt: p.s,
  bytes_sent_sum: p.sent ?? 0, bytes_recv_sum: p.recv ?? 0, last_event_ts: sqlTs(ms(p.end) - MIN),
});

interface Cfg {
  anchors: string[];
  windows?: [string, number][];
  novelty?: boolean;
  lookback?: number;
  k?: [number, number, number];
  weekend?: number[];
  holidays?: string[];
  highRisk?: string[];
  tz?: string;
}
async function params(s: Session, cfg: Cfg) {
  const [kPeer, kPort, kPair] = cfg.k ?? [1, 1, 1];
  await setVariables(s, {
    feature_spec_version: 'v1', tz: cfg.tz ?? 'Asia/Jerusalem', work_start: 7, work_end: 17, off_start: 17, off_end: 22,
    eps_a: EPS, lookback_days: cfg.lookback ?? 30, novelty_enabled: cfg.novelty ?? true, k_peer: kPeer, k_port: kPort, k_pair: kPair,
  });
  await createParamTable(s, { name: 'p_anchors', columns: { anchor_ts: 'TIMESTAMP' }, rows: cfg.anchors.map((a) => [`${a}:00`]) });
  await createParamTable(s, { name: 'p_windows', columns: { window_label: 'VARCHAR', minutes: 'INTEGER' }, rows: cfg.windows ?? WINDOWS });
  await createParamTable(s, { name: 'p_weekend_days', columns: { dow: 'INTEGER' }, rows: (cfg.weekend ?? [5, 6]).map((d) => [d]) });
  await createParamTable(s, { name: 'p_holidays', columns: { d: 'DATE' }, rows: (cfg.holidays ?? []).map((d) => [d]) });
  await createParamTable(s, { name: 'p_high_risk_segments', columns: { segment_id: 'VARCHAR' }, rows: (cfg.highRisk ?? []).map((x) => [x]) });
}

interface Inputs {
  delta: Row[];
  peers?: PeerRow[];
  daily?: Row[];
  batches?: PeerRow[];
  segments: Record<string, string>; // ip -> segment_id
}
async function inputs(s: Session, inp: Inputs) {
  await table(s, 'delta_in', DELTA_SCHEMA, inp.delta);
  await table(s, 'delta_peers_in', PEERS_SCHEMA, (inp.peers ?? []).map(peerRow));
  await table(s, 'peer_history_daily', DAILY_SCHEMA, inp.daily ?? []);
  await table(s, 'peer_history_batches', PEERS_SCHEMA, (inp.batches ?? []).map(peerRow));
  await table(
    s, 'ip_dim', IP_DIM_SCHEMA,
    Object.entries(inp.segments).map(([ip, seg]) => ({ ip, is_valid: true, is_internal: ip.startsWith('10.'), segment_id: seg })),
  );
}

type Out = Record<string, any>;
/** Runs the two templates as the runner does and returns the rows keyed host|role|window|T. */
async function runFgA(s: Session): Promise<Map<string, Out>> {
  await s.run(`CREATE OR REPLACE TEMP VIEW delta_mapped AS ${(await loadTemplate('v1', 'delta_to_fg_a')).text}`);
  await s.run('DROP TABLE IF EXISTS out');
  await s.run(`CREATE TEMP TABLE out AS ${(await loadTemplate('v1', 'fg_a')).text}`);
  const rows = await s.all<Out>(
    `SELECT * REPLACE (strftime(window_start_ts, '%Y-%m-%d %H:%M') AS window_start_ts,
                       strftime(window_end_ts, '%Y-%m-%d %H:%M') AS window_end_ts) FROM out`,
  );
  return new Map(rows.map((r) => [`${r.host_ip}|${r.role}|${r.window_label}|${r.window_end_ts}`, r]));
}
const keys = (m: Map<string, Out>) => [...m.keys()];
function get(m: Map<string, Out>, key: string): Out {
  const r = m.get(key);
  if (!r) throw new Error(`no fg_a row ${key}; have ${keys(m).join(', ')}`);
  return r;
}

// ------------------------------------------------------------------------------ independent references
/** P_w by FEATURES.md §4: rows with T - w < slice_end_ts <= T. */
const inWindow = (end: string, T: string, minutes: number) => ms(end) > ms(T) - minutes * MIN && ms(end) <= ms(T);

function peerReference(rows: PeerRow[], segments: Record<string, string>, highRisk: string[]) {
  const byPeer = new Map<string, { s: number; b: number }>();
  const byPort = new Map<number, { s: number; b: number }>();
  for (const r of rows) {
    const add = <K>(m: Map<K, { s: number; b: number }>, k: K) => {
      const v = m.get(k) ?? { s: 0, b: 0 };
      v.s += r.s;
      v.b += (r.sent ?? 0) + (r.recv ?? 0);
      m.set(k, v);
    };
    add(byPeer, r.peer);
    if (r.port !== null) add(byPort, r.port); // documented choice: NULL is "no port"
  }
  const dist = <K>(m: Map<K, { s: number; b: number }>) => {
    const v = [...m.values()];
    const S = v.reduce((a, x) => a + x.s, 0);
    const B = v.reduce((a, x) => a + x.b, 0);
    if (!v.length) return { n: 0, entropy: null, top1s: null, top1b: null };
    return {
      n: v.length,
      entropy: -v.reduce((a, x) => a + (x.s / S) * Math.log(x.s / S), 0),
      top1s: Math.max(...v.map((x) => x.s)) / (S + EPS),
      top1b: Math.max(...v.map((x) => x.b)) / (B + EPS),
    };
  };
  const hrPeers = [...byPeer.entries()].filter(([p]) => highRisk.includes(segments[p]));
  return {
    ip: dist(byPeer),
    port: dist(byPort),
    segments: new Set([...byPeer.keys()].map((p) => segments[p])).size,
    hrSessions: hrPeers.reduce((a, [, v]) => a + v.s, 0),
    hrPeers: hrPeers.length,
  };
}

// ------------------------------------------------------------------------------ tests
let s: Session;
beforeEach(async () => {
  s = await Session.open();
});
afterEach(() => s.close());

describe('delta_to_fg_a.sql (schema map)', () => {
  it('renames the three mapped columns and keeps every other column and its position', async () => {
    await table(s, 'delta_in', DELTA_SCHEMA, [delta('10.0.0.1', 'outbound', '2026-11-24 12:30', { bytes_sent_sum: 11, bytes_recv_sum: 22, drop_cnt: 3 })]);
    await s.run(`CREATE TEMP VIEW delta_mapped AS ${(await loadTemplate('v1', 'delta_to_fg_a')).text}`);
    const cols = (await s.describe('delta_mapped')).map((c) => `${c.name}:${c.type}`);
    const rename: Record<string, string> = { bytes_sent_sum: 'bytes_src_sum', bytes_recv_sum: 'bytes_dst_sum', drop_cnt: 'deny_cnt' };
    expect(cols).toEqual(DELTA_SCHEMA.map(([c, t]) => `${rename[c] ?? c}:${t}`));
    const r = await s.one<Out>('SELECT bytes_src_sum, bytes_dst_sum, deny_cnt FROM delta_mapped');
    expect(r).toEqual({ bytes_src_sum: 11, bytes_dst_sum: 22, deny_cnt: 3 });
  });

  it('fails, naming the column, when a mapped delta column is missing', async () => {
    await table(s, 'delta_in', DELTA_SCHEMA.filter(([c]) => c !== 'drop_cnt'), [delta('10.0.0.1', 'outbound', '2026-11-24 12:30', {})]);
    await expect(s.run(`CREATE TEMP VIEW delta_mapped AS ${(await loadTemplate('v1', 'delta_to_fg_a')).text}`)).rejects.toThrow(/drop_cnt/);
  });

  it('fails, naming the column, when a target name already exists in delta', async () => {
    await table(s, 'delta_in', [...DELTA_SCHEMA, ['deny_cnt', 'BIGINT']], [delta('10.0.0.1', 'outbound', '2026-11-24 12:30', {})]);
    await expect(s.run(`CREATE TEMP VIEW delta_mapped AS ${(await loadTemplate('v1', 'delta_to_fg_a')).text}`)).rejects.toThrow(/deny_cnt/);
  });
});

describe('fg_a.sql: S_w, additive features, keys', () => {
  // Host 10.0.0.1 outbound has five delta rows k = 0..4; anchor T = 2026-11-24 12:30.
  // Every additive delta column j (DELTA_ADDITIVE order) holds 1000 * (j + 1) + 2^k in row k,
  // so a window sum is 1000 * (j + 1) * |W| + sum(2^k, k in W): it identifies both the
  // column (no swap, the rename) and exactly which rows were selected.
  const T = '2026-11-24 12:30';
  const ENDS = ['2026-11-24 12:30', '2026-11-24 12:15', '2026-11-24 04:30', '2026-11-24 04:45', '2026-11-23 12:30'];
  const MAXSPM = [3, 7, 20, 5, 50];
  // T - w < slice_end_ts <= T:
  //   w_15m (12:15, 12:30]       -> k0                 (k1 ends exactly at T - 15m: out)
  //   w_30m (12:00, 12:30]       -> k0 k1
  //   w_1h  (11:30, 12:30]       -> k0 k1
  //   w_8h  (04:30, 12:30]       -> k0 k1 k3           (k2 ends exactly at T - 8h: out)
  //   w_24h (11-23 12:30, 12:30] -> k0 k1 k2 k3        (k4 ends exactly at T - 24h: out)
  const IN: Record<string, number[]> = { w_15m: [0], w_30m: [0, 1], w_1h: [0, 1], w_8h: [0, 1, 3], w_24h: [0, 1, 2, 3] };
  const DELTA_ADDITIVE = ['sessions_cnt', 'bytes_sent_sum', 'bytes_recv_sum', 'duration_sum', ...DELTA_COUNTS, ...PORT_COLS];
  const RENAME: Record<string, string> = { bytes_sent_sum: 'bytes_src_sum', bytes_recv_sum: 'bytes_dst_sum', drop_cnt: 'deny_cnt' };
  const value = (col: string, k: number) => 1000 * (DELTA_ADDITIVE.indexOf(col) + 1) + 2 ** k + (col === 'duration_sum' ? 0.5 : 0);
  const expected = (col: string, w: string) => IN[w].reduce((a, k) => a + value(col, k), 0);

  let out: Map<string, Out>;
  beforeEach(async () => {
    await params(s, { anchors: [T] });
    await inputs(s, {
      delta: [
        ...ENDS.map((end, k) =>
          delta('10.0.0.1', 'outbound', end, {
            ...Object.fromEntries(DELTA_ADDITIVE.map((c) => [c, value(c, k)])),
            max_sessions_per_minute: MAXSPM[k],
          }),
        ),
        // the same host as a receiver, last active at 11:00: only w_8h and w_24h
        delta('10.0.0.1', 'inbound', '2026-11-24 11:00', { sessions_cnt: 5, tcp_cnt: 5, max_sessions_per_minute: 2 }),
        // another host, last active at 12:00 = T - 30m exactly: w_1h, w_8h, w_24h
        delta('10.0.0.2', 'outbound', '2026-11-24 12:00', { sessions_cnt: 7, udp_cnt: 7, admin_port_sessions_cnt: 1, max_sessions_per_minute: 4 }),
      ],
      segments: { '10.0.0.1': '10.0.0.0/24', '10.0.0.2': 'SEG_B' },
    });
    out = await runFgA(s);
  });

  it('has exactly the contract columns, in order, with their types', async () => {
    const cols = await s.describe('out');
    expect(cols.map((c) => [c.name, c.type])).toEqual(FG_A_SCHEMA);
  });

  it('emits one row per (host, role) present in S_w, idle hosts only in the longer windows, in order', async () => {
    expect(keys(out)).toEqual([
      `10.0.0.1|inbound|w_8h|${T}`, `10.0.0.1|inbound|w_24h|${T}`,
      `10.0.0.1|outbound|w_15m|${T}`, `10.0.0.1|outbound|w_30m|${T}`, `10.0.0.1|outbound|w_1h|${T}`,
      `10.0.0.1|outbound|w_8h|${T}`, `10.0.0.1|outbound|w_24h|${T}`,
      `10.0.0.2|outbound|w_1h|${T}`, `10.0.0.2|outbound|w_8h|${T}`, `10.0.0.2|outbound|w_24h|${T}`,
    ]);
  });

  it('sums every additive column over exactly the selected rows, with the schema-map names', () => {
    // by hand: sessions_cnt (j = 0) in w_8h = 1000 * 3 + (1 + 2 + 8) = 3011;
    //          drop_cnt -> deny_cnt (j = 5) in w_24h = 6000 * 4 + (1 + 2 + 4 + 8) = 24015.
    expect(get(out, `10.0.0.1|outbound|w_8h|${T}`).sessions_cnt).toBe(3011);
    expect(get(out, `10.0.0.1|outbound|w_24h|${T}`).deny_cnt).toBe(24015);
    for (const [w] of WINDOWS) {
      const r = get(out, `10.0.0.1|outbound|${w}|${T}`);
      for (const c of DELTA_ADDITIVE) expect(r[RENAME[c] ?? c], `${c} in ${w}`).toBe(expected(c, w));
      expect(r.bytes_sent_sum).toBeUndefined();
      expect(r.drop_cnt).toBeUndefined();
    }
    // max_sessions_per_minute = max over S_w: 3 | 7 | 7 | 7 (20 is at T - 8h, out) | 20 (50 at T - 24h, out)
    expect(WINDOWS.map(([w]) => get(out, `10.0.0.1|outbound|${w}|${T}`).max_sessions_per_minute)).toEqual([3, 7, 7, 7, 20]);
    expect(get(out, `10.0.0.1|inbound|w_8h|${T}`).sessions_cnt).toBe(5);
    expect(get(out, `10.0.0.2|outbound|w_1h|${T}`)).toMatchObject({ sessions_cnt: 7, udp_cnt: 7, admin_port_sessions_cnt: 1, max_sessions_per_minute: 4 });
  });

  it('derives the ratios with eps_a and the high-risk port flag', () => {
    for (const [w] of WINDOWS) {
      const r = get(out, `10.0.0.1|outbound|${w}|${T}`);
      const n = expected('sessions_cnt', w);
      expect(r.duration_mean).toBeCloseTo(expected('duration_sum', w) / (n + EPS), 12);
      expect(r.deny_ratio).toBeCloseTo(expected('drop_cnt', w) / (n + EPS), 12);
      expect(r.bytes_asymmetry_ratio).toBeCloseTo(expected('bytes_sent_sum', w) / (expected('bytes_recv_sum', w) + EPS), 12);
      expect(r.transport_tcp_ratio).toBeCloseTo(expected('tcp_cnt', w) / (n + EPS), 12);
      expect(r.transport_udp_ratio).toBeCloseTo(expected('udp_cnt', w) / (n + EPS), 12);
      expect(r.transport_icmp_ratio).toBeCloseTo(expected('icmp_cnt', w) / (n + EPS), 12);
      expect(r.has_high_risk_port_activity).toBe(1);
    }
    // 10.0.0.2: udp 7 of 7 sessions -> 7 / (7 + 1e-9); no bytes -> 0 / (0 + 1e-9) = 0; no high-risk port
    const r2 = get(out, `10.0.0.2|outbound|w_1h|${T}`);
    expect(r2.transport_udp_ratio).toBeCloseTo(7 / (7 + EPS), 15);
    expect(r2.bytes_asymmetry_ratio).toBe(0);
    expect(r2.has_high_risk_port_activity).toBe(0);
  });

  it('writes the keys, record_id and the partition columns of the anchor batch', () => {
    const r = get(out, `10.0.0.1|outbound|w_8h|${T}`);
    expect(r).toMatchObject({
      window_start_ts: '2026-11-24 04:30', window_end_ts: '2026-11-24 12:30', segment_id: '10.0.0.0/24',
      record_id: '10.0.0.1|outbound|w_8h|2026-11-24T12:30:00Z',
      dt: '2026-11-24', hh: '12', mm: '15', mini_batch_id: '20261124T1215Z', feature_spec_version: 'v1',
    });
    expect(get(out, `10.0.0.2|outbound|w_24h|${T}`)).toMatchObject({
      window_start_ts: '2026-11-23 12:30', segment_id: 'SEG_B', record_id: '10.0.0.2|outbound|w_24h|2026-11-24T12:30:00Z',
    });
  });

  it('without delta_peers rows: distinct counts 0, distribution features NULL, novelty 0', () => {
    const r = get(out, `10.0.0.2|outbound|w_1h|${T}`);
    expect(r).toMatchObject({
      peer_ip_nunique: 0, peer_port_nunique: 0, peer_segment_nunique: 0,
      peer_ip_entropy: null, peer_port_entropy: null, peer_ip_top1_sessions_share: null, peer_port_top1_sessions_share: null,
      peer_ip_top1_bytes_share: null, peer_port_top1_bytes_share: null,
      high_risk_segment_sessions_cnt: 0, high_risk_segment_unique_peers: 0, has_high_risk_segment_interaction: 0,
      new_peer_cnt: 0, rare_peer_cnt: 0, new_peer_ratio: 0, new_port_cnt: 0, rare_port_cnt: 0, new_pair_cnt: 0, rare_pair_cnt: 0,
    });
  });
});

describe('fg_a.sql: peer distribution, segments, high-risk segments', () => {
  const T = '2026-11-24 12:30';
  const SEGMENTS: Record<string, string> = {
    '10.0.0.1': '10.0.0.0/24', '10.0.0.2': '10.0.0.0/24',
    '8.8.8.8': '8.8.8.0/24', '10.1.0.5': '10.1.0.0/24', '10.1.0.6': '10.1.0.0/24', '10.9.9.9': '10.9.9.0/24',
    '1.1.1.1': '1.1.1.0/24', '10.2.0.7': '10.2.0.0/24',
  };
  const HIGH_RISK = ['10.1.0.0/24', '10.9.9.0/24'];
  const PEERS: PeerRow[] = [
    { host: '10.0.0.1', role: 'outbound', peer: '8.8.8.8', port: 53, end: '2026-11-24 12:30', s: 6, sent: 100, recv: 500 },
    { host: '10.0.0.1', role: 'outbound', peer: '10.1.0.5', port: 445, end: '2026-11-24 12:30', s: 3, sent: 1000, recv: 0 },
    { host: '10.0.0.1', role: 'outbound', peer: '10.1.0.6', port: 445, end: '2026-11-24 12:30', s: 1, sent: 50, recv: 50 },
    { host: '10.0.0.1', role: 'outbound', peer: '8.8.8.8', port: 443, end: '2026-11-24 12:15', s: 2, sent: 10, recv: 10 },
    { host: '10.0.0.1', role: 'outbound', peer: '10.9.9.9', port: 22, end: '2026-11-24 04:45', s: 4, sent: 7, recv: 7 },
    { host: '10.0.0.1', role: 'outbound', peer: '10.1.0.5', port: 445, end: '2026-11-24 04:30', s: 9, sent: 1, recv: 1 }, // T - 8h exactly
    { host: '10.0.0.1', role: 'inbound', peer: '10.2.0.7', port: 3389, end: '2026-11-24 11:00', s: 2, sent: 5, recv: 9 },
    { host: '10.0.0.2', role: 'outbound', peer: '1.1.1.1', port: 53, end: '2026-11-24 12:00', s: 2, sent: 10, recv: 10 },
    { host: '10.0.0.2', role: 'outbound', peer: '1.1.1.1', port: null, end: '2026-11-24 12:00', s: 3, sent: 5, recv: 5 },
  ];
  let out: Map<string, Out>;
  beforeEach(async () => {
    await params(s, { anchors: [T], highRisk: HIGH_RISK });
    const deltaOf = (host: string, role: string, end: string) =>
      delta(host, role, end, { sessions_cnt: PEERS.filter((p) => p.host === host && p.role === role && p.end === end).reduce((a, p) => a + p.s, 0) });
    const slices = [...new Set(PEERS.map((p) => `${p.host}|${p.role}|${p.end}`))].map((k) => k.split('|'));
    await inputs(s, { delta: slices.map(([h, r, e]) => deltaOf(h, r, e)), peers: PEERS, segments: SEGMENTS });
    out = await runFgA(s);
  });

  it('w_15m of 10.0.0.1 outbound, by hand', () => {
    // P_w = (8.8.8.8:53, 6 sessions, 600 B), (10.1.0.5:445, 3, 1000 B), (10.1.0.6:445, 1, 100 B); S = 10, B = 1700
    // peer entropy = -(.6 ln .6 + .3 ln .3 + .1 ln .1) = .306495 + .361192 + .230259 = .897946
    // port entropy (53: 6, 445: 4) = -(.6 ln .6 + .4 ln .4) = .306495 + .366516 = .673012
    // top-1: peers 6/10, ports 6/10; bytes: peers 1000/1700, ports (445: 1100) 1100/1700
    // segments {8.8.8.0/24, 10.1.0.0/24} = 2; high-risk 10.1.0.0/24: 3 + 1 sessions, 2 peers
    const r = get(out, `10.0.0.1|outbound|w_15m|${T}`);
    expect(r).toMatchObject({
      peer_ip_nunique: 3, peer_port_nunique: 2, peer_segment_nunique: 2,
      high_risk_segment_sessions_cnt: 4, high_risk_segment_unique_peers: 2, has_high_risk_segment_interaction: 1,
    });
    expect(r.peer_ip_entropy).toBeCloseTo(0.897946, 6);
    expect(r.peer_port_entropy).toBeCloseTo(0.673012, 6);
    expect(r.peer_ip_top1_sessions_share).toBeCloseTo(6 / (10 + EPS), 12);
    expect(r.peer_port_top1_sessions_share).toBeCloseTo(6 / (10 + EPS), 12);
    expect(r.peer_ip_top1_bytes_share).toBeCloseTo(1000 / (1700 + EPS), 12);
    expect(r.peer_port_top1_bytes_share).toBeCloseTo(1100 / (1700 + EPS), 12);
  });

  it('every window and role equals an independent -sum(p ln p) / top-1 / segment computation', () => {
    for (const host of ['10.0.0.1', '10.0.0.2'])
      for (const role of ['outbound', 'inbound'])
        for (const [w, minutes] of WINDOWS) {
          const rows = PEERS.filter((p) => p.host === host && p.role === role && inWindow(p.end, T, minutes));
          const r = out.get(`${host}|${role}|${w}|${T}`);
          if (!rows.length) {
            expect(r, `${host}|${role}|${w}`).toBeUndefined();
            continue;
          }
          const ref = peerReference(rows, SEGMENTS, HIGH_RISK);
          const tag = `${host}|${role}|${w}`;
          expect(r!.peer_ip_nunique, tag).toBe(ref.ip.n);
          expect(r!.peer_port_nunique, tag).toBe(ref.port.n);
          expect(r!.peer_segment_nunique, tag).toBe(ref.segments);
          expect(r!.peer_ip_entropy, tag).toBeCloseTo(ref.ip.entropy!, 12);
          expect(r!.peer_port_entropy, tag).toBeCloseTo(ref.port.entropy!, 12);
          expect(r!.peer_ip_top1_sessions_share, tag).toBeCloseTo(ref.ip.top1s!, 12);
          expect(r!.peer_port_top1_sessions_share, tag).toBeCloseTo(ref.port.top1s!, 12);
          expect(r!.peer_ip_top1_bytes_share, tag).toBeCloseTo(ref.ip.top1b!, 12);
          expect(r!.peer_port_top1_bytes_share, tag).toBeCloseTo(ref.port.top1b!, 12);
          expect(r!.high_risk_segment_sessions_cnt, tag).toBe(ref.hrSessions);
          expect(r!.high_risk_segment_unique_peers, tag).toBe(ref.hrPeers);
          expect(r!.has_high_risk_segment_interaction, tag).toBe(ref.hrSessions > 0 ? 1 : 0);
        }
    // by hand, w_8h adds 10.9.9.9:22 (4 sessions, high-risk segment); the 9 sessions at T - 8h stay out:
    expect(get(out, `10.0.0.1|outbound|w_8h|${T}`)).toMatchObject({
      peer_ip_nunique: 4, peer_port_nunique: 4, peer_segment_nunique: 3,
      high_risk_segment_sessions_cnt: 3 + 1 + 4, high_risk_segment_unique_peers: 3,
    });
    // ... and w_24h has them: 10.1.0.5 -> 3 + 9 = 12 sessions
    expect(get(out, `10.0.0.1|outbound|w_24h|${T}`).high_risk_segment_sessions_cnt).toBe(12 + 1 + 4);
    // the inbound role sees only its own peer (10.2.0.7, not high-risk)
    expect(get(out, `10.0.0.1|inbound|w_8h|${T}`)).toMatchObject({
      peer_ip_nunique: 1, peer_ip_entropy: 0, peer_segment_nunique: 1, high_risk_segment_sessions_cnt: 0, has_high_risk_segment_interaction: 0,
    });
  });

  it('a NULL peer_port counts for the peer, not for the port distribution (documented choice)', () => {
    // 10.0.0.2 w_1h: 1.1.1.1:53 (2 sessions, 20 B) and 1.1.1.1:NULL (3 sessions, 10 B)
    const r = get(out, `10.0.0.2|outbound|w_1h|${T}`);
    expect(r).toMatchObject({ peer_ip_nunique: 1, peer_port_nunique: 1, peer_ip_entropy: 0, peer_port_entropy: 0 });
    expect(r.peer_ip_top1_sessions_share).toBeCloseTo(5 / (5 + EPS), 15);
    expect(r.peer_port_top1_sessions_share).toBeCloseTo(2 / (2 + EPS), 15);
    expect(r.peer_ip_top1_bytes_share).toBeCloseTo(30 / (30 + EPS), 15);
    expect(r.peer_port_top1_bytes_share).toBeCloseTo(20 / (20 + EPS), 15);
  });
});

describe('fg_a.sql: novelty against the look-back', () => {
  // Anchor T = 2026-11-24 12:30, windows w_15m and w_24h, look-back 30 days, K = 1:
  //   w_15m: window_start 11-24 12:15, L = [10-25 12:15, 11-24 12:15)
  //   w_24h: window_start 11-23 12:30, L = [10-24 12:30, 11-23 12:30)
  // Edge days (days containing an L start or an L end): 10-24, 10-25, 11-23, 11-24.
  const T = '2026-11-24 12:30';
  const W2: [string, number][] = [['w_15m', 15], ['w_24h', 1440]];
  const H = '10.0.0.1';
  const cur = (peer: string, port: number, role = 'outbound'): PeerRow => ({ host: H, role, peer, port, end: T, s: 1 });
  // current P_w (all in the slice ending at T): peers A B C D F G N
  const CURRENT: PeerRow[] = [
    cur('8.8.8.8', 53), // A
    cur('10.1.0.5', 445), // B
    cur('10.1.0.6', 445), // C
    cur('10.1.0.7', 8080), // D
    cur('10.1.0.9', 53), // F: no history at all
    cur('10.1.0.10', 445), // G: 6 sessions in whole days inside every L (decided > K without the exact count)
    { ...cur('10.1.0.11', 0), port: null }, // N: no port, no history: a new peer, no port, no pair
    cur('8.8.8.8', 53, 'inbound'), // A as an inbound peer: its outbound history must not count
  ];
  // the logical look-back: delta_peers rows by slice END (slice_start = end - 15 min)
  const at = (peer: string, port: number | null, start: string, sessions = 1): PeerRow => ({
    host: H, role: 'outbound', peer, port, end: hm(ms(start) + 15 * MIN), s: sessions,
  });
  const HISTORY: PeerRow[] = [
    at('8.8.8.8', 53, '2026-10-25 12:00'), //    r2: before the w_15m L start; inside w_24h's L
    at('10.1.0.5', 445, '2026-10-25 12:15'), //  r3: exactly at the w_15m L start: included
    at('10.1.0.5', 22, '2026-11-05 09:00'), //   r4: peer B on another port
    at('10.1.0.6', 445, '2026-11-10 10:00'), //  r5
    at('10.1.0.6', 445, '2026-11-23 06:00'), //  r6: edge day, before the w_24h L end
    at('10.1.0.7', 8080, '2026-11-23 13:00'), // r7: edge day, after the w_24h L end
    at('10.1.0.8', null, '2026-11-12 00:00', 2), // r8: another peer without port: no effect
    at('8.8.8.8', null, '2026-10-30 00:00'), //  r9: NULL port: counts for peer A only
    at('10.1.0.7', 8080, '2026-11-23 12:30'), // r10: slice_start = w_24h window_start: excluded there
    at('10.1.0.10', 445, '2026-11-01 10:00', 3), at('10.1.0.10', 445, '2026-11-02 10:00', 3),
    // the current slice itself is also a row of the edge day 11-24 (r1): slice_start = w_15m window_start
    ...CURRENT.map((c) => ({ ...c })),
  ];
  // Hand count, w_15m (L = [10-25 12:15, 11-24 12:15)): rows r3 r4 r5 r6 r7 r8 r9 r10 + G's; r1, r2 out
  //   peers: A = r9 = 1 rare | B = r3 + r4 = 2 | C = r5 + r6 = 2 | D = r7 + r10 = 2 | F, N = 0 new | G = 6
  //   ports: 53 = 0 new (r9 has no port) | 445 = r3 + r5 + r6 + 6 = 9 | 8080 = r7 + r10 = 2
  //   pairs: (A,53) = 0 new | (B,445) = r3 = 1 rare | (C,445) = 2 | (D,8080) = 2 | (F,53) = 0 new | (G,445) = 6
  // Hand count, w_24h (L = [10-24 12:30, 11-23 12:30)): rows r2 r3 r4 r5 r6 r8 r9 + G's; r1 r7 r10 out
  //   peers: A = r2 + r9 = 2 | B = 2 | C = 2 | D = 0 new | F, N = 0 new | G = 6
  //   ports: 53 = r2 = 1 rare | 445 = 9 | 8080 = 0 new
  //   pairs: (A,53) = r2 = 1 rare | (B,445) = 1 rare | (C,445) = 2 | (D,8080) = 0 new | (F,53) = 0 new | (G,445) = 6
  const HAND: Record<string, Record<string, number>> = {
    w_15m: { new_peer_cnt: 2, rare_peer_cnt: 1, new_peer_ratio: 2 / (7 + EPS), new_port_cnt: 1, rare_port_cnt: 0, new_pair_cnt: 2, rare_pair_cnt: 1 },
    w_24h: { new_peer_cnt: 3, rare_peer_cnt: 0, new_peer_ratio: 3 / (7 + EPS), new_port_cnt: 1, rare_port_cnt: 1, new_pair_cnt: 2, rare_pair_cnt: 2 },
  };
  const SEGMENTS = Object.fromEntries(
    ['10.0.0.1', '8.8.8.8', '10.1.0.5', '10.1.0.6', '10.1.0.7', '10.1.0.8', '10.1.0.9', '10.1.0.10'].map((ip) => [ip, 'S']),
  );
  const EDGE_DAYS = ['2026-10-24', '2026-10-25', '2026-11-23', '2026-11-24'];
  const dayOf = (p: PeerRow) => hm(ms(p.end) - 15 * MIN).slice(0, 10);

  /** FEATURES.md 4.3 read naively: scan every logical row whose slice_start_ts is in L. */
  function noveltyReference(w: number, k: [number, number, number], role = 'outbound') {
    const ws = ms(T) - w * MIN;
    const inL = HISTORY.filter((h) => h.role === role && ms(h.end) - 15 * MIN >= ws - 30 * 1440 * MIN && ms(h.end) - 15 * MIN < ws);
    const cur = CURRENT.filter((c) => c.role === role);
    const seen = (f: (h: PeerRow) => boolean) => inL.filter(f).reduce((a, h) => a + h.s, 0);
    const classify = (xs: number[], K: number) => ({ n: xs.filter((x) => x === 0).length, r: xs.filter((x) => x >= 1 && x <= K).length });
    const peers = [...new Set(cur.map((c) => c.peer))];
    const ports = [...new Set(cur.filter((c) => c.port !== null).map((c) => c.port))]; // NULL is no port
    const pairs = [...new Set(cur.filter((c) => c.port !== null).map((c) => `${c.peer}|${c.port}`))];
    const p = classify(peers.map((x) => seen((h) => h.peer === x)), k[0]);
    const q = classify(ports.map((x) => seen((h) => h.port === x)), k[1]);
    const r = classify(pairs.map((x) => seen((h) => `${h.peer}|${h.port}` === x)), k[2]);
    return {
      new_peer_cnt: p.n, rare_peer_cnt: p.r, new_peer_ratio: p.n / (peers.length + EPS),
      new_port_cnt: q.n, rare_port_cnt: q.r, new_pair_cnt: r.n, rare_pair_cnt: r.r,
    };
  }

  /** The compaction of the given logical rows with delta_peers_daily.sql itself. */
  async function compact(rows: PeerRow[]): Promise<Row[]> {
    await table(s, 'delta_peers_in', PEERS_SCHEMA, rows.map(peerRow));
    return s.all<Row>(`SELECT * REPLACE (strftime(day, '%Y-%m-%d') AS day) FROM (${(await loadTemplate('v1', 'delta_peers_daily')).text})`);
  }

  // Three ways to store the same look-back; all must give the same numbers.
  const SPLITS = {
    // what the runner registers: compactions of the non-edge days, batches of the edge days
    runner: (h: PeerRow[]) => ({ daily: h.filter((p) => !EDGE_DAYS.includes(dayOf(p))), batches: h.filter((p) => EDGE_DAYS.includes(dayOf(p))) }),
    // no compaction at all
    batches_only: (h: PeerRow[]) => ({ daily: [] as PeerRow[], batches: h }),
    // every day compacted, edge days also as batches (a day whole in one L and partial in another)
    compacted_everywhere: (h: PeerRow[]) => ({ daily: h, batches: h.filter((p) => EDGE_DAYS.includes(dayOf(p))) }),
  };

  async function run(split: keyof typeof SPLITS, cfg: Partial<Cfg> = {}) {
    await params(s, { anchors: [T], windows: W2, ...cfg });
    const { daily, batches } = SPLITS[split](HISTORY);
    const dailyRows = await compact(daily);
    await inputs(s, {
      delta: [delta(H, 'outbound', T, { sessions_cnt: 6 }), delta(H, 'inbound', T, { sessions_cnt: 1 })],
      peers: CURRENT,
      daily: dailyRows,
      batches,
      segments: SEGMENTS,
    });
    return runFgA(s);
  }

  it('counts new and rare peers, ports and pairs exactly (hand count, runner storage split)', async () => {
    const out = await run('runner');
    for (const [w] of W2) {
      const r = get(out, `${H}|outbound|${w}|${T}`);
      for (const [c, v] of Object.entries(HAND[w])) expect(r[c], `${w} ${c}`).toBeCloseTo(v, 15);
    }
    // inbound: A (8.8.8.8:53) has only outbound history -> new peer, new port, new pair
    for (const [w] of W2)
      expect(get(out, `${H}|inbound|${w}|${T}`)).toMatchObject({
        new_peer_cnt: 1, rare_peer_cnt: 0, new_port_cnt: 1, rare_port_cnt: 0, new_pair_cnt: 1, rare_pair_cnt: 0,
      });
  });

  for (const split of Object.keys(SPLITS) as (keyof typeof SPLITS)[])
    it(`equals the naive scan of every history row whatever the storage split: ${split}`, async () => {
      const out = await run(split);
      for (const [w, minutes] of W2)
        for (const role of ['outbound', 'inbound']) {
          const r = get(out, `${H}|${role}|${w}|${T}`);
          const ref = noveltyReference(minutes, [1, 1, 1], role);
          for (const [c, v] of Object.entries(ref)) expect(r[c], `${split} ${role} ${w} ${c}`).toBeCloseTo(v, 15);
        }
    });

  it('uses K per kind (K = 2)', async () => {
    // w_15m with K = 2: peers A 1, B 2, C 2, D 2 are rare (G = 6 is not); ports 8080 = 2 rare;
    // pairs (B,445) 1, (C,445) 2, (D,8080) 2 rare
    const out = await run('runner', { k: [2, 2, 2] });
    expect(get(out, `${H}|outbound|w_15m|${T}`)).toMatchObject({
      new_peer_cnt: 2, rare_peer_cnt: 4, new_port_cnt: 1, rare_port_cnt: 1, new_pair_cnt: 2, rare_pair_cnt: 3,
    });
    for (const [w, minutes] of W2) {
      const r = get(out, `${H}|outbound|${w}|${T}`);
      for (const [c, v] of Object.entries(noveltyReference(minutes, [2, 2, 2]))) expect(r[c], `${w} ${c}`).toBeCloseTo(v, 15);
    }
  });

  it('novelty disabled: the seven columns are NULL, the rest is unchanged', async () => {
    const on = await run('runner');
    const off = await run('runner', { novelty: false });
    for (const [w] of W2) {
      const a = get(on, `${H}|outbound|${w}|${T}`);
      const b = get(off, `${H}|outbound|${w}|${T}`);
      for (const c of NOVELTY) expect(b[c], c).toBeNull();
      for (const c of Object.keys(a).filter((c) => !NOVELTY.includes(c))) expect(b[c], c).toEqual(a[c]);
    }
  });
});

describe('fg_a.sql: many anchors, random traffic, against the naive reading', () => {
  // Seeded random delta_peers rows for 2 hosts x 2 roles over ~5 days, 6 anchors (across UTC
  // midnight, so the look-back edges fall on different days), 3 windows, look-back 3 days,
  // K = (1, 2, 1). Inputs registered as the runner does: the window rows, compactions of the
  // whole days and batches of the edge days. Every row is checked against a direct scan.
  const ANCHORS = ['2026-11-24 00:15', '2026-11-24 06:00', '2026-11-24 12:30', '2026-11-24 12:45', '2026-11-24 23:45', '2026-11-25 00:00'];
  const W3: [string, number][] = [['w_15m', 15], ['w_1h', 60], ['w_24h', 1440]];
  const LOOKBACK = 3;
  const K: [number, number, number] = [1, 2, 1];
  const HOSTS = ['10.0.0.1', '10.0.0.2'];
  const PEERS = ['10.1.0.1', '10.1.0.2', '10.2.0.3', '8.8.8.8', '1.1.1.1', '10.2.0.4'];
  const PORTS: (number | null)[] = [53, 443, 445, null];
  const SEG = (ip: string) => ip.split('.').slice(0, 3).join('.') + '.0/24';

  let seed = 20261124;
  const rand = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const first = ms(ANCHORS[0]) - 1440 * MIN - LOOKBACK * 1440 * MIN - 1440 * MIN;
  const last = ms(ANCHORS.at(-1)!);
  const ROWS: PeerRow[] = [];
  for (let e = first + 15 * MIN; e <= last; e += 15 * MIN)
    for (const host of HOSTS)
      for (const role of ['outbound', 'inbound'])
        for (const peer of PEERS)
          for (const port of PORTS)
            if (rand() < 0.012) ROWS.push({ host, role, peer, port, end: hm(e), s: 1 + Math.floor(rand() * 3), sent: Math.floor(rand() * 1000), recv: Math.floor(rand() * 1000) });

  const startOf = (p: PeerRow) => ms(p.end) - 15 * MIN;
  const dayMs = (m: number) => Math.floor(m / (1440 * MIN)) * 1440 * MIN;

  it('every fg_a row equals a direct scan of the rows (peer features and novelty)', async () => {
    const tMin = ms(ANCHORS[0]);
    const tMax = ms(ANCHORS.at(-1)!);
    const maxW = 1440 * MIN;
    const lb = LOOKBACK * 1440 * MIN;
    // the runner's look-back registration (src/pipeline/build-fg-a.ts): edge days hold an L start or an L end
    const range = (a: number, b: number) => {
      const out: number[] = [];
      for (let d = dayMs(a); d <= dayMs(b); d += 1440 * MIN) out.push(d);
      return out;
    };
    const edge = new Set([...range(tMin - maxW - lb, tMax - 15 * MIN - lb), ...range(tMin - maxW, tMax - 15 * MIN)]);
    const hist = ROWS.filter((p) => startOf(p) >= dayMs(tMin - maxW - lb) && startOf(p) < tMax);
    const current = ROWS.filter((p) => ms(p.end) > tMin - maxW && ms(p.end) <= tMax);

    await params(s, { anchors: ANCHORS, windows: W3, lookback: LOOKBACK, k: K, highRisk: ['10.2.0.0/24'] });
    await table(s, 'delta_peers_in', PEERS_SCHEMA, hist.filter((p) => !edge.has(dayMs(startOf(p)))).map(peerRow));
    const daily = await s.all<Row>(`SELECT * REPLACE (strftime(day, '%Y-%m-%d') AS day) FROM (${(await loadTemplate('v1', 'delta_peers_daily')).text})`);
    const slices = new Map<string, Row>();
    for (const p of current) {
      const k = `${p.host}|${p.role}|${p.end}`;
      const d = slices.get(k) ?? delta(p.host, p.role, p.end, { sessions_cnt: 0 });
      d.sessions_cnt = (d.sessions_cnt as number) + p.s;
      slices.set(k, d);
    }
    await inputs(s, {
      delta: [...slices.values()],
      peers: current,
      daily,
      batches: hist.filter((p) => edge.has(dayMs(startOf(p)))),
      segments: Object.fromEntries([...HOSTS, ...PEERS].map((ip) => [ip, SEG(ip)])),
    });
    const out = await runFgA(s);

    let checked = 0;
    let novel = 0;
    for (const T of ANCHORS)
      for (const [w, minutes] of W3)
        for (const host of HOSTS)
          for (const role of ['outbound', 'inbound']) {
            const rows = current.filter((p) => p.host === host && p.role === role && inWindow(p.end, T, minutes));
            const r = out.get(`${host}|${role}|${w}|${T}`);
            if (!rows.length) {
              expect(r).toBeUndefined();
              continue;
            }
            const tag = `${host}|${role}|${w}|${T}`;
            const ref = peerReference(rows, Object.fromEntries(PEERS.map((ip) => [ip, SEG(ip)])), ['10.2.0.0/24']);
            expect(r!.sessions_cnt, tag).toBe(rows.reduce((a, p) => a + p.s, 0));
            expect(r!.peer_ip_nunique, tag).toBe(ref.ip.n);
            expect(r!.peer_port_nunique, tag).toBe(ref.port.n);
            expect(r!.peer_segment_nunique, tag).toBe(ref.segments);
            expect(r!.peer_ip_entropy, tag).toBeCloseTo(ref.ip.entropy!, 12);
            if (ref.port.n) expect(r!.peer_port_entropy, tag).toBeCloseTo(ref.port.entropy!, 12);
            else expect(r!.peer_port_entropy, tag).toBeNull();
            expect(r!.peer_ip_top1_bytes_share, tag).toBeCloseTo(ref.ip.top1b!, 12);
            expect(r!.high_risk_segment_sessions_cnt, tag).toBe(ref.hrSessions);
            // novelty: every logical row of the role with slice_start_ts in L = [ws - 3 d, ws)
            const ws = ms(T) - minutes * MIN;
            const inL = ROWS.filter((h) => h.host === host && h.role === role && startOf(h) >= ws - lb && startOf(h) < ws);
            const seen = (f: (h: PeerRow) => boolean) => inL.filter(f).reduce((a, h) => a + h.s, 0);
            const count = (xs: number[], k: number) => ({ n: xs.filter((x) => x === 0).length, r: xs.filter((x) => x >= 1 && x <= k).length });
            const peers = [...new Set(rows.map((p) => p.peer))];
            const withPort = rows.filter((p) => p.port !== null);
            const ports = [...new Set(withPort.map((p) => p.port))];
            const pairs = [...new Set(withPort.map((p) => `${p.peer}|${p.port}`))];
            const a = count(peers.map((x) => seen((h) => h.peer === x)), K[0]);
            const b = count(ports.map((x) => seen((h) => h.port === x)), K[1]);
            const c = count(pairs.map((x) => seen((h) => `${h.peer}|${h.port}` === x)), K[2]);
            expect(
              [r!.new_peer_cnt, r!.rare_peer_cnt, r!.new_port_cnt, r!.rare_port_cnt, r!.new_pair_cnt, r!.rare_pair_cnt],
              tag,
            ).toEqual([a.n, a.r, b.n, b.r, c.n, c.r]);
            expect(r!.new_peer_ratio, tag).toBeCloseTo(a.n / (peers.length + EPS), 12);
            checked++;
            novel += a.n + a.r + b.n + b.r + c.n + c.r;
          }
    expect(out.size).toBe(checked);
    expect(checked).toBeGreaterThan(40); // the fixture is not degenerate
    expect(novel).toBeGreaterThan(20);
  });
});

describe('fg_a.sql: time context and many anchors in one run', () => {
  // Asia/Jerusalem leaves summer time on Sun 2026-10-25 at 02:00 local (23:00 UTC on the 24th):
  // UTC+3 before, UTC+2 after. Weekend Fri (5) and Sat (6); holiday Mon 2026-10-26.
  // anchor T (UTC) -> local wall clock of T, by hand:
  const CASES: [string, Record<string, number | string>][] = [
    ['2026-10-23 08:00', { hour_of_day: 11, day_of_week: 5, is_working_hours: 1, is_off_hours: 0, is_night_hours: 0, is_weekend: 1, is_holiday: 0, is_offday: 1, time_band: 'off_hours' }], // Fri 11:00 IDT
    ['2026-10-24 20:45', { hour_of_day: 23, day_of_week: 6, is_working_hours: 0, is_off_hours: 0, is_night_hours: 1, is_weekend: 1, is_holiday: 0, is_offday: 1, time_band: 'off_hours' }], // Sat 23:45 IDT
    ['2026-10-24 21:00', { hour_of_day: 0, day_of_week: 7, is_night_hours: 1, is_weekend: 0, is_offday: 0, time_band: 'off_hours' }], // Sun 00:00 IDT: local date is already Sunday
    ['2026-10-24 22:45', { hour_of_day: 1, day_of_week: 7, is_night_hours: 1 }], // 01:45 IDT (UTC+3)
    ['2026-10-24 23:00', { hour_of_day: 1, day_of_week: 7, is_night_hours: 1 }], // 01:00 IST again (UTC+2)
    ['2026-10-24 23:45', { hour_of_day: 1, day_of_week: 7 }], // 01:45 IST
    ['2026-10-25 00:00', { hour_of_day: 2, day_of_week: 7 }], // 02:00 IST
    ['2026-10-25 05:00', { hour_of_day: 7, is_working_hours: 1, is_night_hours: 0, is_offday: 0, time_band: 'working_hours' }], // Sun 07:00, a working day
    ['2026-10-25 14:45', { hour_of_day: 16, is_working_hours: 1, is_off_hours: 0, time_band: 'working_hours' }],
    ['2026-10-25 15:00', { hour_of_day: 17, is_working_hours: 0, is_off_hours: 1, is_night_hours: 0, time_band: 'off_hours' }],
    ['2026-10-25 19:45', { hour_of_day: 21, is_off_hours: 1, is_night_hours: 0 }],
    ['2026-10-25 20:00', { hour_of_day: 22, is_off_hours: 0, is_night_hours: 1 }],
    ['2026-10-25 22:15', { hour_of_day: 0, day_of_week: 1, is_holiday: 1, is_offday: 1, is_weekend: 0 }], // Mon 00:15 local, still Sun in UTC
    ['2026-10-26 08:00', { hour_of_day: 10, day_of_week: 1, is_working_hours: 1, is_holiday: 1, is_offday: 1, time_band: 'off_hours' }],
  ];
  const HOLIDAYS = ['2026-10-26'];

  /** Local time by node's ICU (Intl), independent of DuckDB. */
  function intlContext(T: string) {
    const parts = Object.fromEntries(
      new Intl.DateTimeFormat('en-CA', {
        timeZone: 'Asia/Jerusalem', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', hourCycle: 'h23', weekday: 'short',
      })
        .formatToParts(new Date(ms(T)))
        .map((p) => [p.type, p.value]),
    );
    const h = Number(parts.hour);
    const dow = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'].indexOf(parts.weekday) + 1;
    const weekend = [5, 6].includes(dow) ? 1 : 0;
    const holiday = HOLIDAYS.includes(`${parts.year}-${parts.month}-${parts.day}`) ? 1 : 0;
    const working = h >= 7 && h < 17 ? 1 : 0;
    return {
      hour_of_day: h, day_of_week: dow, is_working_hours: working, is_off_hours: h >= 17 && h < 22 ? 1 : 0,
      is_night_hours: h >= 22 || h < 7 ? 1 : 0, is_weekend: weekend, is_holiday: holiday, is_offday: Math.max(weekend, holiday),
      time_band: working && !Math.max(weekend, holiday) ? 'working_hours' : 'off_hours',
    };
  }

  const W: [string, number][] = [['w_15m', 15], ['w_1h', 60]];
  const H = '10.0.0.1';
  let out: Map<string, Out>;
  beforeEach(async () => {
    await params(s, { anchors: CASES.map(([t]) => t), windows: W, holidays: HOLIDAYS });
    // one delta row in each anchor's own slice, sessions = its index + 1
    await inputs(s, {
      delta: CASES.map(([t], i) => delta(H, 'outbound', t, { sessions_cnt: i + 1 })),
      peers: CASES.map(([t], i) => ({ host: H, role: 'outbound', peer: '8.8.8.8', port: 53, end: t, s: i + 1 })),
      segments: { [H]: 'S', '8.8.8.8': 'P' },
    });
    out = await runFgA(s);
  });

  it('local hour, ISO weekday, bands, weekend and holiday across the DST change (by hand and via Intl)', () => {
    for (const [T, want] of CASES) {
      const r = get(out, `${H}|outbound|w_15m|${T}`);
      expect(r, T).toMatchObject(want);
      expect(r, T).toMatchObject(intlContext(T));
      expect(get(out, `${H}|outbound|w_1h|${T}`), T).toMatchObject(intlContext(T)); // time context is per anchor
    }
  });

  it('computes every anchor of the run independently (windows overlap across anchors)', () => {
    expect(out.size).toBe(CASES.length * 2);
    for (const [T] of CASES)
      for (const [w, minutes] of W) {
        const want = CASES.map(([t], i) => (inWindow(t, T, minutes) ? i + 1 : 0)).reduce((a, b) => a + b, 0);
        const r = get(out, `${H}|outbound|${w}|${T}`);
        expect(r.sessions_cnt, `${w} ${T}`).toBe(want);
        expect(r.peer_ip_nunique).toBe(1);
        expect(r.record_id).toBe(`${H}|outbound|${w}|${T.replace(' ', 'T')}:00Z`);
        expect(r.mini_batch_id).toBe(hm(ms(T) - 15 * MIN).replace(/[-:]/g, '').replace(' ', 'T') + 'Z');
      }
    // by hand: 23:00 and 23:45 UTC on 10-24 are 45 minutes apart, so the w_1h of 23:45 holds
    // the 23:00 (5) and 23:45 (6) rows: 11; 22:45 (4) ends exactly at 23:45 - 1h: out
    expect(get(out, `${H}|outbound|w_1h|2026-10-24 23:45`).sessions_cnt).toBe(5 + 6);
    expect(get(out, `${H}|outbound|w_1h|2026-10-24 23:00`).sessions_cnt).toBe(4 + 5);
  });
});

describe('delta_peers_daily.sql', () => {
  it('compacts one UTC day of delta_peers per (host, role, peer, port), NULL port kept as a key', async () => {
    await setVariables(s, { feature_spec_version: 'v1' });
    const r = (peer: string, port: number | null, end: string, n: number): PeerRow => ({ host: '10.0.0.1', role: 'outbound', peer, port, end, s: n });
    const rows = [
      r('8.8.8.8', 53, '2026-11-23 00:15', 1), // slice_start 00:00, day 11-23
      r('8.8.8.8', 53, '2026-11-23 12:00', 2),
      r('8.8.8.8', 53, '2026-11-24 00:00', 4), // slice_start 11-23 23:45: still day 11-23
      r('8.8.8.8', null, '2026-11-23 12:00', 8),
      r('8.8.8.8', 443, '2026-11-23 12:00', 16),
      r('8.8.8.8', 53, '2026-11-24 00:15', 32), // slice_start 11-24 00:00: the next day
      { ...r('8.8.8.8', 53, '2026-11-23 12:00', 64), role: 'inbound' },
    ];
    await table(s, 'delta_peers_in', PEERS_SCHEMA, rows.map(peerRow));
    await s.run(`CREATE TEMP TABLE daily AS ${(await loadTemplate('v1', 'delta_peers_daily')).text}`);
    expect((await s.describe('daily')).map((c) => [c.name, c.type])).toEqual(DAILY_SCHEMA);
    const got = await s.all<Row>(`SELECT * REPLACE (strftime(day, '%Y-%m-%d') AS day) FROM daily ORDER BY day, role, peer_port NULLS LAST`);
    const d = (role: string, port: number | null, day: string, n: number) => ({
      host_ip: '10.0.0.1', role, peer_ip: '8.8.8.8', peer_port: port, day, sessions_cnt: n, dt: day, feature_spec_version: 'v1',
    });
    expect(got).toEqual([
      d('inbound', 53, '2026-11-23', 64),
      d('outbound', 53, '2026-11-23', 1 + 2 + 4),
      d('outbound', 443, '2026-11-23', 16),
      d('outbound', null, '2026-11-23', 8),
      d('outbound', 53, '2026-11-24', 32),
    ]);
  });
});
