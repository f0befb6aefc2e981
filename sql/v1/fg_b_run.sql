-- fg_b_run (feature_spec_version v1) — the constants of one FG-B horizon run (FEATURES.md §6).
--
-- Purpose: turn the named parameters of the run into a one-row table. The FG-B templates
--   that PIVOT with a data-driven value list (fg_b_widen) cannot carry named
--   parameters: DuckDB rewrites `CREATE TABLE ... AS <PIVOT ... IN (SELECT ...)>` into
--   several statements and drops the bound values. They read this table instead.
-- Inputs: none.
-- Parameters: $horizon VARCHAR, $range_start TIMESTAMP, $range_end TIMESTAMP,
--             $reference_date VARCHAR (YYYY-MM-DD of T_ref).
-- Output grain: exactly one row.
-- Columns: baseline_horizon VARCHAR, baseline_start_ts TIMESTAMP, baseline_end_ts TIMESTAMP,
--          reference_date VARCHAR.
-- Choices: the range is half-open, [baseline_start_ts, baseline_end_ts) on window_end_ts
--   (FG-A) and slice_start_ts (pair_counts).
SELECT $horizon::VARCHAR          AS baseline_horizon,
       $range_start::TIMESTAMP    AS baseline_start_ts,
       $range_end::TIMESTAMP      AS baseline_end_ts,
       $reference_date::VARCHAR   AS reference_date
