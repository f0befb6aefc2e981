-- fg_a.sql — FG-A window features (FEATURES.md §4) for any number of anchors in one run.
--
-- Output grain: one row per (host_ip, role, window_label, window_end_ts) for every anchor
--   T in p_anchors, every window w in p_windows and every (host_ip, role) with at least one
--   delta row in S_w = {T - w < slice_end_ts <= T}. A host idle in the last 15 minutes still
--   gets the longer windows it was active in. Columns, order and types: docs/CONTRACTS.md "fg_a".
--
-- Inputs (registered by the runner; grain in brackets):
--   delta_mapped          delta after the schema map delta_to_fg_a.sql [host_ip, role, batch]:
--                         every batch with slice_end_ts in (min T - max w, max T]
--   delta_peers_in        delta_peers rows of the same batches [host_ip, role, peer_ip, peer_port, batch]
--   peer_history_daily    (host_ip, role, peer_ip, peer_port, day DATE, sessions_cnt): delta_peers_daily
--                         compactions of whole UTC days [host_ip, role, peer_ip, peer_port, day]
--   peer_history_batches  delta_peers rows (delta_peers_in schema) of the days that are not
--                         compacted, at least the partial days at both edges of the look-back
--                         ranges (the days containing each L start and each L end)
--   ip_dim                (ip, is_valid, is_internal, segment_id) covering every host_ip and peer_ip [ip]
--   p_anchors(anchor_ts TIMESTAMP)      the window_end_ts values T (T = batch_end)
--   p_windows(window_label, minutes)    JobSpec windows
--   p_high_risk_segments(segment_id), p_weekend_days(dow ISO 1..7), p_holidays(d DATE)
-- Session variables: tz, work_start, work_end, off_start, off_end, eps_a, lookback_days,
--   novelty_enabled, k_peer, k_port, k_pair, feature_spec_version. No named ($) parameters.
--   The two history views must exist even with novelty disabled (empty is fine).
--
-- How (cost independent of the number of 15-minute batches in the look-back):
--   1. aw = the (anchor, window) pairs, keyed by an integer wid. The window selection
--      T - w < slice_end_ts <= T is applied to the delta rows (s_w) and, through slice_windows,
--      to the delta_peers rows: a row ending exactly at T - w is out.
--   2. (host, role), peer and pair get dense integer ids (pair_ids) so that the big aggregations
--      hash integers, not strings. P_w is collapsed once to one row per (anchor, window, pair):
--      p_w = C_pair with its sessions and bytes; w_peers (C_peer) and w_ports (C_port) roll it up.
--      Distinct counts, entropies, top-1 shares and segment features aggregate those. Novelty
--      keys are written (g, pid, port): g = 0 pair (pid, port), 1 peer (pid, -1), 2 port (-1, port).
--   3. Novelty: seen(x) = sessions of the host with x in L = [window_start - lookback_days,
--      window_start), over the two stores of the look-back:
--        seen = sum of daily rows whose whole day [day, day + 1) lies inside L
--             + sum of batch rows with slice_start_ts in L, except those of a day that lies
--               wholly inside L AND is compacted in peer_history_daily (counted there).
--      With the runner's split (daily = whole days, batches = edge days) this is exactly
--      "daily rows of whole days + batch rows of the other days"; a day that is an edge for
--      one window and whole for another is also counted right from its batches, and a day
--      present in both stores is never counted twice.
--      Pruning: core = sessions per key over the compacted days inside EVERY L of the run is
--      a lower bound of seen(x) for all of them, so an item with core > K is neither new nor
--      rare whatever its L. Only the items of the other ("open") keys, i.e. new, rare or nearly
--      rare ones, are counted exactly, from the history rows of their keys. The look-back is
--      thus read by two scans, and the exact work grows with the open items only. History rows
--      are summed per interval between consecutive "cuts" (every time at which some L starts
--      or stops counting a row, hist_cuts), not per batch: for one anchor that is a few
--      buckets per key (at 2,000 hosts: 6.7 s -> 4.8 s for one batch, identical counts). Pruning
--      works best when the anchors of one run span about a day or less (the core shrinks as
--      the span grows); the result never depends on it.
--
-- Choices where FEATURES.md is silent:
--   * NULL peer_port (sessions without ports): they count for the peer features, but the port
--     distribution (peer_port_nunique, port entropy, port top-1 shares, whose denominators are
--     then the sessions / bytes with a port) and port / pair novelty use rows with a port only.
--     In the history, a NULL-port row counts for seen(peer) only.
--   * A (host, role) in S_w without P_w rows (impossible when delta_peers follows delta): distinct
--     counts 0 (count of an empty set), entropies and top-1 shares NULL (not computable),
--     high-risk segment counts 0, novelty counts 0 and new_peer_ratio 0.
--   * Entropy H = ln S - sum(s ln s) / S, which is -sum(p ln p) with p = s / S, exactly 0 for a
--     single peer and clamped at 0 against rounding otherwise.
--   * A peer missing from ip_dim has no segment: not counted in peer_segment_nunique, never
--     high-risk. The host's segment_id is NULL if ip_dim lacks the host.
--   * is_night_hours generalises "h >= 22 or h < 7" to h >= off_end OR h < work_start.
--   * duration_sum uses fsum (compensated summation), so the order in which threads add the
--     batches moves it by a few ulps at most; like the entropies (sums of s ln s), it is not
--     bit-for-bit repeatable across runs (measured: ~1e-11 on sums ~1e5), which is why the
--     golden files compare floats with a tolerance.
--   * Local time: window_end_ts is UTC; timezone(tz, timezone('UTC', T)) is its local wall
--     clock through ICU (DST-correct), whatever the session TimeZone. Holidays are local dates.
--   * dt, hh, mm and mini_batch_id are of the anchor's batch_start = T - 15 minutes.
--   * Novelty disabled: the seven novelty columns are NULL.
--   * Rows are ordered by window_end_ts, host_ip, role, window length.
WITH
anchors AS (
    SELECT DISTINCT anchor_ts::TIMESTAMP AS window_end_ts FROM p_anchors
),
aw AS (   -- the (anchor, window) pairs
    SELECT row_number() OVER (ORDER BY a.window_end_ts, w.minutes, w.window_label)::INTEGER AS wid,
           a.window_end_ts, w.window_label, w.minutes,
           a.window_end_ts - to_minutes(w.minutes::BIGINT) AS window_start_ts
    FROM anchors AS a CROSS JOIN p_windows AS w
),

