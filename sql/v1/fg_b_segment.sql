-- fg_b_segment (feature_spec_version v1) — the segment baselines' statistics with their group
-- keys (FEATURES.md §6.3, `fg_b/segment`).
--
-- Purpose: the segment level of fg_b_stats.sql (per (segment_id, role, time_band, window_label)
--   and metric, over the observations of every host of the segment: quantiles .5, .25, .75, .95,
--   .99, true MAD and support count, capped rows excluded from the statistics), keyed by its
--   group columns again. The runner creates it as the view fgb_stats, which fg_b_widen.sql turns
--   into the contract (docs/CONTRACTS.md fg_b segment).
-- Inputs:
--   fgb_stats_long  temp table: the chunks of fg_b_stats.sql, grain (level__, gid__, metric).
--   fgb_groups      temp table from fg_b_groups.sql: the group keys and their sid.
-- Parameters: none.
-- Output grain: (segment_id, role, time_band, window_label, metric). Columns: as fg_b_host.sql's
--   (grp__, record_key__, total_rows__, capped_rows__, metric, s).
-- Choices where FEATURES.md is silent:
--   * A NULL segment_id forms its own group; record_id renders a NULL segment_id / time_band
--     as the empty string (record_key__).
SELECT {'segment_id': g.segment_id, 'role': g.role, 'time_band': g.time_band, 'window_label': g.window_label} AS grp__,
       concat_ws('|', coalesce(g.segment_id, ''), g.role, coalesce(g.time_band, ''), g.window_label) AS record_key__,
       s.total_rows__, s.capped_rows__, s.metric, s.s
FROM fgb_stats_long s
JOIN (SELECT DISTINCT sid, segment_id, role, time_band, window_label FROM fgb_groups) g ON g.sid = s.gid__
WHERE s.level__ = 'segment'
