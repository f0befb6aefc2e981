-- _macros_input: parsing macros of the raw-input typing step (FEATURES.md §1).
--
-- ndr_parse_ts(text, fmt): a raw timestamp as TIMESTAMP (UTC), or NULL when it
-- does not parse (the caller reports such values as errors, never drops them).
--   iso      : ISO-8601; a value with an offset or Z is converted to UTC, one
--              without is taken as UTC.
--   epoch_s  : epoch seconds, fractions allowed; parsed as DECIMAL so that
--              microseconds are exact (no binary float rounding).
--   epoch_ms : epoch milliseconds, fractions allowed.
CREATE OR REPLACE MACRO ndr_parse_ts(t, fmt) AS CASE fmt
    WHEN 'iso' THEN CASE
        WHEN regexp_matches(t, '^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*(Z|z|[+-]\d{2}(:?\d{2})?)?$')
        THEN timezone('UTC', TRY_CAST(replace(t, 'T', ' ') AS TIMESTAMPTZ)) END
    WHEN 'epoch_s' THEN make_timestamp(round(TRY_CAST(t AS DECIMAL(24, 6)) * 1000000)::BIGINT)
    WHEN 'epoch_ms' THEN make_timestamp(round(TRY_CAST(t AS DECIMAL(24, 6)) * 1000)::BIGINT)
END;
