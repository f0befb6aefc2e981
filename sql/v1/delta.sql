-- delta: 15-minute per-host, per-role activity (FEATURES.md §2).
--
-- Purpose : the additive building block of FG-A.
-- Inputs  : view role_events (grain: session × role, already DQ'd, batch-filtered,
--           host-scoped); p_port_sets(set_name, port); table batch_labels (one row
--           per batch, batch_labels.sql).
-- Params  : none (the version comes with batch_labels).
-- Output  : one row per (host_ip, role, batch_start) with at least one session.
--           Port-set columns are pivoted, one `<set>_port_sessions_cnt` per set
--           (the engine orders columns by its declared contract).
-- Choices : quantiles exclude NULL values (bytes repaired to NULL by rule 5);
--           a batch whose every value is NULL gets NULL quantiles. Byte sums treat
--           NULL as 0 (FEATURES.md §2). A session whose action matched no class
--           counts in no class column.
WITH per_minute AS (
    SELECT host_ip, role, batch_start, max(n) AS max_sessions_per_minute
    FROM (
        SELECT host_ip, role, batch_start, count(*) AS n
        FROM role_events
        GROUP BY host_ip, role, batch_start, date_trunc('minute', event_start)
    )
    GROUP BY ALL
),
port_cols AS (
    -- only keys with a hit get a row here; the IN list comes from the JobSpec, so every
    -- set is a column even when no session of the run hit it (COALESCEd to 0 below)
    PIVOT (
        SELECT re.host_ip, re.role, re.batch_start, ps.set_name || '_port_sessions_cnt' AS col
        FROM role_events re
        JOIN p_port_sets ps ON ps.port = re.peer_port
    )
    ON col IN (SELECT DISTINCT set_name || '_port_sessions_cnt' FROM p_port_sets)
    USING count(*)
    GROUP BY host_ip, role, batch_start
),
base AS (
    SELECT
        host_ip, role, batch_start,
        count(*)                                                   AS sessions_cnt,
        sum(coalesce(bytes_sent, 0))::BIGINT                       AS bytes_sent_sum,
        sum(coalesce(bytes_recv, 0))::BIGINT                       AS bytes_recv_sum,
        sum(duration_sec)::DOUBLE                                  AS duration_sum,
        count(*) FILTER (action_class = 'allow')                   AS allow_cnt,
        count(*) FILTER (action_class = 'deny')                    AS drop_cnt,
        count(*) FILTER (action_class = 'alert')                   AS alert_cnt,
        count(*) FILTER (lower(event_reason) LIKE 'tcp-rst%')      AS rst_cnt,
        count(*) FILTER (lower(event_reason) = 'aged-out')         AS aged_out_cnt,
        count(*) FILTER (upper(event_name) = 'THREAT')             AS threat_cnt,
        count(*) FILTER (upper(event_name) = 'TRAFFIC')            AS traffic_cnt,
        count(*) FILTER (upper(network_transport) = 'TCP')         AS tcp_cnt,
        count(*) FILTER (upper(network_transport) = 'UDP')         AS udp_cnt,
        count(*) FILTER (upper(network_transport) = 'ICMP')        AS icmp_cnt,
        count(*) FILTER (destination_bytes = 0)                    AS zero_reply_cnt,
        count(*) FILTER (duration_sec <= 1)                        AS short_session_cnt,
        quantile_cont(bytes_sent::DOUBLE, [0.25, 0.5, 0.75, 0.95, 0.99]) AS qs,
        quantile_cont(bytes_recv::DOUBLE, [0.25, 0.5, 0.75, 0.95, 0.99]) AS qr,
        quantile_cont(duration_sec::DOUBLE, [0.25, 0.5, 0.75, 0.95, 0.99]) AS qd
    FROM role_events
    GROUP BY host_ip, role, batch_start
)
SELECT
    b.host_ip, b.role,
    b.batch_start                                   AS slice_start_ts,
    b.* EXCLUDE (host_ip, role, batch_start, qs, qr, qd),
    coalesce(COLUMNS('_port_sessions_cnt$'), 0)::BIGINT,       -- one per JobSpec port set
    m.max_sessions_per_minute::BIGINT               AS max_sessions_per_minute,
    b.qs[1] AS bytes_sent_p25, b.qs[2] AS bytes_sent_p50, b.qs[3] AS bytes_sent_p75, b.qs[4] AS bytes_sent_p95, b.qs[5] AS bytes_sent_p99,
    b.qr[1] AS bytes_recv_p25, b.qr[2] AS bytes_recv_p50, b.qr[3] AS bytes_recv_p75, b.qr[4] AS bytes_recv_p95, b.qr[5] AS bytes_recv_p99,
    b.qd[1] AS duration_p25,   b.qd[2] AS duration_p50,   b.qd[3] AS duration_p75,   b.qd[4] AS duration_p95,   b.qd[5] AS duration_p99,
    l.* EXCLUDE (batch_start)
FROM base b
JOIN per_minute m USING (host_ip, role, batch_start)
JOIN batch_labels l USING (batch_start)
LEFT JOIN port_cols p USING (host_ip, role, batch_start)
