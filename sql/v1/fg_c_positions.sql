-- fg_c_positions (feature_spec_version v1) — the column-per-metric constants fg_c.sql reads.
--
-- Purpose: fg_c.sql holds each row's per-metric values as lists indexed by metric position and
--   writes one output column per metric and transform, and one per score family, each with one
--   COLUMNS() expression. Those expressions expand over the columns of this one-row table:
--   _p_<metric> (INTEGER) the metric's position (its p_fgc_metrics order, 1-based), and
--   _fam_<score> (INTEGER[]) the positions of the family's metrics.
--   A separate table because fg_c.sql is a view (COPY streams it straight to Parquet), and a
--   PIVOT whose value list is read from the data cannot be part of a view.
-- Inputs:
--   p_fgc_metrics      (metric, scale_floor), row order (rowid) = metric position - 1.
--   p_score_families   (score, metric), score column order = first appearance (rowid).
-- Parameters: none.
-- Output grain: exactly one row.
-- Choices where FEATURES.md is silent:
--   * A family none of whose metrics is an FG-C metric has a NULL _fam_ column (its score is
--     then NULL, as for a family without values).
WITH
metrics AS (
    SELECT metric, (rowid + 1)::INTEGER AS pos FROM p_fgc_metrics
),
metric_positions AS (
    PIVOT (SELECT '_p_' || metric AS name, pos FROM metrics)
    ON name IN (SELECT '_p_' || metric FROM p_fgc_metrics ORDER BY rowid)
    USING first(pos)
),
family_positions AS (
    PIVOT (SELECT '_fam_' || f.score AS name, m.pos FROM p_score_families f JOIN metrics m ON m.metric = f.metric)
    ON name IN (SELECT '_fam_' || score FROM p_score_families GROUP BY score ORDER BY min(rowid))
    USING list(pos)
)
-- LEFT JOIN ON true: one row even when no family has an FG-C metric.
SELECT m.*, f.*
FROM metric_positions m
LEFT JOIN family_positions f ON true
