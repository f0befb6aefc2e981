-- delta_peers: 15-minute per-host, per-role, per-peer activity (FEATURES.md §3).
--
-- Purpose : the non-additive building block of FG-A (distinct counts, entropy,
--           top-1 shares, segments, novelty) and of the FG-C pair summary.
-- Inputs  : view role_events (grain: session × role).
-- Params  : variable feature_spec_version.
-- Output  : one row per (host_ip, role, peer_ip, peer_port, batch_start).
-- Choices : a NULL peer_port (e.g. ICMP without ports) is its own group value;
--           last_event_ts = max(event_end), NULL when every event_end is NULL.
SELECT
    host_ip, role, peer_ip, peer_port,
    count(*)                                  AS sessions_cnt,
    sum(coalesce(bytes_sent, 0))::BIGINT      AS bytes_sent_sum,
    sum(coalesce(bytes_recv, 0))::BIGINT      AS bytes_recv_sum,
    max(event_end)                            AS last_event_ts,
    batch_start                               AS slice_start_ts,
    batch_start + INTERVAL 15 MINUTE          AS slice_end_ts,
    strftime(batch_start, '%Y-%m-%d')         AS dt,
    strftime(batch_start, '%H')               AS hh,
    strftime(batch_start, '%M')               AS mm,
    strftime(batch_start, '%Y%m%dT%H%MZ')     AS mini_batch_id,
    getvariable('feature_spec_version')       AS feature_spec_version
FROM role_events
GROUP BY host_ip, role, peer_ip, peer_port, batch_start
