-- delta_to_fg_a.sql — the versioned schema map delta -> FG-A (FEATURES.md §4.1).
--
-- Purpose: rename the three delta columns whose FG-A names differ; every other
--   column (all additive counts, every `<set>_port_sessions_cnt`, the keys) keeps
--   its name and its position. The runner materialises this query as the view
--   `delta_mapped`, which is the only way fg_a.sql sees delta.
-- Input: view `delta_in` — delta rows (grain host_ip, role, batch), schema in
--   docs/CONTRACTS.md.
-- Parameters: none.
-- Output grain: unchanged (one row per delta row).
--
-- | fg_a name      | delta column   |
-- |----------------|----------------|
-- | bytes_src_sum  | bytes_sent_sum |
-- | bytes_dst_sum  | bytes_recv_sum |
-- | deny_cnt       | drop_cnt       |
--
-- Choices (FEATURES.md is silent on how):
-- * A missing source column must fail (seed bug class 7). `SELECT * RENAME (...)`
--   alone does NOT fail in DuckDB 1.5 (it silently skips a name that is absent),
--   so the WHERE clause below names each source column once more: a missing one
--   is a Binder Error naming it (... does not have a column named "drop_cnt").
-- * A target name that already exists in delta_in would be silently de-duplicated
--   by DuckDB (deny_cnt / deny_cnt_1) and FG-A could read the wrong one. The
--   one-row relation `target_names` has one column per target: if delta_in already
--   has such a column, the unqualified reference in the WHERE clause is an
--   "Ambiguous reference to column name" Binder Error naming it.
-- * Nothing else is filtered or cast: both WHERE conditions are always true
--   (the optimizer folds them away); they exist only to be bound.
SELECT d.* RENAME (
         bytes_sent_sum AS bytes_src_sum,
         bytes_recv_sum AS bytes_dst_sum,
         drop_cnt       AS deny_cnt
       )
FROM delta_in AS d
CROSS JOIN (SELECT NULL, NULL, NULL) AS target_names (bytes_src_sum, bytes_dst_sum, deny_cnt)
WHERE coalesce(bytes_src_sum, bytes_dst_sum, deny_cnt) IS NULL           -- binds the target names: must be new
  AND [d.bytes_sent_sum, d.bytes_recv_sum, d.drop_cnt] IS NOT NULL         -- binds the source names: must exist
