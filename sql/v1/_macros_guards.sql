-- _macros_guards: the check templates make before they read columns a JobSpec names.
--
-- fg_a_columns_ok(wanted, what): true when every name in the list `wanted` is a numeric
-- column of the relation fg_a_in; otherwise an error naming `what` (the JobSpec key) and the
-- missing names in order, e.g.
--   fg_b: baseline_metrics not found among numeric FG-A columns: bytes_sent_sum
-- A NULL or empty list is fine. Templates call it once, as a constant in a WHERE clause.
CREATE OR REPLACE MACRO fg_a_columns_ok(wanted, what) AS (
    SELECT CASE WHEN count(*) = 0 THEN true
                ELSE error(what || ' not found among numeric FG-A columns: ' || string_agg(w, ', ' ORDER BY w)) END
    FROM unnest(wanted) AS t(w)
    WHERE w NOT IN (SELECT column_name FROM duckdb_columns()
                    WHERE table_name = 'fg_a_in' AND numeric_precision IS NOT NULL)
);
