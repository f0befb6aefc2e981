-- events_dq: the final DQ decision per raw record (FEATURES.md §1.1, rules in order).
--
-- Purpose : name the one rule that drops each record, in the spec's order, so that
--           every dropped row is counted under exactly one rule.
-- Inputs  : table events_all (events.sql, one row per raw record);
--           ip_dim(ip, is_valid, ...) over every distinct IP of events_all.
-- Params  : variable dq_drop_malformed_ip (BOOLEAN).
-- Output  : events_all's columns (not _parse_error: checked before) plus dq_drop
--           VARCHAR: NULL for kept rows, else filter_null_bytes_ports |
--           drop_malformed_ip | null_event_start | outside_batch.
-- Choices : with drop_malformed_ip disabled an invalid address is kept as given
--           (it can still not be a host: ip_dim marks it not internal).
SELECT
    e.* EXCLUDE (null_bytes_ports, _parse_error),
    CASE
        WHEN e.null_bytes_ports THEN 'filter_null_bytes_ports'
        WHEN getvariable('dq_drop_malformed_ip')
             AND NOT (coalesce(s.is_valid, false) AND coalesce(d.is_valid, false)) THEN 'drop_malformed_ip'
        WHEN e.event_start IS NULL THEN 'null_event_start'
        WHEN e.batch_start IS NULL THEN 'outside_batch'
    END AS dq_drop
FROM events_all e
LEFT JOIN ip_dim s ON s.ip = e.source_ip
LEFT JOIN ip_dim d ON d.ip = e.destination_ip
