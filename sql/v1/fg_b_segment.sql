-- fg_b_segment (feature_spec_version v1) — the keys of the segment baselines' groups
-- (FEATURES.md §6.3, `fg_b/segment`).
--
-- Purpose: one row per segment group (segment_id, role, time_band, window_label) of the horizon,
--   with the id fg_b_stats.sql keyed its segment-level statistics by (level__ 'segment',
--   gid__ = sid). The runner creates it as the view fgb_keys, through which fg_b_widen.sql
--   selects the segment level of fgb_stats_long and names its groups (docs/CONTRACTS.md fg_b
--   segment).
-- Inputs:
--   fgb_groups  temp table from fg_b_groups.sql: the group keys and their sid.
-- Parameters: none.
-- Output grain: (segment_id, role, time_band, window_label). Columns: as fg_b_host.sql's
--   (level__, gid__, grp__, record_key__).
-- Choices where FEATURES.md is silent:
--   * A NULL segment_id forms its own group; record_id renders a NULL segment_id / time_band
--     as the empty string (record_key__).
SELECT DISTINCT 'segment' AS level__,
       sid AS gid__,
       {'segment_id': segment_id, 'role': role, 'time_band': time_band, 'window_label': window_label} AS grp__,
       concat_ws('|', coalesce(segment_id, ''), role, coalesce(time_band, ''), window_label) AS record_key__
FROM fgb_groups
