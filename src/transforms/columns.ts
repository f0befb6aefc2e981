/**
 * Output schema contracts (docs/CONTRACTS.md): every dataset's columns, in
 * order, with DuckDB types. A missing column, a type mismatch or an undeclared
 * column is an error at the boundary (ARCHITECTURE.md principle 3).
 */
import type { JobSpecs } from '../config/jobspec-schemas.ts';

export interface Column {
  name: string;
  type: string;
}

const cols = (type: string, ...names: string[]): Column[] => names.map((name) => ({ name, type }));
const PARTITION = cols('VARCHAR', 'dt', 'hh', 'mm');
const TRAILER = cols('VARCHAR', 'mini_batch_id', 'feature_spec_version');
const QUANTILES = [25, 50, 75, 95, 99];

export const portSetColumns = (specs: JobSpecs) =>
  Object.keys(specs.project_parameters.port_sets).map((s) => `${s}_port_sessions_cnt`);

export function deltaColumns(specs: JobSpecs): Column[] {
  return [
    ...cols('VARCHAR', 'host_ip', 'role'),
    ...cols('TIMESTAMP', 'slice_start_ts', 'slice_end_ts'),
    ...PARTITION,
    ...cols('BIGINT', 'sessions_cnt', 'bytes_sent_sum', 'bytes_recv_sum'),
    ...cols('DOUBLE', 'duration_sum'),
    ...cols('BIGINT', 'allow_cnt', 'drop_cnt', 'alert_cnt', 'rst_cnt', 'aged_out_cnt', 'threat_cnt', 'traffic_cnt'),
    ...cols('BIGINT', 'tcp_cnt', 'udp_cnt', 'icmp_cnt', 'zero_reply_cnt', 'short_session_cnt'),
    ...cols('BIGINT', ...portSetColumns(specs), 'max_sessions_per_minute'),
    ...cols('DOUBLE', ...['bytes_sent', 'bytes_recv', 'duration'].flatMap((m) => QUANTILES.map((q) => `${m}_p${q}`))),
    ...TRAILER,
  ];
}

export const deltaPeersColumns = (): Column[] => [
  ...cols('VARCHAR', 'host_ip', 'role', 'peer_ip'),
  ...cols('INTEGER', 'peer_port'),
  ...cols('BIGINT', 'sessions_cnt', 'bytes_sent_sum', 'bytes_recv_sum'),
  ...cols('TIMESTAMP', 'last_event_ts', 'slice_start_ts', 'slice_end_ts'),
  ...PARTITION,
  ...TRAILER,
];

export const deltaPeersDailyColumns = (): Column[] => [
  ...cols('VARCHAR', 'host_ip', 'role', 'peer_ip'),
  ...cols('INTEGER', 'peer_port'),
  ...cols('DATE', 'day'),
  ...cols('BIGINT', 'sessions_cnt'),
  ...cols('VARCHAR', 'dt', 'feature_spec_version'),
];

export const pairCountsColumns = (): Column[] => [
  ...cols('VARCHAR', 'src_ip', 'dst_ip'),
  ...cols('INTEGER', 'dst_port'),
  ...cols('VARCHAR', 'segment_id'),
  ...cols('BIGINT', 'sessions_cnt'),
  ...cols('TIMESTAMP', 'event_ts', 'slice_start_ts', 'slice_end_ts'),
  ...PARTITION,
  ...TRAILER,
];

/** FG-A additive metrics after the delta -> FG-A schema map (FEATURES.md §4.1–4.2). */
export const fgAAdditive = (specs: JobSpecs) => [
  'sessions_cnt', 'allow_cnt', 'deny_cnt', 'alert_cnt', 'rst_cnt', 'aged_out_cnt', 'zero_reply_cnt',
  'short_session_cnt', 'bytes_src_sum', 'bytes_dst_sum', 'duration_sum', 'tcp_cnt', 'udp_cnt', 'icmp_cnt',
  'threat_cnt', 'traffic_cnt', ...portSetColumns(specs),
];

export const FG_A_TIME_CONTEXT = [
  'hour_of_day', 'day_of_week', 'is_working_hours', 'is_off_hours', 'is_night_hours', 'is_weekend', 'is_holiday', 'is_offday',
];
export const FG_A_KEYS = ['host_ip', 'role', 'window_label', 'window_start_ts', 'window_end_ts', 'segment_id', 'record_id'];

export function fgAColumns(specs: JobSpecs): Column[] {
  const additive = fgAAdditive(specs);
  return [
    ...cols('VARCHAR', 'host_ip', 'role', 'window_label'),
    ...cols('TIMESTAMP', 'window_start_ts', 'window_end_ts'),
    ...cols('VARCHAR', 'segment_id', 'record_id'),
    ...additive.map((name) => ({ name, type: name === 'duration_sum' ? 'DOUBLE' : 'BIGINT' })),
    ...cols('BIGINT', 'max_sessions_per_minute'),
    ...cols('DOUBLE', 'duration_mean', 'deny_ratio', 'bytes_asymmetry_ratio', 'transport_tcp_ratio', 'transport_udp_ratio', 'transport_icmp_ratio'),
    ...cols('INTEGER', 'has_high_risk_port_activity'),
    ...cols('BIGINT', 'peer_ip_nunique', 'peer_port_nunique', 'peer_segment_nunique'),
    ...cols('DOUBLE', 'peer_ip_entropy', 'peer_port_entropy', 'peer_ip_top1_sessions_share', 'peer_port_top1_sessions_share'),
    ...cols('DOUBLE', 'peer_ip_top1_bytes_share', 'peer_port_top1_bytes_share'),
    ...cols('BIGINT', 'high_risk_segment_sessions_cnt', 'high_risk_segment_unique_peers'),
    ...cols('INTEGER', 'has_high_risk_segment_interaction'),
    ...cols('BIGINT', 'new_peer_cnt', 'rare_peer_cnt'),
    ...cols('DOUBLE', 'new_peer_ratio'),
    ...cols('BIGINT', 'new_port_cnt', 'rare_port_cnt', 'new_pair_cnt', 'rare_pair_cnt'),
    ...cols('INTEGER', ...FG_A_TIME_CONTEXT),
    ...cols('VARCHAR', 'time_band'),
    ...PARTITION,
    ...TRAILER,
  ];
}

/**
 * The default FG-B baseline metrics: every numeric FG-A metric except keys,
 * time context and the two has_* flags (FEATURES.md §6.2).
 */
export function defaultBaselineMetrics(specs: JobSpecs): string[] {
  const excluded = new Set([...FG_A_KEYS, ...FG_A_TIME_CONTEXT, 'has_high_risk_port_activity', 'has_high_risk_segment_interaction']);
  return fgAColumns(specs)
    .filter((c) => ['BIGINT', 'DOUBLE', 'INTEGER'].includes(c.type) && !excluded.has(c.name))
    .map((c) => c.name);
}
