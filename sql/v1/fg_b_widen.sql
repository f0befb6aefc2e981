-- fg_b_widen (feature_spec_version v1) — the wide contract of the host and segment baselines
-- (FEATURES.md §6.2, §6.3; `fg_b/host`, `fg_b/segment`).
--
-- Purpose: turn the long statistics of one level (fgb_stats_long, one row per group and metric)
--   into the published columns: m_median, m_p25, m_p75, m_p95, m_p99, m_mad,
--   m_iqr = m_p75 - m_p25, m_support_count and m_cold_start_flag = 1 if m_support_count <
--   support_min[m], for each baseline metric m, plus the group keys and the run's columns. One
--   template for both levels, so that the contract's shape is written once.
--
-- Inputs:
--   fgb_stats_long     temp table, the chunks of fg_b_stats.sql, grain (level__, gid__, metric):
--                      total_rows__, capped_rows__ BIGINT, s STRUCT {q DOUBLE[5] (quantiles .5,
--                      .25, .75, .95, .99), mad DOUBLE, n BIGINT}.
--   fgb_keys           view over fg_b_host.sql or fg_b_segment.sql, one row per group of the
--                      level being widened: level__, gid__, grp__ STRUCT (the group key, in the
--                      contract's column order), record_key__ VARCHAR.
--   p_baseline_metrics (metric, support_min), row order (rowid) = output column order.
--   fgb_run            temp table from fg_b_run.sql: baseline_horizon, baseline_start_ts,
--                      baseline_end_ts, reference_date of this run.
-- Parameters: none (a PIVOT with a subquery value list cannot carry bound parameters in a
--             CREATE TABLE AS; the run constants come from fgb_run).
-- Variables:  feature_spec_version.
-- Output grain: one row per group of fgb_keys (host: host_ip, role, segment_id, time_band,
--   window_label; segment: segment_id, role, time_band, window_label), for this horizon.
-- Columns (docs/CONTRACTS.md fg_b host / segment): the group key columns, baseline_horizon,
--   then per metric m in p_baseline_metrics order: m_median, m_p25, m_p75, m_p95, m_p99, m_mad,
--   m_iqr DOUBLE, m_support_count BIGINT, m_cold_start_flag INTEGER; then capped_rows,
--   total_rows BIGINT, baseline_start_ts, baseline_end_ts TIMESTAMP, reference_date, record_id,
--   feature_spec_version VARCHAR.
--
-- How: the level's statistics are joined to p_baseline_metrics (which drops metrics that are not
--   baseline metrics) and PIVOTed by the integer group id in p_baseline_metrics order (a
--   baseline metric without statistics, outside fgb_metrics, gets NULL columns); the group keys
--   are joined afterwards, once per group (pivoting by the keys themselves cost ~30% more).
--
-- Choices where FEATURES.md is silent:
--   * record_id = record_key__ | baseline_horizon, record_key__ rendering a NULL segment_id /
--     time_band as the empty string.
--   * baseline_start_ts / baseline_end_ts are the run range from fgb_run (half-open).
WITH
long AS (
    SELECT u.gid__, u.total_rows__, u.capped_rows__,
           u.metric,
           u.s.q[1] AS median, u.s.q[2] AS p25, u.s.q[3] AS p75, u.s.q[4] AS p95, u.s.q[5] AS p99,
           u.s.mad AS mad,
           u.s.q[3] - u.s.q[2] AS iqr,
           u.s.n AS support_count,
           (u.s.n < p.support_min)::INTEGER AS cold_start_flag
    FROM fgb_stats_long u
    JOIN p_baseline_metrics p ON p.metric = u.metric
    WHERE u.level__ IN (SELECT DISTINCT level__ FROM fgb_keys)
),
wide AS (
    PIVOT long
    ON metric IN (SELECT metric FROM p_baseline_metrics ORDER BY rowid)
    USING first(median) AS median, first(p25) AS p25, first(p75) AS p75, first(p95) AS p95,
          first(p99) AS p99, first(mad) AS mad, first(iqr) AS iqr,
          first(support_count) AS support_count, first(cold_start_flag) AS cold_start_flag
    GROUP BY gid__, total_rows__, capped_rows__
)
SELECT unnest(k.grp__),
       r.baseline_horizon,
       wide.* EXCLUDE (gid__, total_rows__, capped_rows__),
       capped_rows__ AS capped_rows,
       total_rows__ AS total_rows,
       r.baseline_start_ts,
       r.baseline_end_ts,
       r.reference_date,
       concat_ws('|', k.record_key__, r.baseline_horizon) AS record_id,
       getvariable('feature_spec_version')::VARCHAR AS feature_spec_version
FROM wide
JOIN fgb_keys k USING (gid__)
CROSS JOIN fgb_run r
