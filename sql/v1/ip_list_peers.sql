-- ip_list_peers: the distinct host and peer addresses an FG-A/FG-C run reads,
-- input of ip_dim.sql (segments of hosts, peers and pair sources).
-- Inputs: views delta_peers_in (grain: host, role, peer, port, batch) and delta_in.
-- Params: none. Output: one row per distinct non-NULL IP string.
SELECT DISTINCT ip
FROM (
    SELECT host_ip AS ip FROM delta_peers_in
    UNION ALL SELECT peer_ip FROM delta_peers_in
    UNION ALL SELECT host_ip FROM delta_in
)
WHERE ip IS NOT NULL
