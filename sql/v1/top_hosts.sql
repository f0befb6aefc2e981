-- top_hosts: the analyst view of a day (FEATURES.md §7.5).
--
-- Purpose : rank the day's hosts by how strongly and how often they deviated,
--           and explain each with its best row.
-- Inputs  : view fg_c_in (FG-C rows of the day, grain: host, role, window,
--           window_end_ts, horizon); fg_a_in (the FG-A rows of the same batches);
--           fgb_host_in / fgb_segment_in (the FG-B partitions those rows used).
-- Params  : $horizon VARCHAR, $limit INTEGER.
-- Output  : one row per listed host, in rank order: rank, the two ranking keys,
--           the best row's keys, its time_band (the baseline group it was compared
--           with), scores and baseline_source, and `contributors`,
--           a list of {metric, z, value, baseline_median, baseline_mad} for the
--           metrics named in its top_contributors, in that order.
-- Choices : ranking keys in turn: max strong_deviation_cnt, sum of it, host_ip.
--           The best row is the host's row with the highest strong_deviation_cnt,
--           then the highest anomaly_score, then the earliest window_end_ts, then
--           role and window_label (a total order, so output is deterministic).
--           The baseline median/MAD shown come from the source the row was routed
--           to (host or segment); NULL for 'none'.
WITH day_rows AS (
    SELECT * FROM fg_c_in WHERE baseline_horizon = $horizon
),
ranked AS (
    SELECT host_ip,
           max(strong_deviation_cnt) AS max_strong_deviation_cnt,
           sum(strong_deviation_cnt) AS sum_strong_deviation_cnt
    FROM day_rows
    GROUP BY host_ip
    ORDER BY max_strong_deviation_cnt DESC NULLS LAST, sum_strong_deviation_cnt DESC NULLS LAST, host_ip
    LIMIT $limit
),
best AS (
    SELECT r.max_strong_deviation_cnt, r.sum_strong_deviation_cnt, d.*
    FROM ranked r
    JOIN day_rows d USING (host_ip)
    QUALIFY row_number() OVER (
        PARTITION BY d.host_ip
        ORDER BY d.strong_deviation_cnt DESC NULLS LAST, d.anomaly_score DESC NULLS LAST, d.window_end_ts, d.role, d.window_label
    ) = 1
),
contrib AS (
    SELECT b.host_ip, b.role, b.window_label, b.window_end_ts, b.segment_id, b.time_band,
           b.baseline_source, b.baseline_reference_date, i AS ord,
           split_part(string_split(b.top_contributors, ';')[i], ':', 1) AS metric,
           TRY_CAST(split_part(string_split(b.top_contributors, ';')[i], ':', 2) AS DOUBLE) AS z
    FROM best b, range(1, len(string_split(coalesce(b.top_contributors, ''), ';')) + 1) AS t(i)
    WHERE b.top_contributors IS NOT NULL
),
current_values AS (
    UNPIVOT (
        SELECT a.host_ip, a.role, a.window_label, a.window_end_ts,
               COLUMNS(c -> c NOT IN ('host_ip', 'role', 'window_label', 'window_start_ts', 'window_end_ts', 'segment_id',
                                      'record_id', 'time_band', 'dt', 'hh', 'mm', 'mini_batch_id', 'feature_spec_version'))::DOUBLE
        FROM fg_a_in a
        SEMI JOIN best b USING (host_ip, role, window_label, window_end_ts)
    ) ON COLUMNS(* EXCLUDE (host_ip, role, window_label, window_end_ts)) INTO NAME metric VALUE value
),
host_stats AS (
    UNPIVOT (
        SELECT h.host_ip, h.role, h.segment_id, h.time_band, h.window_label, h.reference_date,
               COLUMNS('_(median|mad)$')
        FROM fgb_host_in h
        WHERE h.baseline_horizon = $horizon
          AND h.host_ip IN (SELECT host_ip FROM best)
    ) ON COLUMNS('_(median|mad)$') INTO NAME stat VALUE v
),
segment_stats AS (
    UNPIVOT (
        SELECT s.segment_id, s.role, s.time_band, s.window_label, s.reference_date,
               COLUMNS('_(median|mad)$')
        FROM fgb_segment_in s
        WHERE s.baseline_horizon = $horizon
          AND s.segment_id IN (SELECT segment_id FROM best)
    ) ON COLUMNS('_(median|mad)$') INTO NAME stat VALUE v
),
explained AS (
    SELECT c.host_ip, c.ord, c.metric, c.z, cv.value,
           CASE c.baseline_source WHEN 'host' THEN hm.v WHEN 'segment' THEN sm.v END AS baseline_median,
           CASE c.baseline_source WHEN 'host' THEN hd.v WHEN 'segment' THEN sd.v END AS baseline_mad
    FROM contrib c
    LEFT JOIN current_values cv
        ON cv.host_ip = c.host_ip AND cv.role = c.role AND cv.window_label = c.window_label
       AND cv.window_end_ts = c.window_end_ts AND cv.metric = c.metric
    LEFT JOIN host_stats hm ON hm.host_ip = c.host_ip AND hm.role = c.role AND hm.segment_id = c.segment_id
       AND hm.time_band = c.time_band AND hm.window_label = c.window_label
       AND hm.reference_date = c.baseline_reference_date AND hm.stat = c.metric || '_median'
    LEFT JOIN host_stats hd ON hd.host_ip = c.host_ip AND hd.role = c.role AND hd.segment_id = c.segment_id
       AND hd.time_band = c.time_band AND hd.window_label = c.window_label
       AND hd.reference_date = c.baseline_reference_date AND hd.stat = c.metric || '_mad'
    LEFT JOIN segment_stats sm ON sm.segment_id = c.segment_id AND sm.role = c.role AND sm.time_band = c.time_band
       AND sm.window_label = c.window_label AND sm.reference_date = c.baseline_reference_date AND sm.stat = c.metric || '_median'
    LEFT JOIN segment_stats sd ON sd.segment_id = c.segment_id AND sd.role = c.role AND sd.time_band = c.time_band
       AND sd.window_label = c.window_label AND sd.reference_date = c.baseline_reference_date AND sd.stat = c.metric || '_mad'
)
SELECT
    row_number() OVER (ORDER BY b.max_strong_deviation_cnt DESC NULLS LAST, b.sum_strong_deviation_cnt DESC NULLS LAST, b.host_ip) AS rank,
    b.host_ip, b.max_strong_deviation_cnt, b.sum_strong_deviation_cnt,
    b.role, b.window_label, b.window_end_ts, b.time_band, b.segment_id, b.strong_deviation_cnt, b.anomaly_score,
    b.anomaly_strength_core, b.beacon_suspicion_score, b.exfiltration_suspicion_score, b.lateral_movement_score,
    b.baseline_source, b.baseline_reference_date, b.top_contributors,
    (SELECT list({'metric': e.metric, 'z': e.z, 'value': e.value, 'baseline_median': e.baseline_median, 'baseline_mad': e.baseline_mad} ORDER BY e.ord)
       FROM explained e WHERE e.host_ip = b.host_ip) AS contributors
FROM best b
ORDER BY rank
