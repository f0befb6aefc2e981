-- delta_peers_daily: the daily compaction of delta_peers, the novelty look-back store.
--
-- Purpose : FG-A novelty (FEATURES.md §4.3) reads whole UTC days of history from
--           here, so its cost does not grow with the number of 15-minute batches.
-- Inputs  : view delta_peers_in (delta_peers rows of one or more whole UTC days,
--           grain: host_ip, role, peer_ip, peer_port, batch).
-- Params  : variable feature_spec_version.
-- Output  : one row per (host_ip, role, peer_ip, peer_port, UTC day of slice_start_ts)
--           with the day's total sessions; dt = that day (the partition key).
-- Choices : a NULL peer_port is kept as its own key (it still counts for peer novelty).
SELECT
    host_ip, role, peer_ip, peer_port,
    slice_start_ts::DATE                    AS day,
    sum(sessions_cnt)::BIGINT               AS sessions_cnt,
    strftime(slice_start_ts::DATE, '%Y-%m-%d') AS dt,
    getvariable('feature_spec_version')     AS feature_spec_version
FROM delta_peers_in
GROUP BY host_ip, role, peer_ip, peer_port, slice_start_ts::DATE
