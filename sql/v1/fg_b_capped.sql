-- fg_b_capped (feature_spec_version v1) — FEATURES.md §6.1 segment anomaly capping.
--
-- Purpose: find the FG-A observations of a horizon range that are *capped*
--   (max over key metrics m of |z_m| > z_max, with z computed against the
--   median/MAD of their (segment_id, role, time_band, window_label) group).
--   Only capped rows are emitted; every other observation has anomaly_weight 1.
--   fg_b_host and fg_b_segment read this table to exclude capped rows from
--   their statistics (they still count them in support and total_rows).
--
-- Inputs:
--   fg_a_in        view, grain (host_ip, role, window_label, window_end_ts): FG-A rows
--                  (columns per docs/CONTRACTS.md fg_a; the pipeline may leave out metric
--                  columns FG-B does not use). Rows outside the range are ignored.
--   p_key_metrics  (metric) JobSpec anomaly_capping.key_metrics.
--   fgb_run        temp table from fg_b_run.sql (the run's range).
-- Parameters:  none; observations have window_end_ts in [baseline_start_ts, baseline_end_ts).
-- Variables:   eps, z_max, w_anom; optional fgb_key_metrics (below).
-- Output grain: one row per capped FG-A observation (host_ip, role, window_label, window_end_ts).
-- Columns: host_ip, role, window_label, window_end_ts, segment_id, time_band,
--          max_abs_z DOUBLE, anomaly_weight DOUBLE (= w_anom).
--
-- fgb_key_metrics VARCHAR[] (optional): the key-metric columns to read.
--   build-fg-b.ts sets it to the key metrics, so that no other FG-A column is decoded; unset,
--   every metric column of fg_a_in is read and the key metrics (p_key_metrics) picked from
--   them. Only key metrics in both the variable and p_key_metrics are considered.
--
-- How: the group median and MAD of each selected metric are window aggregates over the
--   observation's group (PARTITION BY segment_id, role, time_band, window_label), so every
--   row gets its z values in place — no statistics table, no join back, no unpivot. DuckDB's
--   window operator partitions and sorts the observations itself and spills them to disk when
--   they exceed memory_limit; each group's median/MAD is computed once per group.
--
-- Choices where FEATURES.md is silent:
--   * A NULL key metric gives a NULL z for that row, which is ignored by the max;
--     a row whose key metrics are all NULL is never capped.
--   * med/mad are computed over the non-NULL values of the whole group (capping
--     is a single pass; it is not iterated). mad is the true MAD, median(|x - median(x)|),
--     both medians linearly interpolated.
--   * A key metric that is not a numeric FG-A column is an error (bug class 7).
--   * Groups are keyed with NULL-safe equality, so a NULL segment_id forms its own group.
WITH
-- The metric columns of fg_a_in that are read (fgb_key_metrics, or everything but the keys and
-- time context), in column order: the order in which list_value(*COLUMNS(...)) below lists
-- their |z|. The predicate is the same here and in obs.
selected_columns AS (
    SELECT column_name AS metric,
           row_number() OVER (ORDER BY column_index) AS pos
    FROM duckdb_columns()
    WHERE table_name = 'fg_a_in'
      AND coalesce(list_contains(getvariable('fgb_key_metrics'), column_name),
                   column_name NOT IN ('host_ip', 'role', 'window_label', 'window_start_ts', 'window_end_ts', 'segment_id',
                                       'record_id', 'time_band', 'dt', 'hh', 'mm', 'mini_batch_id', 'feature_spec_version'))
),
-- 1-based positions of the key metrics among the selected columns (in the test setting every
-- metric column is selected, in the pipeline only the key metrics are).
key_positions AS (
    SELECT list(DISTINCT pos ORDER BY pos) AS pos
    FROM selected_columns
    WHERE metric IN (SELECT metric FROM p_key_metrics)
),
obs AS (
    SELECT host_ip, role, window_label, window_end_ts, segment_id, time_band,
           COLUMNS(c -> coalesce(list_contains(getvariable('fgb_key_metrics'), c),
                                 c NOT IN ('host_ip', 'role', 'window_label', 'window_start_ts', 'window_end_ts',
                                           'segment_id', 'record_id', 'time_band', 'dt', 'hh', 'mm',
                                           'mini_batch_id', 'feature_spec_version')))::DOUBLE
    FROM fg_a_in
    WHERE window_end_ts >= (SELECT baseline_start_ts FROM fgb_run)
      AND window_end_ts <  (SELECT baseline_end_ts FROM fgb_run)
      AND fg_a_columns_ok((SELECT list(metric) FROM p_key_metrics), 'fg_b: anomaly_capping.key_metrics')
),
-- |z| of every selected metric of every observation, against the median and MAD of its group
-- (window aggregates over the group; NULL values are ignored by them).
abs_z AS (
    SELECT host_ip, role, window_label, window_end_ts, segment_id, time_band,
           CASE WHEN mad(COLUMNS(* EXCLUDE (host_ip, role, window_label, window_end_ts, segment_id, time_band))) OVER g > 0
                THEN abs((COLUMNS(* EXCLUDE (host_ip, role, window_label, window_end_ts, segment_id, time_band))
                          - median(COLUMNS(* EXCLUDE (host_ip, role, window_label, window_end_ts, segment_id, time_band))) OVER g)
                         / (mad(COLUMNS(* EXCLUDE (host_ip, role, window_label, window_end_ts, segment_id, time_band))) OVER g
                            + getvariable('eps')::DOUBLE))
                ELSE 0 END
    FROM obs
    WINDOW g AS (PARTITION BY segment_id, role, time_band, window_label)
),
-- max |z| over the key metrics (their positions among the selected columns). list_permute
-- (_macros_lists.sql) picks them: list_select cost ~1.2 s per 9.2M observations.
abs_z_lists AS (
    SELECT host_ip, role, window_label, window_end_ts, segment_id, time_band,
           list_value(*COLUMNS(* EXCLUDE (host_ip, role, window_label, window_end_ts, segment_id, time_band))) AS abs_zs
    FROM abs_z
),
z AS (
    SELECT host_ip, role, window_label, window_end_ts, segment_id, time_band,
           list_max(list_permute(abs_zs, kp.pos)) AS max_abs_z
    FROM abs_z_lists CROSS JOIN key_positions kp
)
SELECT host_ip, role, window_label, window_end_ts,
       any_value(segment_id) AS segment_id,
       any_value(time_band) AS time_band,
       max(max_abs_z) AS max_abs_z,
       getvariable('w_anom')::DOUBLE AS anomaly_weight
FROM z
WHERE max_abs_z > getvariable('z_max')::DOUBLE
GROUP BY host_ip, role, window_label, window_end_ts
