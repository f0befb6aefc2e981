-- role_events: each kept event seen from each internal host's side (FEATURES.md §1.3).
--
-- Purpose : the host-centric view shared by delta and delta_peers.
-- Inputs  : view events (kept rows of events_dq, grain: one session);
--           ip_dim(ip, is_internal, ...).
-- Params  : none (host scope is in ip_dim.is_internal, from internal_networks / 'all').
-- Output  : one row per (session, role) where the role's host is in scope:
--           role, host_ip, peer_ip, peer_port, bytes_sent, bytes_recv (host-centric),
--           plus the event columns the aggregates need.
-- Choices : the role table is the FEATURES.md default (outbound: host = source;
--           inbound: host = destination; peer_port is the destination port in both).
--           A session between two internal hosts appears once per role.
WITH roles AS (
    SELECT 'outbound' AS role, source_ip AS host_ip, destination_ip AS peer_ip,
           source_bytes AS bytes_sent, destination_bytes AS bytes_recv, *
    FROM events
    UNION ALL
    SELECT 'inbound' AS role, destination_ip AS host_ip, source_ip AS peer_ip,
           destination_bytes AS bytes_sent, source_bytes AS bytes_recv, *
    FROM events
)
SELECT r.role, r.host_ip, r.peer_ip, r.destination_port AS peer_port, r.bytes_sent, r.bytes_recv,
       r.destination_bytes, r.event_start, r.event_end, r.duration_sec, r.batch_start,
       r.action_class, r.event_reason, r.event_name, r.network_transport
FROM roles r
JOIN ip_dim h ON h.ip = r.host_ip AND h.is_internal
