-- fg_b_obs (feature_spec_version v1) — the observations the host and segment baselines aggregate.
--
-- Purpose: one definition of a horizon's baseline observations (FEATURES.md §6.2, §6.3): the
--   FG-A rows with window_end_ts in [baseline_start_ts, baseline_end_ts), their selected metric
--   columns, whether §6.1 capped the row, and the ids of its host and segment groups. The runner
--   stores it once per horizon as a temp table (DuckDB spills it past memory_limit), which every
--   chunk of fg_b_stats.sql then scans instead of decoding the FG-A files again.
-- Inputs:
--   fg_a_in            view, grain (host_ip, role, window_label, window_end_ts): FG-A rows
--                      (columns per docs/CONTRACTS.md fg_a).
--   fgb_groups         temp table from fg_b_groups.sql: hid, sid per host group.
--   fgb_capped         temp table from fg_b_capped.sql: the capped observations.
--   p_baseline_metrics (metric, support_min): every one must be a numeric FG-A column.
--   fgb_run            temp table from fg_b_run.sql: baseline_start_ts, baseline_end_ts.
-- Parameters: none (the run constants come from fgb_run).
-- Variables:  optional fgb_metrics VARCHAR[] — the metric columns to keep. Unset, every column
--             of fg_a_in except the keys and time context.
-- Output grain: (host_ip, role, window_label, window_end_ts), one row per observation, in hid
--   order: hid, sid BIGINT, is_capped__ BOOLEAN, the metric columns (their FG-A types).
-- How: is_capped__ is an IN over fgb_capped, so DuckDB always hashes the capped rows (a fifth of
--   the observations in the 2,000-host bench) and streams the observations past them (a LEFT
--   JOIN let the optimizer hash the 9.2M observations instead). Rows are sorted by hid: the
--   quantile states of a group then grow from contiguous rows, which made fg_b_stats.sql 16%
--   cheaper at 2,000 hosts x 9 days (37.7 s against 44.8 s) for ~3.5 s of sorting.
-- Choices where FEATURES.md is silent:
--   * A baseline metric that is not a numeric FG-A column is an error, raised when the table is
--     created.
SELECT g.hid, g.sid,
       coalesce((o.host_ip, o.role, o.window_label, o.window_end_ts)
                IN (SELECT host_ip, role, window_label, window_end_ts FROM fgb_capped), false) AS is_capped__,
       o.* EXCLUDE (host_ip, role, segment_id, time_band, window_label, window_end_ts)
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
JOIN fgb_groups g
  ON o.host_ip = g.host_ip AND o.role = g.role AND o.window_label = g.window_label
 AND o.segment_id IS NOT DISTINCT FROM g.segment_id AND o.time_band IS NOT DISTINCT FROM g.time_band
ORDER BY g.hid
