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
--                  (columns per docs/CONTRACTS.md fg_a). Rows outside the range are ignored.
--   p_key_metrics  (metric) JobSpec anomaly_capping.key_metrics.
--   fgb_run        temp table from fg_b_run.sql (the run's range).
-- Parameters:  none; observations have window_end_ts in [baseline_start_ts, baseline_end_ts).
-- Variables:   eps, z_max, w_anom.
-- Output grain: one row per capped FG-A observation (host_ip, role, window_label, window_end_ts).
-- Columns: host_ip, role, window_label, window_end_ts, segment_id, time_band,
--          max_abs_z DOUBLE, anomaly_weight DOUBLE (= w_anom).
--
-- Choices where FEATURES.md is silent:
--   * A NULL key metric gives a NULL z for that row, which is ignored by the max;
--     a row whose key metrics are all NULL is never capped.
--   * med/mad are computed over the non-NULL values of the whole group (capping
--     is a single pass; it is not iterated).
--   * A key metric that is not a numeric FG-A column is an error (bug class 7).
--   * Groups are keyed with NULL-safe equality, so a NULL segment_id forms its own group.
WITH
-- Every numeric FG-A column is a candidate metric; the param table selects.
fga_metric_columns AS (
    SELECT column_name AS metric
    FROM duckdb_columns()
    WHERE table_name = 'fg_a_in' AND numeric_precision IS NOT NULL
),
guard AS (
    SELECT CASE WHEN count(*) = 0 THEN true
                ELSE error('fg_b: anomaly_capping.key_metrics not found among numeric FG-A columns: '
                           || string_agg(metric, ', ' ORDER BY metric)) END AS ok
    FROM p_key_metrics
    WHERE metric NOT IN (SELECT metric FROM fga_metric_columns)
),
obs AS (
    SELECT *
    FROM fg_a_in
    WHERE window_end_ts >= (SELECT baseline_start_ts FROM fgb_run)
      AND window_end_ts <  (SELECT baseline_end_ts FROM fgb_run)
      AND (SELECT ok FROM guard)
),
-- Long form (one row per observation x key metric); UNPIVOT drops NULL values.
key_long AS (
    SELECT host_ip, role, window_label, window_end_ts, segment_id, time_band, metric, x
    FROM (
        UNPIVOT (
            SELECT host_ip, role, window_label, window_end_ts, segment_id, time_band,
                   COLUMNS(* EXCLUDE (host_ip, role, window_label, window_start_ts, window_end_ts, segment_id,
                                      record_id, time_band, dt, hh, mm, mini_batch_id, feature_spec_version))::DOUBLE
            FROM obs
        )
        ON COLUMNS(* EXCLUDE (host_ip, role, window_label, window_end_ts, segment_id, time_band))
        INTO NAME metric VALUE x
    )
    WHERE metric IN (SELECT metric FROM p_key_metrics)
),
seg_stats AS (
    SELECT segment_id, role, time_band, window_label, metric,
           median(x) AS med,
           mad(x)    AS mad          -- true MAD: median(|x - median(x)|), linear interpolation
    FROM key_long
    GROUP BY segment_id, role, time_band, window_label, metric
),
z AS (
    SELECT k.host_ip, k.role, k.window_label, k.window_end_ts, k.segment_id, k.time_band,
           CASE WHEN s.mad > 0 THEN (k.x - s.med) / (s.mad + getvariable('eps')::DOUBLE) ELSE 0 END AS z
    FROM key_long k
    JOIN seg_stats s
      ON s.segment_id IS NOT DISTINCT FROM k.segment_id
     AND s.role = k.role AND s.time_band IS NOT DISTINCT FROM k.time_band
     AND s.window_label = k.window_label AND s.metric = k.metric
)
SELECT host_ip, role, window_label, window_end_ts,
       any_value(segment_id) AS segment_id,
       any_value(time_band) AS time_band,
       max(abs(z)) AS max_abs_z,
       getvariable('w_anom')::DOUBLE AS anomaly_weight
FROM z
WHERE abs(z) > getvariable('z_max')::DOUBLE
GROUP BY host_ip, role, window_label, window_end_ts
