-- fg_b_segment (feature_spec_version v1) — FEATURES.md §6.3 segment baselines (`fg_b/segment`).
--
-- Purpose: the statistics of fg_b_host per (segment_id, role, time_band, window_label), over
--   the observations of every host of the segment: for each baseline metric m, exact linear
--   quantiles (quantile_cont) m_median, m_p25, m_p75, m_p95, m_p99 and the true MAD
--   m_mad = median(|m - m_median|) over the NON-capped observations with m non-NULL;
--   m_iqr = m_p75 - m_p25; m_support_count = non-NULL m over ALL observations (capped included);
--   m_cold_start_flag = 1 if m_support_count < support_min[m].
--
-- Inputs:
--   fgb_obs            view from fg_b_obs.sql, grain (host_ip, role, window_label,
--                      window_end_ts): the horizon's observations, their selected metric
--                      columns (fgb_metrics) and is_capped__ (§6.1, from fgb_capped).
--   p_baseline_metrics (metric, support_min), row order (rowid) = output column order.
--   fgb_run            temp table from fg_b_run.sql: baseline_horizon, baseline_start_ts,
--                      baseline_end_ts, reference_date of this run.
-- Parameters: none (a PIVOT with a subquery value list cannot carry bound parameters in a
--             CREATE TABLE AS; the run constants come from fgb_run).
-- Variables:  feature_spec_version; optional fgb_metrics VARCHAR[] — the metric columns to read
--             and compute. build-fg-b.ts sets it to the baseline metrics, or to one chunk of
--             them per execution when a horizon has more values than memory allows, and merges
--             the chunks. Unset, every metric column of fg_a_in is computed and the ones not in
--             p_baseline_metrics are dropped.
-- Output grain: (segment_id, role, time_band, window_label, baseline_horizon).
-- Columns (docs/CONTRACTS.md fg_b segment): segment_id, role, time_band, window_label,
--   baseline_horizon, then per metric m in p_baseline_metrics order: m_median, m_p25, m_p75,
--   m_p95, m_p99, m_mad, m_iqr DOUBLE, m_support_count BIGINT, m_cold_start_flag INTEGER;
--   then capped_rows, total_rows BIGINT, baseline_start_ts, baseline_end_ts TIMESTAMP,
--   reference_date, record_id, feature_spec_version VARCHAR.
--   Every baseline metric has its columns; one outside fgb_metrics has NULL statistics.
--
-- How: one hash aggregation over the wide FG-A rows computes, for every selected metric column
--   at once (COLUMNS), a struct {q: quantile_cont(x, [.5, .25, .75, .95, .99]), mad: mad(x),
--   n: count(x)}. GROUP BY rather than a window (as fg_b_host) because the segment groups are
--   few and large: there the aggregate states are cheap and the window operator costs ~1.7x
--   the CPU. Those states hold two copies of every value outside memory_limit, which is why
--   build-fg-b.ts may split the metrics into chunks. Capped rows enter the quantiles and the
--   MAD as NULL (which those aggregates skip) and the support count with their value, so no
--   aggregate needs a FILTER. The (small) result is UNPIVOTed to (group, metric), joined to
--   p_baseline_metrics, and PIVOTed back to the wide contract in p_baseline_metrics order.
--
-- Choices where FEATURES.md is silent:
--   * Values are cast to DOUBLE before the quantiles (quantile_cont on integers would
--     return integers).
--   * If every row of a group is capped (or m is NULL on all non-capped rows), the
--     statistics are NULL; m_support_count still counts, and m_cold_start_flag follows it.
--   * A NULL segment_id forms its own group; record_id renders a NULL segment_id / time_band
--     as the empty string.
--   * A baseline metric that is not a numeric FG-A column is an error (raised by fgb_obs).
--   * baseline_start_ts / baseline_end_ts are the run range from fgb_run (half-open).
WITH
agg AS (
    SELECT segment_id, role, time_band, window_label,
           count(*) AS total_rows__,
           count(*) FILTER (WHERE is_capped__) AS capped_rows__,
           {'q':   quantile_cont(CASE WHEN is_capped__ THEN NULL
                                      ELSE COLUMNS(* EXCLUDE (host_ip, role, segment_id, time_band, window_label,
                                                              window_end_ts, is_capped__))::DOUBLE END,
                                 [0.5, 0.25, 0.75, 0.95, 0.99]),
            'mad': mad(CASE WHEN is_capped__ THEN NULL
                            ELSE COLUMNS(* EXCLUDE (host_ip, role, segment_id, time_band, window_label,
                                                    window_end_ts, is_capped__))::DOUBLE END),
            'n':   count(COLUMNS(* EXCLUDE (host_ip, role, segment_id, time_band, window_label, window_end_ts, is_capped__)))}
    FROM fgb_obs
    GROUP BY segment_id, role, time_band, window_label
),
long AS (
    SELECT u.role, u.segment_id, u.time_band, u.window_label, u.total_rows__, u.capped_rows__,
           u.metric,
           u.s.q[1] AS median, u.s.q[2] AS p25, u.s.q[3] AS p75, u.s.q[4] AS p95, u.s.q[5] AS p99,
           u.s.mad AS mad,
           u.s.q[3] - u.s.q[2] AS iqr,
           u.s.n AS support_count,
           (u.s.n < p.support_min)::INTEGER AS cold_start_flag
    FROM (
        UNPIVOT agg
        ON COLUMNS(* EXCLUDE (role, segment_id, time_band, window_label, total_rows__, capped_rows__))
        INTO NAME metric VALUE s
    ) u
    JOIN p_baseline_metrics p ON p.metric = u.metric
),
wide AS (
    PIVOT long
    ON metric IN (SELECT metric FROM p_baseline_metrics ORDER BY rowid)
    USING first(median) AS median, first(p25) AS p25, first(p75) AS p75, first(p95) AS p95,
          first(p99) AS p99, first(mad) AS mad, first(iqr) AS iqr,
          first(support_count) AS support_count, first(cold_start_flag) AS cold_start_flag
    GROUP BY segment_id, role, time_band, window_label, total_rows__, capped_rows__
)
SELECT segment_id, role, time_band, window_label,
       r.baseline_horizon,
       wide.* EXCLUDE (role, segment_id, time_band, window_label, total_rows__, capped_rows__),
       capped_rows__ AS capped_rows,
       total_rows__ AS total_rows,
       r.baseline_start_ts,
       r.baseline_end_ts,
       r.reference_date,
       concat_ws('|', coalesce(segment_id, ''), role, coalesce(time_band, ''), window_label, r.baseline_horizon) AS record_id,
       getvariable('feature_spec_version')::VARCHAR AS feature_spec_version
FROM wide, fgb_run r
