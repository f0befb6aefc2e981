-- pair_counts: src/dst/port session counts per batch (FEATURES.md §5).
--
-- Purpose : the input of the FG-B pair rarity baselines.
-- Inputs  : view events (kept rows, grain: one session); ip_dim for segment_id(src_ip).
-- Params  : variables pc_require_both_ips, pc_require_positive_dst_port (BOOLEAN,
--           JobSpec pair_counts_builder.filters), feature_spec_version.
-- Output  : one row per (src_ip, dst_ip, dst_port, batch_start).
-- Choices : not host-scoped (every pair counts, §1.3). A NULL event_name passes
--           the TRAFFIC filter ("whenever event_name is present"). With the
--           positive-port filter disabled, a NULL dst_port still forms a group.
SELECT
    e.source_ip                                  AS src_ip,
    e.destination_ip                             AS dst_ip,
    e.destination_port                           AS dst_port,
    coalesce(any_value(s.segment_id), 'SEG_UNKNOWN') AS segment_id,
    count(*)                                     AS sessions_cnt,
    e.batch_start + INTERVAL 15 MINUTE           AS event_ts,
    e.batch_start                                AS slice_start_ts,
    e.batch_start + INTERVAL 15 MINUTE           AS slice_end_ts,
    strftime(e.batch_start, '%Y-%m-%d')          AS dt,
    strftime(e.batch_start, '%H')                AS hh,
    strftime(e.batch_start, '%M')                AS mm,
    strftime(e.batch_start, '%Y%m%dT%H%MZ')      AS mini_batch_id,
    getvariable('feature_spec_version')          AS feature_spec_version
FROM events e
LEFT JOIN ip_dim s ON s.ip = e.source_ip
WHERE (NOT getvariable('pc_require_both_ips') OR (e.source_ip IS NOT NULL AND e.destination_ip IS NOT NULL))
  AND (NOT getvariable('pc_require_positive_dst_port') OR e.destination_port > 0)
  AND (e.event_name IS NULL OR upper(e.event_name) = 'TRAFFIC')
GROUP BY e.source_ip, e.destination_ip, e.destination_port, e.batch_start
