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
-- How: is_capped__ is an IN over fgb_capped, so DuckDB always hashes the capped rows (a fifth of
--   the observations in the 2,000-host bench) and streams the observations past them. A LEFT
--   JOIN let the optimizer hash the 9.2M observations instead, which took half of each segment
--   metric chunk (10.8 s -> 6.2 s per chunk; FG-B over 9 days 261 s -> 206 s).
-- Choices where FEATURES.md is silent:
--   * A baseline metric that is not a numeric FG-A column is an error, raised when the view
--     is read.
SELECT o.*,
       coalesce((o.host_ip, o.role, o.window_label, o.window_end_ts)
                IN (SELECT host_ip, role, window_label, window_end_ts FROM fgb_capped), false) AS is_capped__
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