-- ---------------------------------------------------------------- S_w: additive features
s_w AS (
    SELECT aw.wid, d.host_ip, d.role,
           sum(d.sessions_cnt)::BIGINT      AS sessions_cnt,
           sum(d.allow_cnt)::BIGINT         AS allow_cnt,
           sum(d.deny_cnt)::BIGINT          AS deny_cnt,
           sum(d.alert_cnt)::BIGINT         AS alert_cnt,
           sum(d.rst_cnt)::BIGINT           AS rst_cnt,
           sum(d.aged_out_cnt)::BIGINT      AS aged_out_cnt,
           sum(d.zero_reply_cnt)::BIGINT    AS zero_reply_cnt,
           sum(d.short_session_cnt)::BIGINT AS short_session_cnt,
           sum(d.bytes_src_sum)::BIGINT     AS bytes_src_sum,
           sum(d.bytes_dst_sum)::BIGINT     AS bytes_dst_sum,
           fsum(d.duration_sum)::DOUBLE     AS duration_sum,
           sum(d.tcp_cnt)::BIGINT           AS tcp_cnt,
           sum(d.udp_cnt)::BIGINT           AS udp_cnt,
           sum(d.icmp_cnt)::BIGINT          AS icmp_cnt,
           sum(d.threat_cnt)::BIGINT        AS threat_cnt,
           sum(d.traffic_cnt)::BIGINT       AS traffic_cnt,
           sum(COLUMNS('_port_sessions_cnt$'))::BIGINT,      -- one per JobSpec port set, in delta order
           max(d.max_sessions_per_minute)::BIGINT AS max_sessions_per_minute
    FROM delta_mapped AS d
    JOIN aw ON d.slice_end_ts > aw.window_start_ts AND d.slice_end_ts <= aw.window_end_ts
    GROUP BY ALL
),

