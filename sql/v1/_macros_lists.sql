-- _macros_lists: list helpers for templates that carry per-metric values as lists (fg_c.sql,
-- fg_b_capped.sql).
--
-- list_permute(l, perm): the elements of l at the 1-based positions of perm, in perm's order
--   (NULL where a position is out of range). ~6x cheaper than list_select(l, perm) in DuckDB
--   1.5 (measured: 46-element lists). l must be a column, not an expression: the lambda would
--   evaluate an expression once per element.
CREATE OR REPLACE MACRO list_permute(l, perm) AS list_transform(perm, lambda i: l[i]);

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
