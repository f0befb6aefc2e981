-- delta_peers_daily.sql — daily compaction of delta_peers: the look-back store of FG-A novelty
-- (FEATURES.md §4.3, "a daily compaction of delta_peers is expected").
--
-- Purpose: one row per (host_ip, role, peer_ip, peer_port, UTC day) with the sessions of that
--   day, so that a 30-day look-back reads ~30 rows per key instead of ~2,880 batch rows.
--   fg_a.sql counts a daily row only when its whole day [day, day + 1) lies inside the look-back
--   range L; the partial days at the edges of L come from the batch rows themselves.
-- Input: view `delta_peers_in` — the delta_peers rows of ONE UTC day [host_ip, role, peer_ip,
--   peer_port, batch] (schema in docs/CONTRACTS.md). The runner rebuilds a day's compaction
--   whenever that day's delta_peers partitions change (freshness by input digest).
-- Parameters: session variable feature_spec_version.
-- Output grain: (host_ip, role, peer_ip, peer_port, day). Columns (CONTRACTS.md):
--   host_ip, role, peer_ip, peer_port, day DATE, sessions_cnt BIGINT, dt VARCHAR, feature_spec_version.
--
-- Choices where FEATURES.md is silent:
--   * day is the UTC date of slice_start_ts (= batch_start), the same day that partitions the
--     batch (dt). If the input spans several days, each day gets its own rows.
--   * A NULL peer_port is a key value of its own (GROUP BY keeps NULLs together): such rows
--     still count for seen(peer).
--   * Only sessions are kept: novelty needs nothing else. Bytes and last_event_ts are dropped.
--   * Rows are sorted by key for compact Parquet and fast look-ups.
SELECT host_ip,
       role,
       peer_ip,
       peer_port,
       slice_start_ts::DATE                         AS day,
       sum(sessions_cnt)::BIGINT                    AS sessions_cnt,
       strftime(slice_start_ts::DATE, '%Y-%m-%d')   AS dt,
       getvariable('feature_spec_version')::VARCHAR AS feature_spec_version
FROM delta_peers_in
GROUP BY host_ip, role, peer_ip, peer_port, slice_start_ts::DATE
ORDER BY day, host_ip, role, peer_ip, peer_port
