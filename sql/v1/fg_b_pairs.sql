-- fg_b_pairs (feature_spec_version v1) — FEATURES.md §6.5 pair rarity, both levels in one scan.
--
-- Purpose: how often each pair was seen over the horizon range, at the host level
--   (src_ip, dst_ip, dst_port) and at the segment level (segment_id, dst_ip, dst_port),
--   segment_id being the pair_counts column segment_id(src_ip). fg_b_pair_host.sql and
--   fg_b_pair_segment.sql select their level from this table.
-- Inputs:
--   pair_counts_in  view, grain (src_ip, dst_ip, dst_port, batch): pair_counts rows
--                   (docs/CONTRACTS.md); rows outside the range are ignored.
-- Parameters: $horizon VARCHAR, $range_start / $range_end TIMESTAMP (batch_start =
--             slice_start_ts in [start, end)), $reference_date VARCHAR.
-- Variables:  rarity_threshold, feature_spec_version.
-- Output grain: (by_segment, src_ip, segment_id, dst_ip, dst_port): host-level rows have
--   by_segment false and segment_id NULL; segment-level rows by_segment true and src_ip NULL.
-- Columns: by_segment BOOLEAN, src_ip, segment_id, dst_ip VARCHAR, dst_port INTEGER,
--   pair_seen_count BIGINT, pair_last_seen_ts TIMESTAMP, active_days BIGINT, pair_daily_avg,
--   pair_rarity_score DOUBLE, is_rare_pair_flag INTEGER, baseline_horizon, reference_date,
--   feature_spec_version VARCHAR.
-- Definitions: pair_seen_count = Σ sessions_cnt; pair_last_seen_ts = max(event_ts);
--   active_days = count of distinct UTC dates of slice_start_ts (batch_start);
--   pair_daily_avg = pair_seen_count / active_days; pair_rarity_score = 1 / (1 + pair_seen_count);
--   is_rare_pair_flag = 1 if pair_rarity_score >= rarity_threshold.
-- Choices where FEATURES.md is silent: the half-open range; a NULL segment_id forms its own
--   segment-level key (FG-C never looks it up: a pair whose src has no segment counts as unseen
--   there). by_segment comes from GROUPING(), not from NULLs, so the two cannot mix.
-- How: two hash aggregations, per (pair, UTC day) with one grouping set per level, and then
--   per pair, so that active_days is a count of day rows rather than a COUNT(DISTINCT ...) set.
WITH per_day AS (
    SELECT GROUPING(src_ip) = 1 AS by_segment, src_ip, segment_id, dst_ip, dst_port,
           sum(sessions_cnt) AS sessions,
           max(event_ts)     AS last_ts
    FROM pair_counts_in
    WHERE slice_start_ts >= $range_start::TIMESTAMP
      AND slice_start_ts <  $range_end::TIMESTAMP
    GROUP BY GROUPING SETS ((src_ip, dst_ip, dst_port, slice_start_ts::DATE),
                            (segment_id, dst_ip, dst_port, slice_start_ts::DATE))
)
SELECT by_segment, src_ip, segment_id, dst_ip, dst_port,
       sum(sessions)::BIGINT                                          AS pair_seen_count,
       max(last_ts)                                                   AS pair_last_seen_ts,
       count(*)                                                       AS active_days,
       sum(sessions)::DOUBLE / count(*)                               AS pair_daily_avg,
       1.0::DOUBLE / (1 + sum(sessions)::DOUBLE)                      AS pair_rarity_score,
       (1.0::DOUBLE / (1 + sum(sessions)::DOUBLE) >= getvariable('rarity_threshold')::DOUBLE)::INTEGER
                                                                      AS is_rare_pair_flag,
       $horizon::VARCHAR                                              AS baseline_horizon,
       $reference_date::VARCHAR                                       AS reference_date,
       getvariable('feature_spec_version')::VARCHAR                   AS feature_spec_version
FROM per_day
GROUP BY by_segment, src_ip, segment_id, dst_ip, dst_port
