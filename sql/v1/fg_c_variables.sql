-- fg_c_variables (feature_spec_version v1) — the two list variables fg_c.sql reads.
--
-- Purpose: fg_c.sql selects metric columns by name and computes all ten transforms of every
--   metric; these lists tell it which metrics, in which order, and which <metric>_<transform>
--   columns to drop. Variables rather than tables because COLUMNS() lambdas can read a
--   variable but not a table, and fg_c.sql is a view (COPY streams it straight to Parquet).
-- Inputs:
--   p_fgc_metrics      (metric, scale_floor), row order (rowid) = output metric order.
--   p_fgc_transforms   (transform, selected): the ten transforms of FEATURES.md §7.2, selected
--                      = the JobSpec's fg_c_builder.transforms contains it.
-- Parameters: none. Multi-statement file, run as it is (SET VARIABLE statements only).
-- Output: variables fgc_metrics (VARCHAR[], p_fgc_metrics order) and fgc_unselected_cols
--   (VARCHAR[], every <metric>_<transform> of an unselected transform; empty, never NULL).
SET VARIABLE fgc_metrics = (SELECT list(metric ORDER BY rowid) FROM p_fgc_metrics);
SET VARIABLE fgc_unselected_cols = (
    SELECT coalesce(list(m.metric || '_' || t.transform), []::VARCHAR[])
    FROM p_fgc_metrics AS m, p_fgc_transforms AS t
    WHERE NOT t.selected
);