-- ---------------------------------------------------------------- P_w: current peer / port / pair sets
peer_rows AS MATERIALIZED (   -- delta_peers_in, read once
    SELECT host_ip, role, peer_ip, peer_port, slice_end_ts, sessions_cnt AS s,
           coalesce(bytes_sent_sum, 0) + coalesce(bytes_recv_sum, 0) AS b
    FROM delta_peers_in
),
slice_windows AS (   -- the same selection for the delta_peers slices
    SELECT s.slice_end_ts, aw.wid
    FROM (SELECT DISTINCT slice_end_ts FROM peer_rows) AS s
    JOIN aw ON s.slice_end_ts > aw.window_start_ts AND s.slice_end_ts <= aw.window_end_ts
),
pair_ids AS MATERIALIZED (   -- dense integer ids: hid per (host_ip, role), pid per peer_ip, kid per pair
    SELECT row_number() OVER ()::INTEGER                       AS kid,
           dense_rank() OVER (ORDER BY host_ip, role)::INTEGER AS hid,
           dense_rank() OVER (ORDER BY peer_ip)::INTEGER       AS pid,
           host_ip, role, peer_ip, peer_port
    FROM (SELECT DISTINCT host_ip, role, peer_ip, peer_port FROM peer_rows)
),
host_ids AS (SELECT DISTINCT hid, host_ip, role FROM pair_ids),
peer_ids AS (SELECT DISTINCT pid, peer_ip FROM pair_ids),
p_w AS MATERIALIZED (   -- C_pair with sessions and bytes: one row per (anchor, window, host, role, peer_ip, peer_port)
    SELECT w.wid, k.hid, k.pid, k.peer_port AS port, w.s, w.b
    FROM (SELECT sw.wid, k.kid, sum(r.s)::DOUBLE AS s, sum(r.b)::DOUBLE AS b
          FROM peer_rows AS r
          JOIN pair_ids AS k
            ON k.host_ip = r.host_ip AND k.role = r.role AND k.peer_ip = r.peer_ip
           AND k.peer_port IS NOT DISTINCT FROM r.peer_port
          JOIN slice_windows AS sw USING (slice_end_ts)
          GROUP BY sw.wid, k.kid) AS w
    JOIN pair_ids AS k USING (kid)
),
w_peers AS MATERIALIZED (   -- C_peer: one row per (anchor, window, host, role, peer_ip)
    SELECT wid, hid, pid, sum(s) AS s, sum(b) AS b FROM p_w GROUP BY wid, hid, pid
),
w_ports AS MATERIALIZED (   -- C_port: one row per (anchor, window, host, role, peer_port); NULL is no port
    SELECT wid, hid, port, sum(s) AS s, sum(b) AS b FROM p_w WHERE port IS NOT NULL GROUP BY wid, hid, port
),
peer_feats AS (   -- per (anchor, window, host, role): distinct peers and the sums behind entropy / shares
    SELECT wid, hid, count(*) AS n, sum(s) AS s, sum(s * ln(s)) FILTER (s > 0) AS sls, max(s) AS top_s,
           sum(b) AS b, max(b) AS top_b
    FROM w_peers GROUP BY wid, hid
),
port_feats AS (   -- the same over ports
    SELECT wid, hid, count(*) AS n, sum(s) AS s, sum(s * ln(s)) FILTER (s > 0) AS sls, max(s) AS top_s,
           sum(b) AS b, max(b) AS top_b
    FROM w_ports GROUP BY wid, hid
),
peer_segments AS (   -- segment of each peer of the run (ip_dim) as a small integer, and whether it is high-risk
    SELECT pe.pid, dense_rank() OVER (ORDER BY d.segment_id)::INTEGER AS sid,
           d.segment_id IN (SELECT segment_id FROM p_high_risk_segments) AS high_risk
    FROM peer_ids AS pe
    JOIN ip_dim AS d ON d.ip = pe.peer_ip
    WHERE d.segment_id IS NOT NULL
),
segment_feats AS (   -- distinct peer segments, high-risk segment sessions and peers
    SELECT wid, hid,
           count(*)  AS peer_segment_nunique,
           sum(s_hr) AS high_risk_segment_sessions_cnt,
           sum(n_hr) AS high_risk_segment_unique_peers
    FROM (SELECT w.wid, w.hid, ps.sid,
                 sum(w.s) FILTER (ps.high_risk) AS s_hr, count(*) FILTER (ps.high_risk) AS n_hr
          FROM w_peers AS w JOIN peer_segments AS ps USING (pid)
          GROUP BY w.wid, w.hid, ps.sid)
    GROUP BY wid, hid
),

