-- fg_b_groups (feature_spec_version v1) — the baseline groups of a horizon, numbered.
--
-- Purpose: one row per host group (host_ip, role, segment_id, time_band, window_label) of the
--   horizon's observations (FEATURES.md §6.2), with two dense integer ids: hid for the host group
--   and sid for its segment group (segment_id, role, time_band, window_label; §6.3). The
--   statistics (fg_b_stats.sql) group by these integers instead of five text columns, and the
--   observations are stored in hid order, so each group's values arrive together.
-- Inputs:
--   fg_a_in   view, grain (host_ip, role, window_label, window_end_ts): FG-A rows.
--   fgb_run   temp table from fg_b_run.sql: baseline_start_ts, baseline_end_ts.
-- Parameters: none.
-- Output grain: (host_ip, role, segment_id, time_band, window_label). Columns: those five,
--   hid BIGINT (1..n, in segment-group then host order), sid BIGINT (1..m).
-- Choices where FEATURES.md is silent:
--   * A NULL segment_id or time_band is a value of its own (its rows form their own groups), as
--     in fg_b_capped.sql; ORDER BY and dense_rank treat NULLs as equal.
SELECT host_ip, role, segment_id, time_band, window_label,
       row_number() OVER (ORDER BY segment_id, role, time_band, window_label, host_ip) AS hid,
       dense_rank() OVER (ORDER BY segment_id, role, time_band, window_label) AS sid
FROM (
    SELECT DISTINCT host_ip, role, segment_id, time_band, window_label
    FROM fg_a_in
    WHERE window_end_ts >= (SELECT baseline_start_ts FROM fgb_run)
      AND window_end_ts <  (SELECT baseline_end_ts FROM fgb_run)
)
