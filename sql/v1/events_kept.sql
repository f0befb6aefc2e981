-- events_kept: the rows every streaming transform reads (dq_drop IS NULL).
-- Inputs: table events_dq (one row per raw record). Params: none. Output: same grain, kept rows.
SELECT * FROM events_dq WHERE dq_drop IS NULL
