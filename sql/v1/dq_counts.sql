-- dq_counts: the per-batch DQ counters written into each partition manifest.
--
-- Purpose : count every dropped or repaired row per rule (nothing silently dropped).
-- Inputs  : table events_dq (one row per raw record).
-- Params  : none.
-- Output  : one row per batch_start_ms (epoch ms; NULL = rows that could not be placed in any
--           batch being built: null event_start or outside the batches) with
--           rows_read, one counter per drop rule, the two repair counters and rows_kept.
-- Choices : repairs are counted on kept rows only, so counters never double count
--           a row that a drop rule already removed.
SELECT
    epoch_ms(batch_start)                                           AS batch_start_ms,
    count(*)                                                        AS rows_read,
    count(*) FILTER (dq_drop = 'filter_null_bytes_ports')           AS filter_null_bytes_ports,
    count(*) FILTER (dq_drop = 'drop_malformed_ip')                 AS drop_malformed_ip,
    count(*) FILTER (dq_drop = 'null_event_start')                  AS null_event_start,
    count(*) FILTER (dq_drop = 'outside_batch')                     AS outside_batch,
    count(*) FILTER (dq_drop IS NULL AND duration_repaired)         AS duration_non_negative,
    count(*) FILTER (dq_drop IS NULL AND bytes_repaired)            AS bytes_non_negative,
    count(*) FILTER (dq_drop IS NULL)                               AS rows_kept
FROM events_dq
GROUP BY batch_start
