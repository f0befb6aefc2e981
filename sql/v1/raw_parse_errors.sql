-- raw_parse_errors: the first raw value that could not be typed (FEATURES.md §1: bad input is
-- an error naming file, column and rule, never a silently NULLed value).
-- Inputs: view raw_typed (one row per raw record, with _parse_error and the _raw_* text).
-- Params: none. Output: at most one row: col, file, val.
SELECT _parse_error AS col, _ndr_file AS file,
       CASE _parse_error WHEN 'event_start' THEN _raw_event_start WHEN 'event_end' THEN _raw_event_end
            WHEN 'source_port' THEN _raw_source_port WHEN 'destination_port' THEN _raw_destination_port
            WHEN 'source_bytes' THEN _raw_source_bytes ELSE _raw_destination_bytes END AS val
FROM raw_typed
WHERE _parse_error IS NOT NULL
LIMIT 1
