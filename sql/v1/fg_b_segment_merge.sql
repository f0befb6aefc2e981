-- fg_b_segment_merge (feature_spec_version v1) — reassemble the segment baselines computed in
-- chunks of metrics (FEATURES.md §6.3; `fg_b/segment`).
--
-- Purpose: when a horizon holds more values than the segment statistics' states may take in
--   memory, build-fg-b.ts runs fg_b_widen over fg_b_segment once per chunk of metrics. Each
--   chunk's table has every contract column but fills only its own metrics' statistics (the
--   others NULL); this merges them into one row per group.
-- Inputs:
--   the chunk tables named by the variable fgb_segment_chunks (VARCHAR[]), each with the
--   contract of fg_b/segment, grain (segment_id, role, time_band, window_label).
-- Parameters: none.
-- Output grain: (segment_id, role, time_band, window_label), the contract's columns.
-- Choices: any_value keeps the one non-NULL value of a metric column; the row counts and the
--   run's columns are equal in every chunk. A statistic that is NULL in its own chunk (an
--   all-capped group) stays NULL.
SELECT segment_id, role, time_band, window_label,
       any_value(COLUMNS(* EXCLUDE (segment_id, role, time_band, window_label)))
FROM query_table(getvariable('fgb_segment_chunks'))
GROUP BY segment_id, role, time_band, window_label
