/**
 * The JobSpec defaults are FEATURES.md's: every value below is transcribed from the spec
 * (section in the comment), not from src/, and compared with what an empty JobSpec parses
 * to. A JobSpec that names only some keys keeps the defaults of the others.
 */
import { describe, expect, it } from 'vitest';
import {
  deltaBuilderSchema,
  fgABuilderSchema,
  fgBBuilderSchema,
  fgCBuilderSchema,
  pairCountsBuilderSchema,
  projectParametersSchema,
} from '../src/config/jobspec-schemas.ts';
import { parseJobSpec } from '../src/config/jobspec-source.ts';

describe('JobSpec defaults follow FEATURES.md', () => {
  it('project_parameters: calendar (§4.4), port sets, action classes, host scope, segments (§1.2-1.4)', () => {
    const p = projectParametersSchema.parse({});
    expect(p.calendar).toEqual({ timezone: 'Asia/Jerusalem', weekend_days: [5, 6], working_hours: [7, 17], off_hours: [17, 22], holidays: [] });
    expect(p.port_sets).toEqual({
      high_risk: [21, 23, 69, 135, 137, 138, 139, 445, 1433, 3389, 4444, 5900, 6667],
      admin: [22, 23, 3389, 5900, 5985, 5986],
      fileshare: [20, 21, 139, 445, 2049],
      directory: [88, 389, 464, 636, 3268, 3269],
      db: [1433, 1521, 3306, 5432, 6379, 9200, 27017],
    });
    expect(p.action_classes).toEqual({ allow: ['allow'], deny: ['deny', 'drop', 'drop-icmp', 'reset-client', 'reset-server', 'reset-both'], alert: ['alert'] });
    expect(p.internal_networks).toEqual(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7']);
    expect(p.segment_mapping).toEqual({ cidr_table: [], prefix_length: 24, ipv6_prefix_length: 64 });
    // No port sets would leave delta and FG-A without their port columns: a configuration error.
    expect(() => parseJobSpec('project_parameters', { port_sets: {} }, 'demo/project_parameters#v1')).toThrow(
      /JobSpec demo\/project_parameters#v1: port_sets: needs at least one port set/,
    );
    expect(() => parseJobSpec('project_parameters', { port_sets: { web: [80], none: [] } }, 'demo/project_parameters#v1')).toThrow(
      /JobSpec demo\/project_parameters#v1: port_sets\.none: a port set needs at least one port/,
    );
  });

  it('delta (§1.1 DQ, all true; §2 quantiles) and pair_counts (§5 filters, both true)', () => {
    expect(deltaBuilderSchema.parse({})).toEqual({
      dq: { filter_null_bytes_ports: true, drop_malformed_ip: true, duration_non_negative: true, bytes_non_negative: true },
      quantiles: [25, 50, 75, 95, 99],
    });
    expect(() => deltaBuilderSchema.parse({ quantiles: [50] })).toThrow(/fixed by FEATURES.md §2/);
    expect(pairCountsBuilderSchema.parse({})).toEqual({ filters: { require_both_ips: true, require_positive_dst_port: true } });
  });

  it('fg_a (§4: windows, eps_a 1e-9, 30-day look-back, K = 1 for peer, port and pair, no high-risk segments)', () => {
    expect(fgABuilderSchema.parse({})).toEqual({
      windows: { w_15m: 15, w_30m: 30, w_1h: 60, w_8h: 480, w_24h: 1440 },
      eps_a: 1e-9,
      lookback_days: 30,
      novelty: { enabled: true, rare_max_sessions: { peer: 1, port: 1, pair: 1 } },
      high_risk_segments: [],
    });
  });

  it('fg_b (§6: horizons, capping, support_min 50, required sessions_cnt, rarity 0.5, eps 1e-6)', () => {
    const b = fgBBuilderSchema.parse({});
    expect(b.horizons).toEqual({ '7d': { days: 7, tail: 2, head: 2 }, '30d': { days: 30, tail: 7, head: 7 } });
    expect(b.anomaly_capping).toEqual({
      key_metrics: ['sessions_cnt', 'bytes_src_sum', 'bytes_dst_sum', 'deny_ratio', 'peer_ip_entropy', 'high_risk_port_sessions_cnt', 'max_sessions_per_minute'],
      z_max: 6,
      w_anom: 0.1,
    });
    expect([b.support_min, b.baseline_required_metrics, b.rarity_threshold, b.eps, b.non_persistent_machine_prefixes, b.inventory_file]).toEqual([
      50, ['sessions_cnt'], 0.5, 1e-6, [], undefined,
    ]);
    // Naming one horizon replaces the defaults' set; the other keys keep their defaults.
    const one = fgBBuilderSchema.parse({ horizons: { '3d': { days: 3, tail: 1, head: 1 } } });
    expect(Object.keys(one.horizons)).toEqual(['3d']);
    expect(one.support_min).toBe(50);
    // An explicit empty metric list is a configuration error, not an FG-B without statistics.
    expect(() => parseJobSpec('fg_b_builder', { baseline_metrics: [] }, 'demo/fg_b_builder#v1')).toThrow(
      /JobSpec demo\/fg_b_builder#v1: baseline_metrics: needs at least one metric/,
    );
  });

  it('fg_c (§7: all ten transforms, eps 1e-6, z_max 6, strong_z 4, family floors, the four score families)', () => {
    const c = fgCBuilderSchema.parse({});
    expect(c.transforms).toEqual(['diff', 'z_mad', 'abs_dev_over_scale', 'z_mad_clipped', 'z_mad_signed_pow3', 'ratio', 'log_ratio', 'excess_over_p95', 'excess_ratio_p95', 'iqr_dev']);
    expect([c.eps, c.z_max, c.strong_z]).toEqual([1e-6, 6, 4]);
    // No per-metric floor: the family defaults of §7.2 apply (tested in fg-c-template.test.ts).
    expect(c.scale_floor).toEqual({});
    expect(c.score_families).toEqual({
      anomaly_strength_core: ['sessions_cnt', 'bytes_src_sum', 'bytes_dst_sum', 'deny_ratio', 'peer_ip_nunique'],
      beacon_suspicion_score: ['max_sessions_per_minute', 'sessions_cnt'],
      exfiltration_suspicion_score: ['bytes_src_sum', 'bytes_asymmetry_ratio'],
      lateral_movement_score: ['peer_ip_nunique', 'peer_segment_nunique', 'admin_port_sessions_cnt'],
    });
  });
});
