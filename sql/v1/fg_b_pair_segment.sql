-- fg_b_pair_segment (feature_spec_version v1) — FEATURES.md §6.5 pair rarity, segment level (`fg_b/pair_segment`).
--
-- Purpose: how often each (segment_id, dst_ip, dst_port) pair was seen over the horizon range,
--   segment_id being the pair_counts column segment_id(src_ip).
-- Inputs:
--   fgb_pairs       temp table from fg_b_pairs.sql (both levels, one scan of pair_counts; the
--                   definitions and choices are there).
-- Parameters: none.
-- Output grain: (segment_id, dst_ip, dst_port).
-- Columns: segment_id, dst_ip VARCHAR, dst_port INTEGER, pair_seen_count BIGINT,
--   pair_last_seen_ts TIMESTAMP, active_days BIGINT, pair_daily_avg, pair_rarity_score DOUBLE,
--   is_rare_pair_flag INTEGER, baseline_horizon, reference_date, feature_spec_version VARCHAR.
-- How: the segment-level rows of fgb_pairs.
SELECT segment_id, dst_ip, dst_port,
       COLUMNS(* EXCLUDE (by_segment, src_ip, segment_id, dst_ip, dst_port))
FROM fgb_pairs
WHERE by_segment
