-- fg_b_obs (feature_spec_version v1) — the observations fg_b_host and fg_b_segment aggregate.
--
-- Purpose: one definition of a horizon's baseline observations (FEATURES.md §6.2, §6.3): the
--   FG-A rows with window_end_ts in [baseline_start_ts, baseline_end_ts), their selected metric
--   columns, and whether §6.1 capped the row. The runner creates it as a VIEW, so each query
--   reading it binds it afresh: the metric columns follow fgb_metrics at that moment (the
--   segment step changes it per metric chunk).
-- Inputs:
--   fg_a_in            view, grain (host_ip, role, window_label, window_end_ts): FG-A rows
--                      (columns per docs/CONTRACTS.md fg_a).
--   fgb_capped         temp table from fg_b_capped.sql: the capped observations.
--   p_baseline_metrics (metric, support_min): every one must be a numeric FG-A column.
--   fgb_run            temp table from fg_b_run.sql: baseline_start_ts, baseline_end_ts.
-- Parameters: none (a view cannot hold them; the run constants come from fgb_run).
-- Variables:  optional fgb_metrics VARCHAR[] — the metric columns to read. Unset, every column
--             of fg_a_in except the keys and time context.
-- Output grain: (host_ip, role, window_label, window_end_ts), one row per observation:
--   host_ip, role, segment_id, time_band, window_label, window_end_ts, the metric columns,
--   is_capped__ BOOLEAN.
-- Choices where FEATURES.md is silent:
--   * A baseline metric that is not a numeric FG-A column is an error, raised when the view
--     is read.
SELECT o.*, (c.host_ip IS NOT NULL) AS is_capped__
FROM (
    SELECT host_ip, role, segment_id, time_band, window_label, window_end_ts,
           COLUMNS(c -> coalesce(list_contains(getvariable('fgb_metrics'), c),
                                 c NOT IN ('host_ip', 'role', 'window_label', 'window_start_ts', 'window_end_ts',
                                           'segment_id', 'record_id', 'time_band', 'dt', 'hh', 'mm',
                                           'mini_batch_id', 'feature_spec_version')))
    FROM fg_a_in
    WHERE window_end_ts >= (SELECT baseline_start_ts FROM fgb_run)
      AND window_end_ts <  (SELECT baseline_end_ts FROM fgb_run)
      AND fg_a_columns_ok((SELECT list(metric) FROM p_baseline_metrics), 'fg_b: baseline_metrics')
) o
LEFT JOIN fgb_capped c
  ON c.host_ip = o.host_ip AND c.role = o.role
 AND c.window_label = o.window_label AND c.window_end_ts = o.window_end_ts
