/**
 * Install a project's JobSpecs into a session as the variables and parameter
 * tables the templates read (docs/CONTRACTS.md). One place, so every
 * transform sees the same values.
 */
import { FG_C_TRANSFORMS, type JobSpecs } from '../config/jobspec-schemas.ts';
import { ConfigError } from '../errors/index.ts';
import { createParamTable, setVariables, type Scalar } from '../engine/params.ts';
import type { Session } from '../engine/session.ts';
import { loadTemplate } from '../engine/templates.ts';
import { defaultBaselineMetrics, fgAColumns } from './columns.ts';

/** Action strings are matched case-insensitively with spaces/underscores folded to '-' (FEATURES.md §1.2). */
export const foldAction = (a: string) => a.trim().toLowerCase().replace(/[ _]/g, '-');

export function internalNetworks(specs: JobSpecs, override?: string): 'all' | string[] {
  if (override !== undefined) return override.trim() === 'all' ? 'all' : override.split(',').map((s) => s.trim()).filter(Boolean);
  return specs.project_parameters.internal_networks;
}

export function baselineMetrics(specs: JobSpecs): string[] {
  const metrics = specs.fg_b_builder.baseline_metrics ?? defaultBaselineMetrics(specs);
  const fgA = new Set(fgAColumns(specs).map((c) => c.name));
  const unknown = metrics.filter((m) => !fgA.has(m));
  if (unknown.length)
    throw new ConfigError(`JobSpec ${specs.project}/fg_b_builder#${specs.version}.baseline_metrics: FG-A has no metric ${unknown.join(', ')}`);
  return metrics;
}

export function fgCMetrics(specs: JobSpecs): string[] {
  const base = baselineMetrics(specs);
  const metrics = specs.fg_c_builder.metrics ?? base;
  const unknown = metrics.filter((m) => !base.includes(m));
  if (unknown.length)
    throw new ConfigError(`JobSpec ${specs.project}/fg_c_builder#${specs.version}.metrics: not an FG-B baseline metric: ${unknown.join(', ')}`);
  return metrics;
}

export async function installJobSpecParams(session: Session, specs: JobSpecs, opts: { internalNetworks?: string } = {}) {
  const pp = specs.project_parameters;
  const nets = internalNetworks(specs, opts.internalNetworks);
  const fgA = specs.fg_a_builder;
  const fgB = specs.fg_b_builder;
  const fgC = specs.fg_c_builder;
  await setVariables(session, {
    feature_spec_version: specs.version,
    tz: pp.calendar.timezone,
    work_start: pp.calendar.working_hours[0],
    work_end: pp.calendar.working_hours[1],
    off_start: pp.calendar.off_hours[0],
    off_end: pp.calendar.off_hours[1],
    ipv4_prefix_length: pp.segment_mapping.prefix_length,
    ipv6_prefix_length: pp.segment_mapping.ipv6_prefix_length,
    all_hosts: nets === 'all',
    dq_filter_null_bytes_ports: specs.delta_builder.dq.filter_null_bytes_ports,
    dq_drop_malformed_ip: specs.delta_builder.dq.drop_malformed_ip,
    dq_duration_non_negative: specs.delta_builder.dq.duration_non_negative,
    dq_bytes_non_negative: specs.delta_builder.dq.bytes_non_negative,
    pc_require_both_ips: specs.pair_counts_builder.filters.require_both_ips,
    pc_require_positive_dst_port: specs.pair_counts_builder.filters.require_positive_dst_port,
    eps_a: fgA.eps_a,
    lookback_days: fgA.lookback_days,
    novelty_enabled: fgA.novelty.enabled,
    k_peer: fgA.novelty.rare_max_sessions.peer,
    k_port: fgA.novelty.rare_max_sessions.port,
    k_pair: fgA.novelty.rare_max_sessions.pair,
    eps: fgC.eps,
    eps_b: fgB.eps,
    z_max: fgC.z_max,
    z_max_b: fgB.anomaly_capping.z_max,
    w_anom: fgB.anomaly_capping.w_anom,
    strong_z: fgC.strong_z,
    rarity_threshold: fgB.rarity_threshold,
  });
  const table = (name: string, columns: Record<string, string>, rows: Scalar[][]) =>
    createParamTable(session, { name, columns, rows });
  await table('p_port_sets', { set_name: 'VARCHAR', port: 'INTEGER' }, Object.entries(pp.port_sets).flatMap(([s, ports]) => ports.map((p) => [s, p])));
  await table(
    'p_action_classes',
    { action: 'VARCHAR', class: 'VARCHAR' },
    Object.entries(pp.action_classes).flatMap(([cls, actions]) => actions.map((a) => [foldAction(a), cls])),
  );
  await table('p_internal_networks', { cidr: 'VARCHAR' }, nets === 'all' ? [] : nets.map((c) => [c]));
  await table('p_segment_cidrs', { cidr: 'VARCHAR', segment_id: 'VARCHAR' }, pp.segment_mapping.cidr_table.map((e) => [e.cidr, e.segment_id]));
  await table('p_windows', { window_label: 'VARCHAR', minutes: 'INTEGER' }, Object.entries(fgA.windows));
  await table('p_weekend_days', { dow: 'INTEGER' }, pp.calendar.weekend_days.map((d) => [d]));
  await table('p_holidays', { d: 'DATE' }, pp.calendar.holidays.map((d) => [d]));
  await table('p_high_risk_segments', { segment_id: 'VARCHAR' }, fgA.high_risk_segments.map((s) => [s]));
  const supportMin = (m: string) => (typeof fgB.support_min === 'number' ? fgB.support_min : (fgB.support_min[m] ?? 50));
  await table('p_baseline_metrics', { metric: 'VARCHAR', support_min: 'INTEGER' }, baselineMetrics(specs).map((m) => [m, supportMin(m)]));
  await table('p_key_metrics', { metric: 'VARCHAR' }, fgB.anomaly_capping.key_metrics.map((m) => [m]));
  await table('p_required_metrics', { metric: 'VARCHAR' }, fgB.baseline_required_metrics.map((m) => [m]));
  await table('p_np_prefixes', { prefix: 'VARCHAR' }, fgB.non_persistent_machine_prefixes.map((p) => [p]));
  await table('p_horizons', { horizon: 'VARCHAR', days: 'INTEGER', tail: 'INTEGER', head: 'INTEGER' }, Object.entries(fgB.horizons).map(([h, v]) => [h, v.days, v.tail, v.head]));
  await table('p_fgc_metrics', { metric: 'VARCHAR', scale_floor: 'DOUBLE' }, fgCMetrics(specs).map((m) => [m, fgC.scale_floor[m] ?? null]));
  await table('p_score_families', { score: 'VARCHAR', metric: 'VARCHAR' }, Object.entries(fgC.score_families).flatMap(([s, ms]) => ms.map((m) => [s, m])));
  await table('p_fgc_transforms', { transform: 'VARCHAR', selected: 'BOOLEAN' }, FG_C_TRANSFORMS.map((t) => [t, fgC.transforms.includes(t)]));
  await setFgCVariables(session, specs.version);
}

/** The list variables fg_c.sql reads, derived from p_fgc_metrics and p_fgc_transforms by sql/<v>/fg_c_variables.sql. */
export async function setFgCVariables(session: Session, version: string) {
  await session.run((await loadTemplate(version, 'fg_c_variables')).text);
}
