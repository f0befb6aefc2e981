-- fg_b_host (feature_spec_version v1) — FEATURES.md §6.2 host baselines (`fg_b/host`).
--
-- Purpose: per (host_ip, role, segment_id, time_band, window_label) and baseline metric m:
--   exact linear quantiles (quantile_cont) m_median, m_p25, m_p75, m_p95, m_p99 and the true
--   MAD m_mad = median(|m - m_median|) over the NON-capped observations with m non-NULL;
--   m_iqr = m_p75 - m_p25; m_support_count = non-NULL m over ALL observations (capped included);
--   m_cold_start_flag = 1 if m_support_count < support_min[m].
--
-- Inputs:
--   fgb_obs            view from fg_b_obs.sql, grain (host_ip, role, window_label,
--                      window_end_ts): the horizon's observations, their selected metric
--                      columns (fgb_metrics) and is_capped__ (§6.1, from fgb_capped).
--   p_baseline_metrics (metric, support_min), row order (rowid) = output column order.
-- Parameters: none (the runner creates this template as a view).
-- Variables:  optional fgb_metrics VARCHAR[] — the metric columns to read and compute
--             (build-fg-b.ts sets it to the baseline metrics, so that no other FG-A column is
--             decoded). Unset, every metric column of fg_a_in is computed and fg_b_widen.sql
--             drops the ones not in p_baseline_metrics.
-- Output grain: one row per (host_ip, role, segment_id, time_band, window_label). The runner
--   creates it as the view fgb_stats, which fg_b_widen.sql turns into the contract
--   (docs/CONTRACTS.md fg_b host). Columns: grp__ STRUCT of the group key (in the contract's
--   column order), record_key__ VARCHAR (record_id without the horizon), total_rows__ and
--   capped_rows__ BIGINT, and per selected metric column m a STRUCT m {q DOUBLE[] (quantiles
--   .5, .25, .75, .95, .99), mad DOUBLE, n BIGINT}.
--
-- How: the statistics of every selected metric column are window aggregates over the host
--   group (WINDOW w AS (PARTITION BY the group key), one row kept per group with QUALIFY),
--   written once for all columns with COLUMNS(): a struct {q: quantile_cont(x, [.5, .25, .75,
--   .95, .99]), mad: mad(x), n: count(x)} per metric. A window rather than GROUP BY because the
--   groups are many and small: DuckDB's window operator partitions and sorts the rows itself
--   (spilling past memory_limit) and computes each group's exact quantiles on contiguous data,
--   while a hash aggregation keeps a growing vector per (group, metric) state for the whole
--   scan, outside memory_limit (measured: ~20% more CPU and 2x the memory at 2,000 hosts).
--   Capped rows enter the quantiles and the MAD as NULL (which those aggregates skip) and the
--   support count with their value, so no aggregate needs a FILTER.
--
-- Choices where FEATURES.md is silent:
--   * Values are cast to DOUBLE before the quantiles (quantile_cont on integers would
--     return integers).
--   * If every row of a group is capped (or m is NULL on all non-capped rows), the
--     statistics are NULL; m_support_count still counts, and m_cold_start_flag follows it.
--   * record_id renders a NULL segment_id / time_band as the empty string (record_key__).
--   * A baseline metric that is not a numeric FG-A column is an error (raised by fgb_obs).
SELECT {'host_ip': host_ip, 'role': role, 'segment_id': segment_id, 'time_band': time_band, 'window_label': window_label} AS grp__,
       concat_ws('|', host_ip, role, coalesce(segment_id, ''), coalesce(time_band, ''), window_label) AS record_key__,
       count(*) OVER w AS total_rows__,
       count(*) FILTER (WHERE is_capped__) OVER w AS capped_rows__,
       {'q':   quantile_cont(CASE WHEN is_capped__ THEN NULL
                                  ELSE COLUMNS(* EXCLUDE (host_ip, role, segment_id, time_band, window_label,
                                                          window_end_ts, is_capped__))::DOUBLE END,
                             [0.5, 0.25, 0.75, 0.95, 0.99]) OVER w,
        'mad': mad(CASE WHEN is_capped__ THEN NULL
                        ELSE COLUMNS(* EXCLUDE (host_ip, role, segment_id, time_band, window_label,
                                                window_end_ts, is_capped__))::DOUBLE END) OVER w,
        'n':   count(COLUMNS(* EXCLUDE (host_ip, role, segment_id, time_band, window_label, window_end_ts, is_capped__))) OVER w}
FROM fgb_obs
WINDOW w AS (PARTITION BY host_ip, role, segment_id, time_band, window_label)
QUALIFY row_number() OVER w = 1
