-- ip_list_events: the distinct addresses of a raw read, input of ip_dim.sql.
-- Inputs: table events_dq (events.sql, one row per raw record). Params: none.
-- Output: one row per distinct non-NULL (already trimmed) IP string.
SELECT DISTINCT ip
FROM (SELECT source_ip AS ip FROM events_dq UNION ALL SELECT destination_ip FROM events_dq)
WHERE ip IS NOT NULL
