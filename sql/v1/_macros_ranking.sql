-- _macros_ranking: how FG-C prints its top contributors (fg_c.sql, ranked).
--
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
