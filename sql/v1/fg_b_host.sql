-- fg_b_host (feature_spec_version v1) — the host baselines' statistics with their group keys
-- (FEATURES.md §6.2, `fg_b/host`).
--
-- Purpose: the host level of fg_b_stats.sql (per host group and metric: quantiles .5, .25, .75,
--   .95, .99, true MAD and support count over the horizon's observations, capped rows excluded
--   from the statistics), keyed by (host_ip, role, segment_id, time_band, window_label) again.
--   The runner creates it as the view fgb_stats, which fg_b_widen.sql turns into the contract
--   (docs/CONTRACTS.md fg_b host).
-- Inputs:
--   fgb_stats_long  temp table: the chunks of fg_b_stats.sql, grain (level__, gid__, metric).
--   fgb_groups      temp table from fg_b_groups.sql: the group keys and their hid.
-- Parameters: none.
-- Output grain: (host_ip, role, segment_id, time_band, window_label, metric). Columns: grp__
--   STRUCT of the group key (in the contract's column order), record_key__ VARCHAR (record_id
--   without the horizon), total_rows__, capped_rows__ BIGINT, metric VARCHAR, s STRUCT {q, mad, n}.
-- Choices where FEATURES.md is silent:
--   * record_id renders a NULL segment_id / time_band as the empty string (record_key__).
SELECT {'host_ip': g.host_ip, 'role': g.role, 'segment_id': g.segment_id, 'time_band': g.time_band,
        'window_label': g.window_label} AS grp__,
       concat_ws('|', g.host_ip, g.role, coalesce(g.segment_id, ''), coalesce(g.time_band, ''), g.window_label) AS record_key__,
       s.total_rows__, s.capped_rows__, s.metric, s.s
FROM fgb_stats_long s
JOIN fgb_groups g ON g.hid = s.gid__
WHERE s.level__ = 'host'
