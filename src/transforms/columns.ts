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

/** Text columns with a handful of values per run, worth writing as dictionaries. */
export const LOW_CARDINALITY_COLUMNS = ['role', ...[...PARTITION, ...TRAILER].map((c) => c.name)];

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

const STAT_SUFFIXES: [string, string][] = [
  ['median', 'DOUBLE'], ['p25', 'DOUBLE'], ['p75', 'DOUBLE'], ['p95', 'DOUBLE'], ['p99', 'DOUBLE'],
  ['mad', 'DOUBLE'], ['iqr', 'DOUBLE'], ['support_count', 'BIGINT'], ['cold_start_flag', 'INTEGER'],
];
const baselineStats = (metrics: string[]): Column[] =>
  metrics.flatMap((m) => STAT_SUFFIXES.map(([s, type]) => ({ name: `${m}_${s}`, type })));
const BASELINE_TRAILER: Column[] = [
  ...cols('BIGINT', 'capped_rows', 'total_rows'),
  ...cols('TIMESTAMP', 'baseline_start_ts', 'baseline_end_ts'),
  ...cols('VARCHAR', 'reference_date', 'record_id', 'feature_spec_version'),
];

export const FG_B_TABLES = ['host', 'segment', 'ip_metadata', 'pair_host', 'pair_segment'] as const;
export type FgBTable = (typeof FG_B_TABLES)[number];

const PAIR_MEASURES: Column[] = [
  ...cols('INTEGER', 'dst_port'),
  ...cols('BIGINT', 'pair_seen_count'),
  ...cols('TIMESTAMP', 'pair_last_seen_ts'),
  ...cols('BIGINT', 'active_days'),
  ...cols('DOUBLE', 'pair_daily_avg', 'pair_rarity_score'),
  ...cols('INTEGER', 'is_rare_pair_flag'),
  ...cols('VARCHAR', 'baseline_horizon', 'reference_date', 'feature_spec_version'),
];

export function fgBColumns(table: FgBTable, metrics: string[]): Column[] {
  switch (table) {
    case 'host':
      return [...cols('VARCHAR', 'host_ip', 'role', 'segment_id', 'time_band', 'window_label', 'baseline_horizon'), ...baselineStats(metrics), ...BASELINE_TRAILER];
    case 'segment':
      return [...cols('VARCHAR', 'segment_id', 'role', 'time_band', 'window_label', 'baseline_horizon'), ...baselineStats(metrics), ...BASELINE_TRAILER];
    case 'ip_metadata':
      return [
        ...cols('VARCHAR', 'host_ip', 'role', 'segment_id', 'time_band', 'window_label', 'baseline_horizon'),
        ...cols('INTEGER', 'is_full_history', 'is_non_persistent_machine', 'is_cold_start'),
        ...cols('VARCHAR', 'machine_name', 'reference_date', 'feature_spec_version'),
      ];
    case 'pair_host':
      return [...cols('VARCHAR', 'src_ip', 'dst_ip'), ...PAIR_MEASURES];
    case 'pair_segment':
      return [...cols('VARCHAR', 'segment_id', 'dst_ip'), ...PAIR_MEASURES];
  }
}

export function fgCColumns(specs: JobSpecs, metrics: string[]): Column[] {
  const transforms = specs.fg_c_builder.transforms;
  return [
    ...cols('VARCHAR', 'host_ip', 'role', 'window_label'),
    ...cols('TIMESTAMP', 'window_start_ts', 'window_end_ts'),
    ...cols('VARCHAR', 'baseline_horizon'),
    ...cols('DOUBLE', ...metrics.flatMap((m) => transforms.map((t) => `${m}_${t}`))),
    ...cols('DOUBLE', ...Object.keys(specs.fg_c_builder.score_families), 'anomaly_score'),
    ...cols('BIGINT', 'strong_deviation_cnt'),
    ...cols('VARCHAR', 'top_contributors'),
    ...cols('DOUBLE', 'pair_rarity_mean', 'pair_rarity_max'),
    ...cols('BIGINT', 'rare_pair_cnt', 'unseen_pair_cnt'),
    ...cols('VARCHAR', 'baseline_source', 'baseline_reference_date'),
    ...cols('TIMESTAMP', 'baseline_start_ts', 'baseline_end_ts'),
    ...cols('INTEGER', 'is_cold_start'),
    ...cols('VARCHAR', 'segment_id', 'time_band', 'record_id'),
    ...PARTITION,
    ...TRAILER,
  ];
}
