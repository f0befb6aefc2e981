-- fg_b_host (feature_spec_version v1) — the keys of the host baselines' groups
-- (FEATURES.md §6.2, `fg_b/host`).
--
-- Purpose: one row per host group of the horizon, with the id fg_b_stats.sql keyed its host-level
--   statistics by (level__ 'host', gid__ = hid). The runner creates it as the view fgb_keys,
--   through which fg_b_widen.sql selects the host level of fgb_stats_long and names its groups
--   (docs/CONTRACTS.md fg_b host).
-- Inputs:
--   fgb_groups  temp table from fg_b_groups.sql: the group keys and their hid.
-- Parameters: none.
-- Output grain: (host_ip, role, segment_id, time_band, window_label). Columns: level__ VARCHAR,
--   gid__ BIGINT, grp__ STRUCT of the group key (in the contract's column order), record_key__
--   VARCHAR (record_id without the horizon).
-- Choices where FEATURES.md is silent:
--   * record_id renders a NULL segment_id / time_band as the empty string (record_key__).
SELECT 'host' AS level__,
       hid AS gid__,
       {'host_ip': host_ip, 'role': role, 'segment_id': segment_id, 'time_band': time_band, 'window_label': window_label} AS grp__,
       concat_ws('|', host_ip, role, coalesce(segment_id, ''), coalesce(time_band, ''), window_label) AS record_key__
FROM fgb_groups
