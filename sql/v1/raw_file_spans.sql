-- raw_file_spans (feature_spec_version v1) — which 15-minute batches each file of a plain glob
-- can feed.
--
-- Purpose: a plain glob (no {dt}/{hh}/{mm} in the raw URI) says nothing about which files
--   hold which times, and events are placed by event_start (ARCHITECTURE.md, raw input). So
--   that a build reads only the files that can hold its batches' events, and a day without
--   any is a gap found without reading everything again, build-raw.ts scans each file once
--   per run with this template and keeps the result.
-- Inputs: view raw_typed (canonical names and types, one row per raw record, plus _ndr_file
--   and _parse_error) over the files being indexed.
-- Parameters: none.
-- Output grain: one row per file that has at least one record:
--   file VARCHAR (the path DuckDB read), lo/hi BIGINT = epoch ms of the 15-minute batch of its
--   earliest/latest event_start (NULL when it has none), unplaced BIGINT = records without an
--   event_start (missing or unparseable).
-- Choices where FEATURES.md is silent:
--   * A file with unplaced records feeds every batch: the builds that read it report its
--     parse errors and count its unplaced rows, as they did when every build read every file.
--   * A file feeds every batch between lo and hi, even quiet ones inside its span (they are
--     committed empty, as a template URI's existing file would be); a batch outside every
--     file's span is a gap, not quiet time.
SELECT _ndr_file AS file,
       epoch_ms(min(time_bucket(INTERVAL 15 MINUTE, event_start))) AS lo,
       epoch_ms(max(time_bucket(INTERVAL 15 MINUTE, event_start))) AS hi,
       count(*) FILTER (WHERE event_start IS NULL) AS unplaced
FROM raw_typed
GROUP BY _ndr_file
