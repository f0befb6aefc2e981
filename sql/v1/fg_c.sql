-- fg_c (feature_spec_version v1) — FEATURES.md §7: FG-A rows scored against their FG-B baselines.
--
-- Purpose: for each FG-A row and each baseline horizon, route to the host or segment baseline
--   (§7.1), compute the per-metric transforms (§7.2), the explainable row scores (§7.3) and the
--   pair rarity summary (§7.4).
--
-- Inputs:
--   fg_a_in              view, grain (host_ip, role, window_label, window_end_ts): the FG-A rows
--                        of the anchors being built (docs/CONTRACTS.md fg_a).
--   p_batch_baselines    (window_end_ts, baseline_horizon, baseline_reference_date,
--                        baseline_start_ts, baseline_end_ts, has_baseline), one row per anchor x
--                        horizon: the FG-B partition that applies (has_baseline false only with
--                        --allow-missing-baseline).
--   fgb_host_in, fgb_segment_in, fgb_ip_metadata_in, fgb_pair_host_in, fgb_pair_segment_in
--                        views over the FG-B partitions referenced (all horizons / reference
--                        dates unioned; matched on baseline_horizon and reference_date). They
--                        must have the FG-B schema even when empty.
--   delta_peers_in       view, grain (host_ip, role, peer_ip, peer_port, batch): delta_peers
--                        rows with slice_end_ts in (T - w_max, T] for the anchors T.
--   ip_dim               (ip, is_valid, is_internal, segment_id): segment_id of a pair's src.
--   p_windows            (window_label, minutes): not read; P_w is taken as
--                        window_start_ts < slice_end_ts <= window_end_ts of the FG-A row
--                        (window_start_ts = T - w by the FG-A contract).
--   p_fgc_metrics        (metric, scale_floor) — row order (rowid) = output metric order;
--                        scale_floor NULL = the family default of §7.2 (expressed below).
--   p_score_families     (score, metric) — score column order = first appearance (rowid).
--   p_fgc_transforms     (transform) — subset of the ten transforms; output order is the
--                        canonical order below, whatever the table's order.
-- Parameters: none (a PIVOT whose value list is a subquery cannot carry bound parameters
--   inside CREATE TABLE AS; its value list may only read tables, not CTEs).
-- How: no long form. x (FG-A) and the routed FG-B <m>_median/_mad/_iqr/_p95 are renamed to
--   the metric names and stacked (UNION ALL BY NAME under a row of per-metric constants, which
--   fixes one column order), each stacked row becomes a list by metric position, and one
--   COLUMNS() expression repeated identically (so it expands in lockstep) turns the lists into
--   one STRUCT column per metric; the transforms are computed on every metric's struct by one
--   COLUMNS() expression, and each transform is pulled out of every struct with one more. The
--   selected <m>_<t> columns are kept by name (variable fgc_selected_cols). Scores and top
--   contributors work on each row's list of z_mad_clipped; families are PIVOTed by score.
-- Variables:  eps, z_max, strong_z, rarity_threshold, feature_spec_version; fgc_metrics (the FG-C
--   metrics in p_fgc_metrics order) and fgc_selected_cols, set by the runner from the tables.
-- Output grain: (host_ip, role, window_label, window_end_ts, baseline_horizon).
-- Columns (the runner writes them in this order; the query's own order groups transforms):
--   host_ip, role, window_label VARCHAR, window_start_ts, window_end_ts TIMESTAMP,
--   baseline_horizon VARCHAR,
--   <m>_<t> DOUBLE for each metric m (p_fgc_metrics order) and each selected transform t in the
--     order diff, z_mad, abs_dev_over_scale, z_mad_clipped, z_mad_signed_pow3, ratio, log_ratio,
--     excess_over_p95, excess_ratio_p95, iqr_dev,
--   one DOUBLE column per score family (anomaly_strength_core, beacon_suspicion_score,
--     exfiltration_suspicion_score, lateral_movement_score by default),
--   anomaly_score DOUBLE, strong_deviation_cnt BIGINT, top_contributors VARCHAR,
--   pair_rarity_mean, pair_rarity_max DOUBLE, rare_pair_cnt, unseen_pair_cnt BIGINT,
--   baseline_source, baseline_reference_date VARCHAR, baseline_start_ts, baseline_end_ts TIMESTAMP,
--   is_cold_start INTEGER, segment_id, time_band, record_id, dt, hh, mm, mini_batch_id,
--   feature_spec_version VARCHAR.
--
-- Formulas (§7.2), with x the FG-A value and med/mad/iqr/p95 the routed statistics:
--   scale = COALESCE(NULLIF(mad, 0), iqr)            (unfloored, seed bug class 8)
--   z_scale = greatest(COALESCE(NULLIF(mad, 0), NULLIF(iqr, 0), 0), scale_floor(m))
--   diff = x - med; z_mad = (x - med) / (z_scale + eps); abs_dev_over_scale = |x - med| / (scale + eps)
--   z_mad_clipped = least(greatest(z_mad, -z_max), z_max); z_mad_signed_pow3 = sign(c) * |c|^3
--   ratio = x / (med + eps); log_ratio = ln(ratio + eps); excess_over_p95 = greatest(x - p95, 0)
--   excess_ratio_p95 = x / (p95 + eps); iqr_dev = (x - med) / (iqr + eps)
--
-- Choices where FEATURES.md is silent:
--   * NULL guards: any NULL operand gives NULL (greatest/least are guarded because DuckDB's
--     ignore NULLs); z_scale is NULL when mad or iqr is NULL; ln of a non-positive value is
--     NULL; a division whose denominator is exactly 0 gives NULL, not ±Infinity.
--   * Family default floors: ^bytes_.*_sum$ 4096, ^duration_ 5, _(ratio|share|entropy)$ 0.05,
--     otherwise 1, tested in that order.
--   * A score family none of whose metrics has a value (or whose metrics are not FG-C
--     metrics) is NULL. strong_deviation_cnt is 0 when no metric has a z (a count over an
--     empty set), including baseline_source 'none' rows.
--   * top_contributors: ranked by |z_mad_clipped| descending, then metric name ascending; z is
--     the signed z_mad_clipped, rounded half away from zero on its shortest decimal
--     representation (DOUBLE -> VARCHAR -> DECIMAL), so 2.345 prints 2.35 and -2.345 -2.35;
--     a value that rounds to zero prints 0.00 (never -0.00).
--   * Pair summary: pairs with a NULL peer_ip are ignored like those with a NULL or <= 0
--     port (pair_counts holds neither). A cold row's pair whose src has no segment_id in
--     ip_dim is unseen. The lookup table follows is_cold_start (pair_host
--     when 0, pair_segment when 1), even when the row's statistics source is 'none'. A window
--     with no pair has NULL mean/max and 0 counts; the summary is NULL only when
--     has_baseline is false.
--   * is_cold_start is coalesce(meta.is_cold_start, 1), so 1 when the batch has no baseline.
--   * A FG-C metric that is not a numeric FG-A column, or has no <m>_median column in the
--     FG-B host/segment views, is an error.
--   * record_id renders window_end_ts as YYYY-MM-DDTHH:MM:SSZ; dt/hh/mm are of
--     window_end_ts - 15 minutes (the batch start), as in fg_a; mini_batch_id comes from fg_a.
WITH
-- ---------------------------------------------------------------------------------- guards
fga_metric_columns AS (
    SELECT column_name AS metric FROM duckdb_columns()
    WHERE table_name = 'fg_a_in' AND numeric_precision IS NOT NULL
),
guard AS (
    SELECT CASE WHEN count(*) = 0 THEN true
                ELSE error('fg_c: metrics missing from FG-A (numeric column) or FG-B (<m>_median): '
                           || string_agg(metric, ', ' ORDER BY metric)) END AS ok
    FROM p_fgc_metrics
    WHERE metric NOT IN (SELECT metric FROM fga_metric_columns)
       OR metric || '_median' NOT IN (SELECT column_name FROM duckdb_columns() WHERE table_name = 'fgb_host_in')
       OR metric || '_median' NOT IN (SELECT column_name FROM duckdb_columns() WHERE table_name = 'fgb_segment_in')
),
-- ---------------------------------------------------------------------- metric metadata
metrics AS (
    SELECT metric,
           rowid AS m_ord,
           coalesce(scale_floor,
                    CASE WHEN regexp_matches(metric, '^bytes_.*_sum$')            THEN 4096.0
                         WHEN regexp_matches(metric, '^duration_')                 THEN 5.0
                         WHEN regexp_matches(metric, '_(ratio|share|entropy)$')    THEN 0.05
                         ELSE 1.0 END)::DOUBLE AS scale_floor
    FROM p_fgc_metrics
),
-- ------------------------------------------------------------------------- rows + routing
anchor_rows AS MATERIALIZED (
    SELECT row_number() OVER () AS rid,
           a.host_ip, a.role, a.window_label, a.window_start_ts, a.window_end_ts,
           a.segment_id, a.time_band, a.mini_batch_id,
           b.baseline_horizon, b.baseline_reference_date, b.baseline_start_ts, b.baseline_end_ts,
           b.has_baseline,
           CASE WHEN b.has_baseline THEN coalesce(m.is_cold_start, 1) ELSE 1 END::INTEGER AS is_cold_start,
           CASE WHEN NOT b.has_baseline THEN 'none'
                WHEN coalesce(m.is_cold_start, 1) = 0 THEN CASE WHEN h.present THEN 'host' ELSE 'none' END
                ELSE CASE WHEN s.present THEN 'segment' ELSE 'none' END
           END AS baseline_source
    FROM fg_a_in a
    JOIN p_batch_baselines b ON b.window_end_ts = a.window_end_ts
    -- Equality-only join conditions keep these hash joins (has_baseline is applied above).
    LEFT JOIN fgb_ip_metadata_in m
      ON m.baseline_horizon = b.baseline_horizon AND m.reference_date = b.baseline_reference_date
     AND m.host_ip = a.host_ip AND m.role = a.role AND m.segment_id IS NOT DISTINCT FROM a.segment_id
     AND m.time_band = a.time_band AND m.window_label = a.window_label
    LEFT JOIN (SELECT DISTINCT host_ip, role, segment_id, time_band, window_label, baseline_horizon,
                      reference_date, true AS present FROM fgb_host_in) h
      ON h.baseline_horizon = b.baseline_horizon AND h.reference_date = b.baseline_reference_date
     AND h.host_ip = a.host_ip AND h.role = a.role AND h.segment_id IS NOT DISTINCT FROM a.segment_id
     AND h.time_band = a.time_band AND h.window_label = a.window_label
    LEFT JOIN (SELECT DISTINCT segment_id, role, time_band, window_label, baseline_horizon,
                      reference_date, true AS present FROM fgb_segment_in) s
      ON s.baseline_horizon = b.baseline_horizon AND s.reference_date = b.baseline_reference_date
     AND s.segment_id IS NOT DISTINCT FROM a.segment_id AND s.role = a.role
     AND s.time_band = a.time_band AND s.window_label = a.window_label
    WHERE (SELECT ok FROM guard)
),
-- ------------------------------------------- per-metric inputs as lists in one metric order
-- x and the four statistics come from relations whose columns are named by metric (the
-- statistics renamed from <m>_median etc.), in different column orders. Stacking them under
-- metric_consts (whose columns are in p_fgc_metrics order) with UNION ALL BY NAME puts every
-- row's metric columns in that one order, so list_value(*COLUMNS(...)) of any row lists its
-- values by metric position (m_ord + 1). Nothing is unpivoted to long form.
x_rows AS (
    SELECT r.rid, 0 AS k, COLUMNS(c -> list_contains(getvariable('fgc_metrics'), c))::DOUBLE
    FROM anchor_rows r
    JOIN fg_a_in a
      ON a.host_ip = r.host_ip AND a.role = r.role AND a.window_label = r.window_label
     AND a.window_end_ts = r.window_end_ts
),
-- The routed FG-B statistics row of each FG-C row (host or segment), wide.
routed_stats AS (
    SELECT r.rid, COLUMNS('_(median|mad|iqr|p95)$')
    FROM anchor_rows r
    JOIN fgb_host_in h
      ON r.baseline_source = 'host'
     AND h.baseline_horizon = r.baseline_horizon AND h.reference_date = r.baseline_reference_date
     AND h.host_ip = r.host_ip AND h.role = r.role AND h.segment_id IS NOT DISTINCT FROM r.segment_id
     AND h.time_band = r.time_band AND h.window_label = r.window_label
    UNION ALL BY NAME
    SELECT r.rid, COLUMNS('_(median|mad|iqr|p95)$')
    FROM anchor_rows r
    JOIN fgb_segment_in s
      ON r.baseline_source = 'segment'
     AND s.baseline_horizon = r.baseline_horizon AND s.reference_date = r.baseline_reference_date
     AND s.segment_id IS NOT DISTINCT FROM r.segment_id AND s.role = r.role
     AND s.time_band = r.time_band AND s.window_label = r.window_label
),
-- One row per constant, a column per metric: k = 5 scale floor, 6 list position (m_ord),
-- 7 alphabetical rank of the name (the tie-break of top_contributors).
metric_consts AS (
    PIVOT (SELECT metric, 5 AS k, scale_floor AS v FROM metrics
           UNION ALL SELECT metric, 6 AS k, m_ord::DOUBLE AS v FROM metrics
           UNION ALL SELECT metric, 7 AS k, (row_number() OVER (ORDER BY metric))::DOUBLE AS v FROM metrics)
    ON metric IN (SELECT metric FROM p_fgc_metrics ORDER BY rowid)
    USING first(v)
    GROUP BY k
),
kind_lists AS (
    SELECT rid, k, list_value(*COLUMNS(c -> list_contains(getvariable('fgc_metrics'), c))) AS vals
    FROM (
        FROM metric_consts
        UNION ALL BY NAME FROM x_rows
        UNION ALL BY NAME SELECT rid, 1 AS k, COLUMNS('^(.+)_median$')::DOUBLE AS '\1' FROM routed_stats
        UNION ALL BY NAME SELECT rid, 2 AS k, COLUMNS('^(.+)_mad$')::DOUBLE AS '\1' FROM routed_stats
        UNION ALL BY NAME SELECT rid, 3 AS k, COLUMNS('^(.+)_iqr$')::DOUBLE AS '\1' FROM routed_stats
        UNION ALL BY NAME SELECT rid, 4 AS k, COLUMNS('^(.+)_p95$')::DOUBLE AS '\1' FROM routed_stats
    )
),
-- A row without a routed baseline has no statistics lists: its statistics are NULL.
row_lists AS (
    SELECT rid,
           first(vals) FILTER (WHERE k = 0) AS xs,
           first(vals) FILTER (WHERE k = 1) AS meds,
           first(vals) FILTER (WHERE k = 2) AS mads,
           first(vals) FILTER (WHERE k = 3) AS iqrs,
           first(vals) FILTER (WHERE k = 4) AS p95s
    FROM kind_lists
    WHERE rid IS NOT NULL
    GROUP BY rid
),
-- ----------------------------------------------------------------------------- transforms
-- One struct column per metric, named by metric: the k = 6 row holds each metric's list
-- position, so one COLUMNS() expression (repeated identically, so it expands in lockstep)
-- picks every metric's elements. From here on every step is columnar, per metric.
per_metric AS (
    SELECT rid,
           {'x':     xs[COLUMNS(* EXCLUDE (rid, xs, meds, mads, iqrs, p95s, floors))::BIGINT + 1],
            'med':   meds[COLUMNS(* EXCLUDE (rid, xs, meds, mads, iqrs, p95s, floors))::BIGINT + 1],
            'mad':   mads[COLUMNS(* EXCLUDE (rid, xs, meds, mads, iqrs, p95s, floors))::BIGINT + 1],
            'iqr':   iqrs[COLUMNS(* EXCLUDE (rid, xs, meds, mads, iqrs, p95s, floors))::BIGINT + 1],
            'p95':   p95s[COLUMNS(* EXCLUDE (rid, xs, meds, mads, iqrs, p95s, floors))::BIGINT + 1],
            'floor': floors[COLUMNS(* EXCLUDE (rid, xs, meds, mads, iqrs, p95s, floors))::BIGINT + 1],
            'ord':   COLUMNS(* EXCLUDE (rid, xs, meds, mads, iqrs, p95s, floors))::BIGINT}
    FROM (
        SELECT l.*, f.floors, o.* EXCLUDE (k)
        FROM row_lists l
        CROSS JOIN (SELECT vals AS floors FROM kind_lists WHERE k = 5) f
        CROSS JOIN (FROM metric_consts WHERE k = 6) o
    )
),
-- `[v].apply(lambda v: struct_insert(v, ...))[1]` names each metric's struct v and adds
-- intermediates (scale, z_scale, then z_mad, ratio, then z_mad_clipped) for the steps after it.
scaled AS (
    SELECT rid,
        [COLUMNS(* EXCLUDE rid)].apply(lambda v: struct_insert(v,
            scale := COALESCE(NULLIF(v.mad, 0), v.iqr),
            z_scale := CASE WHEN v.mad IS NULL OR v.iqr IS NULL THEN NULL
                            ELSE greatest(COALESCE(NULLIF(v.mad, 0), NULLIF(v.iqr, 0), 0), v.floor) END))[1]
    FROM per_metric
),
standardized AS (
    SELECT rid,
        [COLUMNS(* EXCLUDE rid)]
        .apply(lambda v: struct_insert(v,
            z_mad := (v.x - v.med) / NULLIF(v.z_scale + getvariable('eps')::DOUBLE, 0),
            ratio := v.x / NULLIF(v.med + getvariable('eps')::DOUBLE, 0)))
        .apply(lambda v: struct_insert(v,
            z_mad_clipped := CASE WHEN v.z_mad IS NULL THEN NULL
                                  ELSE least(greatest(v.z_mad, -getvariable('z_max')::DOUBLE), getvariable('z_max')::DOUBLE) END))[1]
    FROM scaled
),
-- Every metric's ten transforms (§7.2), and its position for the scores.
t_struct AS (
    SELECT rid AS _rid,
        [COLUMNS(* EXCLUDE rid)].apply(lambda v: {
            'diff':               v.x - v.med,
            'z_mad':              v.z_mad,
            'abs_dev_over_scale': abs(v.x - v.med) / NULLIF(v.scale + getvariable('eps')::DOUBLE, 0),
            'z_mad_clipped':      v.z_mad_clipped,
            'z_mad_signed_pow3':  sign(v.z_mad_clipped) * pow(abs(v.z_mad_clipped), 3),
            'ratio':              v.ratio,
            'log_ratio':          CASE WHEN v.ratio + getvariable('eps')::DOUBLE > 0 THEN ln(v.ratio + getvariable('eps')::DOUBLE) END,
            'excess_over_p95':    CASE WHEN v.x IS NULL OR v.p95 IS NULL THEN NULL ELSE greatest(v.x - v.p95, 0) END,
            'excess_ratio_p95':   v.x / NULLIF(v.p95 + getvariable('eps')::DOUBLE, 0),
            'iqr_dev':            (v.x - v.med) / NULLIF(v.iqr + getvariable('eps')::DOUBLE, 0),
            'ord':                v.ord})[1]
    FROM standardized
),
-- Wide output: each transform is pulled out of every metric's struct with one COLUMNS()
-- expression. The JobSpec's subset is kept by name (variable fgc_selected_cols, the declared
-- <m>_<t> columns); the runner orders columns.
t_all AS (
    SELECT _rid,
           struct_extract(COLUMNS('^([a-z][a-z0-9_]*)$'), 'diff')               AS '\1_diff',
           struct_extract(COLUMNS('^([a-z][a-z0-9_]*)$'), 'z_mad')              AS '\1_z_mad',
           struct_extract(COLUMNS('^([a-z][a-z0-9_]*)$'), 'abs_dev_over_scale') AS '\1_abs_dev_over_scale',
           struct_extract(COLUMNS('^([a-z][a-z0-9_]*)$'), 'z_mad_clipped')      AS '\1_z_mad_clipped',
           struct_extract(COLUMNS('^([a-z][a-z0-9_]*)$'), 'z_mad_signed_pow3')  AS '\1_z_mad_signed_pow3',
           struct_extract(COLUMNS('^([a-z][a-z0-9_]*)$'), 'ratio')              AS '\1_ratio',
           struct_extract(COLUMNS('^([a-z][a-z0-9_]*)$'), 'log_ratio')          AS '\1_log_ratio',
           struct_extract(COLUMNS('^([a-z][a-z0-9_]*)$'), 'excess_over_p95')    AS '\1_excess_over_p95',
           struct_extract(COLUMNS('^([a-z][a-z0-9_]*)$'), 'excess_ratio_p95')   AS '\1_excess_ratio_p95',
           struct_extract(COLUMNS('^([a-z][a-z0-9_]*)$'), 'iqr_dev')            AS '\1_iqr_dev'
    FROM t_struct
),
t_wide AS (
    SELECT _rid AS rid, COLUMNS(c -> list_contains(getvariable('fgc_selected_cols'), c))::DOUBLE
    FROM t_all
),
-- --------------------------------------------------------------------------------- scores
-- Each row's metrics with a z, ranked by |z| descending then metric name ascending (the
-- names' alphabetical rank, k = 7, stands in for the names until the top three are printed).
metric_z AS (
    SELECT _rid AS rid, list_value(*COLUMNS('^([a-z][a-z0-9_]*)$')) AS per_metric FROM t_struct
),
ranked AS (
    SELECT z.rid,
           list_sort(list_filter(z.per_metric, lambda s: s.z_mad_clipped IS NOT NULL)
                     .apply(lambda s: {'neg_az': -abs(s.z_mad_clipped), 'alpha': a.alpha[s.ord + 1],
                                       'ord': s.ord, 'z': s.z_mad_clipped})) AS zl
    FROM metric_z z
    CROSS JOIN (SELECT vals AS alpha FROM kind_lists WHERE k = 7) a
),
family_ords AS (
    SELECT f.score, list(m.m_ord) AS ords
    FROM p_score_families f JOIN metrics m ON m.metric = f.metric
    GROUP BY f.score
),
family_scores AS (
    SELECT r.rid, f.score,
           list_max(list_filter(r.zl, lambda e: list_contains(f.ords, e.ord)).apply(lambda e: -e.neg_az)) AS v
    FROM ranked r CROSS JOIN family_ords f
),
scores_wide AS (
    PIVOT family_scores
    ON score IN (SELECT score FROM p_score_families GROUP BY score ORDER BY min(rowid))
    USING first(v)
    GROUP BY rid
),
-- Formatting is costly: only the three contributors of each row are printed.
row_scores AS (
    SELECT rid,
           list_avg(list_transform(zl[1:3], lambda e: -e.neg_az)) AS anomaly_score,
           len(list_filter(zl, lambda e: -e.neg_az >= getvariable('strong_z')::DOUBLE)) AS strong_deviation_cnt,
           CASE WHEN len(zl) > 0 THEN
               array_to_string(list_transform(zl[1:3], lambda e: getvariable('fgc_metrics')[e.ord + 1] || ':' || (e.z::VARCHAR::DECIMAL(38, 18))::DECIMAL(38, 2)::VARCHAR), ';')
           END AS top_contributors
    FROM ranked
),
-- ----------------------------------------------------------------------- pair rarity (§7.4)
anchor_spans AS (
    SELECT window_end_ts AS t_end, min(window_start_ts) AS t_start
    FROM fg_a_in GROUP BY window_end_ts
),
-- Latest slice of each (host, role, peer, port) up to each anchor: a pair is in P_w iff
-- that slice ends after the window start.
peer_last AS (
    SELECT p.host_ip, p.role, p.peer_ip, p.peer_port, s.t_end, max(p.slice_end_ts) AS last_end
    FROM delta_peers_in p
    JOIN anchor_spans s ON p.slice_end_ts <= s.t_end AND p.slice_end_ts > s.t_start
    WHERE p.peer_port > 0 AND p.peer_ip IS NOT NULL
    GROUP BY p.host_ip, p.role, p.peer_ip, p.peer_port, s.t_end
),
pairs AS (
    SELECT r.rid, r.is_cold_start, r.baseline_horizon, r.baseline_reference_date,
           CASE WHEN r.role = 'inbound' THEN pl.peer_ip ELSE r.host_ip END AS src_ip,
           CASE WHEN r.role = 'inbound' THEN r.host_ip ELSE pl.peer_ip END AS dst_ip,
           pl.peer_port AS dst_port
    FROM anchor_rows r
    JOIN peer_last pl
      ON pl.host_ip = r.host_ip AND pl.role = r.role AND pl.t_end = r.window_end_ts
     AND pl.last_end > r.window_start_ts
    WHERE r.has_baseline
),
pair_keys AS (
    SELECT p.*, d.segment_id AS src_segment_id
    FROM pairs p
    LEFT JOIN ip_dim d ON d.ip = p.src_ip
),
pair_scores AS (
    -- Warm rows look up pair_host, cold rows pair_segment; the key of the other table is
    -- NULL so it never matches (equality-only conditions keep these hash joins).
    SELECT k.rid, coalesce(ph.pair_rarity_score, ps.pair_rarity_score) AS found
    FROM pair_keys k
    LEFT JOIN fgb_pair_host_in ph
      ON ph.baseline_horizon = k.baseline_horizon AND ph.reference_date = k.baseline_reference_date
     AND ph.src_ip = CASE WHEN k.is_cold_start = 0 THEN k.src_ip END
     AND ph.dst_ip = k.dst_ip AND ph.dst_port = k.dst_port
    LEFT JOIN fgb_pair_segment_in ps
      ON ps.baseline_horizon = k.baseline_horizon AND ps.reference_date = k.baseline_reference_date
     AND ps.segment_id = CASE WHEN k.is_cold_start = 1 THEN k.src_segment_id END
     AND ps.dst_ip = k.dst_ip AND ps.dst_port = k.dst_port
),
pair_summary AS (
    SELECT rid,
           avg(coalesce(found, 1.0)) AS pair_rarity_mean,
           max(coalesce(found, 1.0)) AS pair_rarity_max,
           count(*) FILTER (WHERE coalesce(found, 1.0) >= getvariable('rarity_threshold')::DOUBLE) AS rare_pair_cnt,
           count(*) FILTER (WHERE found IS NULL) AS unseen_pair_cnt
    FROM pair_scores
    GROUP BY rid
)
-- ---------------------------------------------------------------------------------- output
SELECT r.host_ip, r.role, r.window_label, r.window_start_ts, r.window_end_ts, r.baseline_horizon,
       tw.* EXCLUDE (rid),
       sw.* EXCLUDE (rid),
       rs.anomaly_score,
       coalesce(rs.strong_deviation_cnt, 0) AS strong_deviation_cnt,
       rs.top_contributors,
       ps.pair_rarity_mean::DOUBLE AS pair_rarity_mean,
       ps.pair_rarity_max::DOUBLE AS pair_rarity_max,
       CASE WHEN r.has_baseline THEN coalesce(ps.rare_pair_cnt, 0) END AS rare_pair_cnt,
       CASE WHEN r.has_baseline THEN coalesce(ps.unseen_pair_cnt, 0) END AS unseen_pair_cnt,
       r.baseline_source,
       r.baseline_reference_date,
       r.baseline_start_ts,
       r.baseline_end_ts,
       r.is_cold_start,
       r.segment_id,
       r.time_band,
       concat_ws('|', r.host_ip, r.role, r.window_label, strftime(r.window_end_ts, '%Y-%m-%dT%H:%M:%SZ'),
                 r.baseline_horizon) AS record_id,
       strftime(r.window_end_ts - INTERVAL 15 MINUTE, '%Y-%m-%d') AS dt,
       strftime(r.window_end_ts - INTERVAL 15 MINUTE, '%H') AS hh,
       strftime(r.window_end_ts - INTERVAL 15 MINUTE, '%M') AS mm,
       r.mini_batch_id,
       getvariable('feature_spec_version')::VARCHAR AS feature_spec_version
FROM anchor_rows r
LEFT JOIN t_wide tw ON tw.rid = r.rid
LEFT JOIN scores_wide sw ON sw.rid = r.rid
LEFT JOIN row_scores rs ON rs.rid = r.rid
LEFT JOIN pair_summary ps ON ps.rid = r.rid
