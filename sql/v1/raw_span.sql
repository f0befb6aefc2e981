-- raw_span: the batches a plain-glob read actually covers (batches outside it are gaps).
-- Inputs: table events_dq. Params: none. Output: one row, lo/hi = epoch ms of the first/last placed batch.
SELECT epoch_ms(min(batch_start)) AS lo, epoch_ms(max(batch_start)) AS hi
FROM events_dq
WHERE batch_start IS NOT NULL
