-- delta_peers: 15-minute per-host, per-role, per-peer activity (FEATURES.md §3).
--
-- Purpose : the non-additive building block of FG-A (distinct counts, entropy,
--           top-1 shares, segments, novelty) and of the FG-C pair summary.
-- Inputs  : view role_events (grain: session × role); table batch_labels (one row
--           per batch, batch_labels.sql).
-- Params  : none (the version comes with batch_labels).
-- Output  : one row per (host_ip, role, peer_ip, peer_port, batch_start).
-- Choices : a NULL peer_port (e.g. ICMP without ports) is its own group value;
--           last_event_ts = max(event_end), NULL when every event_end is NULL.
WITH peers AS (
    SELECT
        host_ip, role, peer_ip, peer_port, batch_start,
        count(*)                                  AS sessions_cnt,
        sum(coalesce(bytes_sent, 0))::BIGINT      AS bytes_sent_sum,
        sum(coalesce(bytes_recv, 0))::BIGINT      AS bytes_recv_sum,
        max(event_end)                            AS last_event_ts
    FROM role_events
    GROUP BY host_ip, role, peer_ip, peer_port, batch_start
)
SELECT p.* EXCLUDE (batch_start), p.batch_start AS slice_start_ts, l.* EXCLUDE (batch_start)
FROM peers p
JOIN batch_labels l USING (batch_start)
