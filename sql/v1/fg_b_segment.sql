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
-- Parameters: none (the runner creates this template as a view).
-- Variables:  optional fgb_metrics VARCHAR[] — the metric columns to read and compute.
--             build-fg-b.ts sets it to the baseline metrics, or to one chunk of them per
--             execution when a horizon has more values than memory allows, and merges the
--             chunks. Unset, every metric column of fg_a_in is computed and fg_b_widen.sql
--             drops the ones not in p_baseline_metrics.
-- Output grain: one row per (segment_id, role, time_band, window_label). The runner creates
--   it as the view fgb_stats, which fg_b_widen.sql turns into the contract (docs/CONTRACTS.md
--   fg_b segment). Columns: as fg_b_host.sql's (grp__, record_key__, total_rows__,
--   capped_rows__, one {q, mad, n} STRUCT per metric).
--
-- How: one hash aggregation over the wide FG-A rows computes, for every selected metric column
--   at once (COLUMNS), a struct {q: quantile_cont(x, [.5, .25, .75, .95, .99]), mad: mad(x),
--   n: count(x)}. GROUP BY rather than a window (as fg_b_host) because the segment groups are
--   few and large: there the aggregate states are cheap and the window operator costs ~1.7x
--   the CPU. Those states hold two copies of every value outside memory_limit, which is why
--   build-fg-b.ts may split the metrics into chunks. Capped rows enter the quantiles and the
--   MAD as NULL (which those aggregates skip) and the support count with their value, so no
--   aggregate needs a FILTER.
--
-- Choices where FEATURES.md is silent:
--   * Values are cast to DOUBLE before the quantiles (quantile_cont on integers would
--     return integers).
--   * If every row of a group is capped (or m is NULL on all non-capped rows), the
--     statistics are NULL; m_support_count still counts, and m_cold_start_flag follows it.
--   * A NULL segment_id forms its own group; record_id renders a NULL segment_id / time_band
--     as the empty string (record_key__).
--   * A baseline metric that is not a numeric FG-A column is an error (raised by fgb_obs).
SELECT {'segment_id': segment_id, 'role': role, 'time_band': time_band, 'window_label': window_label} AS grp__,
       concat_ws('|', coalesce(segment_id, ''), role, coalesce(time_band, ''), window_label) AS record_key__,
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
