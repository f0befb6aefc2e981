-- fg_a_wide: the model-ready FG-A vector (FEATURES.md §4.5).
--
-- Purpose : one row per (host_ip, window_end_ts) with every FG-A metric spread
--           over roles and windows: <prefix><metric>_<window_label>, prefix ''
--           for outbound and 'in_' for inbound (the seed system's catalogue names).
-- Inputs  : view fg_a_in (grain: host_ip, role, window_label, window_end_ts);
--           p_windows(window_label, minutes).
-- Params  : none.
-- Output  : host_ip, window_end_ts, segment_id, the time context once, then the
--           metric columns (alphabetical, as PIVOT orders them), mini_batch_id,
--           feature_spec_version.
-- Choices : metrics are cast to DOUBLE (one vector type). Every role × window ×
--           metric column exists even when no host had such a row in the export,
--           or the metric is NULL in every row (novelty disabled): a stable schema
--           for models. A cell is NULL where the host had no row (or the value is NULL).
--           segment_id and the time context depend only on (host_ip, window_end_ts).
WITH metrics AS (
    SELECT host_ip, window_end_ts, role, window_label,
           COLUMNS(c -> c NOT IN ('host_ip', 'role', 'window_label', 'window_start_ts', 'window_end_ts',
                                  'segment_id', 'record_id', 'hour_of_day', 'day_of_week', 'is_working_hours',
                                  'is_off_hours', 'is_night_hours', 'is_weekend', 'is_holiday', 'is_offday',
                                  'time_band', 'dt', 'hh', 'mm', 'mini_batch_id', 'feature_spec_version'))::DOUBLE
    FROM fg_a_in
),
long AS (
    -- UNPIVOT drops NULL values: each value travels in a one-element list, so that a metric
    -- NULL in every row (novelty disabled) still gets its columns.
    SELECT host_ip, window_end_ts, role, window_label, metric, boxed[1] AS value
    FROM (UNPIVOT (SELECT host_ip, window_end_ts, role, window_label,
                          list_value(COLUMNS(* EXCLUDE (host_ip, window_end_ts, role, window_label)))
                   FROM metrics)
          ON COLUMNS(* EXCLUDE (host_ip, window_end_ts, role, window_label))
          INTO NAME metric VALUE boxed)
),
named AS (
    SELECT host_ip, window_end_ts,
           CASE role WHEN 'inbound' THEN 'in_' ELSE '' END || metric || '_' || window_label AS col, value
    FROM long
    UNION ALL
    -- the skeleton: one NULL-host row per possible column, removed after the pivot
    SELECT NULL, NULL, r.prefix || m.metric || '_' || w.window_label, NULL
    FROM (SELECT DISTINCT metric FROM long) m
    CROSS JOIN p_windows w
    CROSS JOIN (VALUES (''), ('in_')) r(prefix)
),
wide AS (
    PIVOT named ON col USING first(value) GROUP BY host_ip, window_end_ts
),
context AS (
    SELECT host_ip, window_end_ts,
           any_value(segment_id) AS segment_id,
           any_value(hour_of_day) AS hour_of_day, any_value(day_of_week) AS day_of_week,
           any_value(is_working_hours) AS is_working_hours, any_value(is_off_hours) AS is_off_hours,
           any_value(is_night_hours) AS is_night_hours, any_value(is_weekend) AS is_weekend,
           any_value(is_holiday) AS is_holiday, any_value(is_offday) AS is_offday,
           any_value(time_band) AS time_band,
           any_value(mini_batch_id) AS mini_batch_id, any_value(feature_spec_version) AS feature_spec_version
    FROM fg_a_in
    GROUP BY host_ip, window_end_ts
)
SELECT c.* EXCLUDE (mini_batch_id, feature_spec_version),
       w.* EXCLUDE (host_ip, window_end_ts),
       c.mini_batch_id, c.feature_spec_version
FROM wide w
JOIN context c USING (host_ip, window_end_ts)
WHERE w.host_ip IS NOT NULL
ORDER BY host_ip, window_end_ts
