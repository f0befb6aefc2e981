-- events: typed canonical rows with the data-quality decisions of FEATURES.md §1.1.
--
-- Purpose : one pass over the raw input; everything the streaming transforms read
--           comes from here, so DQ is decided once and counted once.
-- Inputs  : view raw_typed (canonical names and types, one row per raw record,
--           plus _ndr_file and _parse_error); table p_batches(batch_start TIMESTAMP)
--           = the batches being built; p_action_classes(action, class).
-- Params  : variables dq_filter_null_bytes_ports, dq_duration_non_negative,
--           dq_bytes_non_negative (BOOLEAN).
-- Output  : table events_dq, one row per raw record (dropped ones included, so they
--           can be counted): canonical fields, duration_sec, batch_start (NULL
--           outside p_batches), action_class, the repair flags duration_repaired
--           and bytes_repaired, and dq_drop: the first of rules 1, 3 and 4 that
--           drops the record (filter_null_bytes_ports | null_event_start |
--           outside_batch), NULL if none. Rule 2 (malformed IP) needs ip_dim, made
--           from this table's distinct IPs, so events_dq.sql applies it afterwards,
--           in its place in the order. And _parse_error, so that the parse check
--           looks here first and reads the raw files again (raw_parse_errors.sql)
--           only to quote a bad value.
-- Choices : rule 1 sees the raw byte values (before rule 5 repairs them), as the
--           spec orders. duration_sec is computed in exact integer microseconds.
--           An unmatched action string gets class NULL (counted in no class).
SELECT
    source_ip,
    destination_ip,
    source_port,
    destination_port,
    CASE WHEN getvariable('dq_bytes_non_negative') AND source_bytes < 0 THEN NULL ELSE source_bytes END AS source_bytes,
    CASE WHEN getvariable('dq_bytes_non_negative') AND destination_bytes < 0 THEN NULL ELSE destination_bytes END AS destination_bytes,
    event_start,
    event_end,
    event_action,
    event_reason,
    event_name,
    network_transport,
    CASE
        WHEN getvariable('dq_duration_non_negative') AND raw_duration < 0 THEN 0.0
        ELSE raw_duration
    END AS duration_sec,
    b.batch_start,
    ac.class AS action_class,
    CASE
        WHEN getvariable('dq_filter_null_bytes_ports')
             AND source_bytes IS NULL AND destination_bytes IS NULL
             AND source_port IS NULL AND destination_port IS NULL THEN 'filter_null_bytes_ports'
        WHEN event_start IS NULL THEN 'null_event_start'
        WHEN b.batch_start IS NULL THEN 'outside_batch'
    END AS dq_drop,
    getvariable('dq_duration_non_negative') AND raw_duration < 0 AS duration_repaired,
    getvariable('dq_bytes_non_negative') AND (source_bytes < 0 OR destination_bytes < 0) AS bytes_repaired,
    _parse_error
FROM (
    SELECT *,
        CASE WHEN event_start IS NOT NULL AND event_end IS NOT NULL
             THEN (epoch_us(event_end) - epoch_us(event_start)) / 1e6
             ELSE 0.0 END AS raw_duration,
        time_bucket(INTERVAL 15 MINUTE, event_start) AS bucket,
        regexp_replace(lower(trim(event_action)), '[ _]', '-', 'g') AS action_key
    FROM raw_typed
) r
LEFT JOIN p_batches b ON b.batch_start = r.bucket
LEFT JOIN p_action_classes ac ON ac.action = r.action_key
