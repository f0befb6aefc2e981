-- pair_counts: src/dst/port session counts per batch (FEATURES.md §5).
--
-- Purpose : the input of the FG-B pair rarity baselines.
-- Inputs  : view events (kept rows, grain: one session); ip_dim for segment_id(src_ip);
--           table batch_labels (one row per batch, batch_labels.sql).
-- Params  : variables pc_require_both_ips, pc_require_positive_dst_port (BOOLEAN,
--           JobSpec pair_counts_builder.filters).
-- Output  : one row per (src_ip, dst_ip, dst_port, batch_start).
-- Choices : not host-scoped (every pair counts, §1.3). A NULL event_name passes
--           the TRAFFIC filter ("whenever event_name is present"). With the
--           positive-port filter disabled, a NULL dst_port still forms a group.
--           segment_id is a function of src_ip, so it is looked up per pair after
--           counting, not per session.
WITH pairs AS (
    SELECT source_ip AS src_ip, destination_ip AS dst_ip, destination_port AS dst_port, batch_start,
           count(*) AS sessions_cnt
    FROM events
    WHERE (NOT getvariable('pc_require_both_ips') OR (source_ip IS NOT NULL AND destination_ip IS NOT NULL))
      AND (NOT getvariable('pc_require_positive_dst_port') OR destination_port > 0)
      AND (event_name IS NULL OR upper(event_name) = 'TRAFFIC')
    GROUP BY source_ip, destination_ip, destination_port, batch_start
)
SELECT
    p.src_ip, p.dst_ip, p.dst_port,
    coalesce(s.segment_id, 'SEG_UNKNOWN')        AS segment_id,
    p.sessions_cnt,
    l.slice_end_ts                               AS event_ts,
    p.batch_start                                AS slice_start_ts,
    l.* EXCLUDE (batch_start)
FROM pairs p
JOIN batch_labels l USING (batch_start)
LEFT JOIN ip_dim s ON s.ip = p.src_ip
