-- raw_zeek_conn: the zeek_conn input preset (a renaming view over Zeek conn records).
--
-- Purpose : map Zeek conn.log columns onto the canonical firewall fields of
--           FEATURES.md §1, as documented in shared/data/README.md.
-- Inputs  : view raw_src, one row per Zeek conn record (TSV read as VARCHAR with
--           '-' as NULL, or Zeek JSON logs); columns ts, "id.orig_h", "id.orig_p",
--           "id.resp_h", "id.resp_p", proto, duration, orig_bytes, resp_bytes, conn_state.
-- Params  : none.
-- Output  : one row per input record, canonical column names (plus the reader's
--           filename, kept for error messages); event_start/event_end
--           are epoch-second text (timestamp_format epoch_s) so that the shared typing
--           step parses them exactly (DECIMAL, no float rounding).
-- Choices : Zeek has no firewall verdict, so event_action/event_reason come from
--           conn_state: REJ -> deny; S0 with no reply bytes -> drop;
--           RSTO/RSTOS0 -> reason tcp-rst-from-client, RSTR/RSTRH -> tcp-rst-from-server;
--           everything else -> allow (reason NULL). event_end = ts + duration, and
--           = ts when duration is unset (a zero-length session, not a missing one).
SELECT
    "id.orig_h"::VARCHAR                                   AS source_ip,
    "id.resp_h"::VARCHAR                                   AS destination_ip,
    "id.orig_p"                                            AS source_port,
    "id.resp_p"                                            AS destination_port,
    orig_bytes                                             AS source_bytes,
    resp_bytes                                             AS destination_bytes,
    ts::VARCHAR                                            AS event_start,
    (TRY_CAST(ts::VARCHAR AS DECIMAL(20, 6))
        + coalesce(TRY_CAST(duration::VARCHAR AS DECIMAL(20, 6)), 0))::VARCHAR AS event_end,
    CASE
        WHEN conn_state = 'REJ' THEN 'deny'
        WHEN conn_state = 'S0' AND coalesce(TRY_CAST(resp_bytes::VARCHAR AS BIGINT), 0) = 0 THEN 'drop'
        ELSE 'allow'
    END                                                    AS event_action,
    CASE
        WHEN conn_state IN ('RSTO', 'RSTOS0') THEN 'tcp-rst-from-client'
        WHEN conn_state IN ('RSTR', 'RSTRH') THEN 'tcp-rst-from-server'
    END                                                    AS event_reason,
    'TRAFFIC'                                              AS event_name,
    upper(proto::VARCHAR)                                  AS network_transport,
    filename
FROM raw_src