-- ---------------------------------------------------------------- novelty against the look-back
core AS (   -- per key, sessions of the compacted days inside every L of the run: a lower bound of seen(x)
    SELECT hid, GROUPING(pid, port) AS g, coalesce(pid, -1) AS pid, coalesce(port, -1) AS port, sum(s) AS s
    FROM (SELECT d.host_ip, d.role, d.peer_ip, d.peer_port AS port, sum(d.sessions_cnt) AS s
          FROM peer_history_daily AS d
          WHERE getvariable('novelty_enabled')
            AND d.day::TIMESTAMP >= (SELECT max(window_start_ts) FROM aw) - to_days(getvariable('lookback_days')::INTEGER)
            AND d.day::TIMESTAMP + INTERVAL 1 DAY <= (SELECT min(window_start_ts) FROM aw)
          GROUP BY ALL) AS c
    JOIN host_ids USING (host_ip, role)
    LEFT JOIN peer_ids USING (peer_ip)                      -- other peers still count for their port
    GROUP BY GROUPING SETS ((hid, pid, port), (hid, pid), (hid, port))
),
open_keys AS MATERIALIZED (   -- keys (g, pid, port) of the run still undecided: core <= K (above K: neither new nor rare)
    SELECT k.hid, k.g, k.pid, k.port
    FROM (SELECT DISTINCT hid, 0 AS g, pid, peer_port AS port FROM pair_ids WHERE peer_port IS NOT NULL
          UNION ALL
          SELECT DISTINCT hid, 1, pid, -1 FROM pair_ids
          UNION ALL
          SELECT DISTINCT hid, 2, -1, peer_port FROM pair_ids WHERE peer_port IS NOT NULL) AS k
    LEFT JOIN core AS c USING (hid, g, pid, port)
    WHERE getvariable('novelty_enabled')
      AND coalesce(c.s, 0) <= CASE k.g WHEN 1 THEN getvariable('k_peer')
                                       WHEN 2 THEN getvariable('k_port')
                                       ELSE getvariable('k_pair') END
),
open_items AS MATERIALIZED (   -- the current items (g = 0 pairs, 1 peers, 2 ports) with an open key, and their L
    SELECT i.wid, i.hid, i.g, i.pid, i.port,
           aw.window_start_ts - to_days(getvariable('lookback_days')::INTEGER) AS l_start,
           aw.window_start_ts AS l_end
    FROM (SELECT wid, hid, 0 AS g, pid, port FROM p_w
          UNION ALL
          SELECT wid, hid, 1, pid, -1 FROM w_peers
          UNION ALL
          SELECT wid, hid, 2, -1, port FROM w_ports) AS i
    SEMI JOIN open_keys USING (hid, g, pid, port)
    JOIN aw USING (wid)
),
hist_rows AS MATERIALIZED (   -- look-back rows that can touch an open key: 'D' = daily compaction, 'B' = batches
    SELECT *
    FROM (SELECT 'D' AS src, host_ip, role, peer_ip, peer_port, day::TIMESTAMP AS t, sessions_cnt,
                 true AS compacted
          FROM peer_history_daily
          UNION ALL
          SELECT 'B', host_ip, role, peer_ip, peer_port, slice_start_ts, sessions_cnt,
                 slice_start_ts::DATE IN (SELECT DISTINCT day FROM peer_history_daily)   -- its day has a compaction
          FROM peer_history_batches)
    WHERE getvariable('novelty_enabled')
      AND t >= (SELECT min(l_start) FROM open_items) AND t < (SELECT max(l_end) FROM open_items)
      AND ((host_ip, role, peer_ip) IN (SELECT h.host_ip, h.role, p.peer_ip
                                        FROM open_keys AS o JOIN host_ids AS h USING (hid) JOIN peer_ids AS p USING (pid)
                                        WHERE o.g <> 2)
        OR (host_ip, role, peer_port) IN (SELECT h.host_ip, h.role, o.port
                                          FROM open_keys AS o JOIN host_ids AS h USING (hid)
                                          WHERE o.g = 2))
),
-- Every time at which some item's L changes whether a history row counts (see seen): L's
-- bounds, l_end - 1 day (a daily row counts up to there; + 1 us makes it a half-open bound),
-- and the first and last whole days of L (a compacted day's batch rows). Between two
-- consecutive cuts every row counts for the same items, so history is summed per cut interval
-- ("bucket", keyed by its start bt) rather than per batch: one anchor's look-back then has a
-- few buckets per key instead of one per batch.
hist_cuts AS (
    SELECT DISTINCT unnest([l_start, l_end, l_end - INTERVAL 1 DAY + INTERVAL 1 MICROSECOND,
                            date_trunc('day', l_start) + CASE WHEN l_start = date_trunc('day', l_start) THEN INTERVAL 0 DAY ELSE INTERVAL 1 DAY END,
                            date_trunc('day', l_end)]) AS bt
    FROM (SELECT window_start_ts - to_days(getvariable('lookback_days')::INTEGER) AS l_start,
                 window_start_ts AS l_end
          FROM aw)
),
hist AS (   -- the same per key level, in ids, summed per bucket (its start bt stands for t)
    SELECT src, compacted, hid, GROUPING(pid, port) AS g, coalesce(pid, -1) AS pid, coalesce(port, -1) AS port,
           t, sum(sessions_cnt) AS s
    FROM (SELECT r.src, r.compacted, h.hid, p.pid, r.peer_port AS port, c.bt AS t, r.sessions_cnt
          FROM hist_rows AS r
          ASOF JOIN hist_cuts AS c ON r.t >= c.bt
          JOIN host_ids AS h USING (host_ip, role)
          LEFT JOIN peer_ids AS p USING (peer_ip))
    GROUP BY GROUPING SETS ((src, compacted, t, hid, pid, port), (src, compacted, t, hid, pid), (src, compacted, t, hid, port))
),
seen AS (   -- exact seen(x) of the open items: FEATURES.md 4.3 over the look-back's two stores
    SELECT o.wid, o.hid, o.g,
           coalesce(sum(h.s) FILTER (
               (h.src = 'D' AND h.t >= o.l_start AND h.t + INTERVAL 1 DAY <= o.l_end)  -- daily row, whole day in L
            OR (h.src = 'B' AND h.t >= o.l_start AND h.t < o.l_end                      -- batch row in L, unless its day
                AND NOT (h.compacted                                                    -- is a compacted whole day in L
                         AND date_trunc('day', h.t) >= o.l_start
                         AND date_trunc('day', h.t) + INTERVAL 1 DAY <= o.l_end))), 0) AS seen
    FROM open_items AS o
    LEFT JOIN hist AS h USING (hid, g, pid, port)
    GROUP BY o.wid, o.hid, o.g, o.pid, o.port, o.l_start, o.l_end
),
novelty AS (   -- items with core > K are neither new nor rare, so only open items are counted
    SELECT wid, hid,
           count(*) FILTER (g = 1 AND seen = 0) AS new_peer_cnt,
           count(*) FILTER (g = 1 AND seen BETWEEN 1 AND getvariable('k_peer')) AS rare_peer_cnt,
           count(*) FILTER (g = 2 AND seen = 0) AS new_port_cnt,
           count(*) FILTER (g = 2 AND seen BETWEEN 1 AND getvariable('k_port')) AS rare_port_cnt,
           count(*) FILTER (g = 0 AND seen = 0) AS new_pair_cnt,
           count(*) FILTER (g = 0 AND seen BETWEEN 1 AND getvariable('k_pair')) AS rare_pair_cnt
    FROM seen
    GROUP BY wid, hid
),

-- ---------------------------------------------------------------- time context of each anchor
time_ctx AS (
    SELECT window_end_ts, hour(lt)::INTEGER AS hour_of_day, isodow(lt)::INTEGER AS day_of_week,
           (hour(lt) >= getvariable('work_start') AND hour(lt) < getvariable('work_end'))::INTEGER  AS is_working_hours,
           (hour(lt) >= getvariable('off_start')  AND hour(lt) < getvariable('off_end'))::INTEGER   AS is_off_hours,
           (hour(lt) >= getvariable('off_end')    OR  hour(lt) < getvariable('work_start'))::INTEGER AS is_night_hours,
           (isodow(lt) IN (SELECT dow FROM p_weekend_days))::INTEGER AS is_weekend,
           (lt::DATE   IN (SELECT d FROM p_holidays))::INTEGER       AS is_holiday
    FROM (SELECT window_end_ts, timezone(getvariable('tz'), timezone('UTC', window_end_ts)) AS lt FROM anchors)
)

SELECT
    s.host_ip, s.role, aw.window_label, aw.window_start_ts, aw.window_end_ts,
    hd.segment_id,
    concat_ws('|', s.host_ip, s.role, aw.window_label, strftime(aw.window_end_ts, '%Y-%m-%dT%H:%M:%SZ')) AS record_id,
    s.sessions_cnt, s.allow_cnt, s.deny_cnt, s.alert_cnt, s.rst_cnt, s.aged_out_cnt, s.zero_reply_cnt,
    s.short_session_cnt, s.bytes_src_sum, s.bytes_dst_sum, s.duration_sum,
    s.tcp_cnt, s.udp_cnt, s.icmp_cnt, s.threat_cnt, s.traffic_cnt,
    COLUMNS('_port_sessions_cnt$'),                     -- only s_w has such columns
    s.max_sessions_per_minute,
    s.duration_sum  / (s.sessions_cnt + getvariable('eps_a'))  AS duration_mean,
    s.deny_cnt      / (s.sessions_cnt + getvariable('eps_a'))  AS deny_ratio,
    s.bytes_src_sum / (s.bytes_dst_sum + getvariable('eps_a')) AS bytes_asymmetry_ratio,
    s.tcp_cnt       / (s.sessions_cnt + getvariable('eps_a'))  AS transport_tcp_ratio,
    s.udp_cnt       / (s.sessions_cnt + getvariable('eps_a'))  AS transport_udp_ratio,
    s.icmp_cnt      / (s.sessions_cnt + getvariable('eps_a'))  AS transport_icmp_ratio,
    (s.high_risk_port_sessions_cnt > 0)::INTEGER AS has_high_risk_port_activity,
    coalesce(pf.n, 0)::BIGINT                    AS peer_ip_nunique,
    coalesce(tf.n, 0)::BIGINT                    AS peer_port_nunique,
    coalesce(sf.peer_segment_nunique, 0)::BIGINT AS peer_segment_nunique,
    CASE WHEN pf.n = 1 THEN 0 WHEN pf.n > 1 THEN greatest(ln(pf.s) - pf.sls / pf.s, 0) END::DOUBLE AS peer_ip_entropy,
    CASE WHEN tf.n = 1 THEN 0 WHEN tf.n > 1 THEN greatest(ln(tf.s) - tf.sls / tf.s, 0) END::DOUBLE AS peer_port_entropy,
    (pf.top_s / (pf.s + getvariable('eps_a')))::DOUBLE AS peer_ip_top1_sessions_share,
    (tf.top_s / (tf.s + getvariable('eps_a')))::DOUBLE AS peer_port_top1_sessions_share,
    (pf.top_b / (pf.b + getvariable('eps_a')))::DOUBLE AS peer_ip_top1_bytes_share,
    (tf.top_b / (tf.b + getvariable('eps_a')))::DOUBLE AS peer_port_top1_bytes_share,
    coalesce(sf.high_risk_segment_sessions_cnt, 0)::BIGINT        AS high_risk_segment_sessions_cnt,
    coalesce(sf.high_risk_segment_unique_peers, 0)::BIGINT        AS high_risk_segment_unique_peers,
    (coalesce(sf.high_risk_segment_sessions_cnt, 0) > 0)::INTEGER AS has_high_risk_segment_interaction,
    CASE WHEN getvariable('novelty_enabled') THEN coalesce(nv.new_peer_cnt, 0) END::BIGINT  AS new_peer_cnt,
    CASE WHEN getvariable('novelty_enabled') THEN coalesce(nv.rare_peer_cnt, 0) END::BIGINT AS rare_peer_cnt,
    CASE WHEN getvariable('novelty_enabled')
         THEN coalesce(nv.new_peer_cnt, 0) / (coalesce(pf.n, 0) + getvariable('eps_a')) END::DOUBLE AS new_peer_ratio,
    CASE WHEN getvariable('novelty_enabled') THEN coalesce(nv.new_port_cnt, 0) END::BIGINT  AS new_port_cnt,
    CASE WHEN getvariable('novelty_enabled') THEN coalesce(nv.rare_port_cnt, 0) END::BIGINT AS rare_port_cnt,
    CASE WHEN getvariable('novelty_enabled') THEN coalesce(nv.new_pair_cnt, 0) END::BIGINT  AS new_pair_cnt,
    CASE WHEN getvariable('novelty_enabled') THEN coalesce(nv.rare_pair_cnt, 0) END::BIGINT AS rare_pair_cnt,
    tc.hour_of_day, tc.day_of_week, tc.is_working_hours, tc.is_off_hours, tc.is_night_hours,
    tc.is_weekend, tc.is_holiday,
    greatest(tc.is_weekend, tc.is_holiday) AS is_offday,
    CASE WHEN tc.is_working_hours = 1 AND greatest(tc.is_weekend, tc.is_holiday) = 0
         THEN 'working_hours' ELSE 'off_hours' END AS time_band,
    strftime(aw.window_end_ts - INTERVAL 15 MINUTE, '%Y-%m-%d')     AS dt,
    strftime(aw.window_end_ts - INTERVAL 15 MINUTE, '%H')           AS hh,
    strftime(aw.window_end_ts - INTERVAL 15 MINUTE, '%M')           AS mm,
    strftime(aw.window_end_ts - INTERVAL 15 MINUTE, '%Y%m%dT%H%MZ') AS mini_batch_id,
    getvariable('feature_spec_version')::VARCHAR AS feature_spec_version
FROM s_w AS s
JOIN aw                 USING (wid)
JOIN time_ctx AS tc     USING (window_end_ts)
LEFT JOIN host_ids AS h USING (host_ip, role)
LEFT JOIN peer_feats    AS pf ON pf.wid = s.wid AND pf.hid = h.hid
LEFT JOIN port_feats    AS tf ON tf.wid = s.wid AND tf.hid = h.hid
LEFT JOIN segment_feats AS sf ON sf.wid = s.wid AND sf.hid = h.hid
LEFT JOIN novelty       AS nv ON nv.wid = s.wid AND nv.hid = h.hid
LEFT JOIN ip_dim        AS hd ON hd.ip = s.host_ip
ORDER BY aw.window_end_ts, s.host_ip, s.role, aw.minutes
