-- _macros_ranking: how FG-C orders a row's metric lists, ranks its metrics and prints its top
-- contributors (fg_c.sql).
--
-- list_permute(l, perm): the elements of l at the 1-based positions of perm, in perm's order
--   (NULL where a position is out of range). ~6x cheaper than list_select(l, perm) in DuckDB
--   1.5 (measured: 46-element lists). l must be a column, not an expression: the lambda would
--   evaluate an expression once per element.
CREATE OR REPLACE MACRO list_permute(l, perm) AS list_transform(perm, lambda i: l[i]);
--
-- FG-C needs only the three largest |z| of a row's 46 metrics, ties broken by metric name.
-- Sorting the 46 (|z|, name) pairs per row with list_sort was a quarter of a FG-C pass's CPU
-- (DuckDB sorts lists of structs through its general sort), so the three are taken by
-- repeated maximum instead, over a list already in metric-name order:
--
-- list_first_max_pos(l): 1-based position of the first element equal to the largest
--   non-NULL element of the DOUBLE list l, i.e. the alphabetically first of equal values when
--   l is in name order; NULL when l has no non-NULL element.
-- list_blank_at(l, i): l with the element at position i replaced by NULL, so that the next
--   list_first_max_pos() finds the next largest; l unchanged when i is NULL.
CREATE OR REPLACE MACRO list_first_max_pos(l) AS
    CASE WHEN list_max(l) IS NOT NULL THEN list_position(l, list_max(l)) END;

CREATE OR REPLACE MACRO list_blank_at(l, i) AS
    CASE WHEN i IS NULL THEN l ELSE list_concat(l[:i - 1], [NULL::DOUBLE], l[i + 1:]) END;

-- contributor_label(name, z): one top_contributors entry, 'name:z' with z rounded to two
--   decimals half away from zero on its shortest decimal representation (DOUBLE -> VARCHAR ->
--   DECIMAL), so 2.345 prints 2.35 and -2.345 -2.35; DECIMAL has no -0.00. NULL when either is.
--   The cast goes to an int64 DECIMAL(18, 2) (~20x cheaper than through DECIMAL(38, 18)), but
--   only where the text has no exponent: DuckDB's VARCHAR -> DECIMAL rounds '-8.9e-06' to
--   -0.01. DOUBLE text has an exponent below 1e-4 only (checked on 2M values up to 5e14), and
--   anything below 0.001 prints 0.00; 1e15 and above take the wide cast (z is clipped to z_max).
CREATE OR REPLACE MACRO contributor_label(name, z) AS
    name || ':' || CASE WHEN abs(z) < 0.001 THEN '0.00'
                        WHEN abs(z) < 1e15 THEN z::VARCHAR::DECIMAL(18, 2)::VARCHAR
                        ELSE (z::VARCHAR::DECIMAL(38, 18))::DECIMAL(38, 2)::VARCHAR END;
