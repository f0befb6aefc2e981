-- fg_b_pair_host (feature_spec_version v1) — FEATURES.md §6.5 pair rarity, host level (`fg_b/pair_host`).
--
-- Purpose: how often each (src_ip, dst_ip, dst_port) pair was seen over the horizon range.
-- Inputs:
--   fgb_pairs       temp table from fg_b_pairs.sql (both levels, one scan of pair_counts; the
--                   definitions and choices are there).
-- Parameters: none.
-- Output grain: (src_ip, dst_ip, dst_port).
-- Columns: src_ip, dst_ip VARCHAR, dst_port INTEGER, pair_seen_count BIGINT,
--   pair_last_seen_ts TIMESTAMP, active_days BIGINT, pair_daily_avg, pair_rarity_score DOUBLE,
--   is_rare_pair_flag INTEGER, baseline_horizon, reference_date, feature_spec_version VARCHAR.
-- How: the host-level rows of fgb_pairs.
SELECT src_ip, dst_ip, dst_port,
       COLUMNS(* EXCLUDE (by_segment, src_ip, segment_id, dst_ip, dst_port))
FROM fgb_pairs
WHERE NOT by_segment
