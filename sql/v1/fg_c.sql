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
--   p_score_families     (score, metric): not read here; see fgc_positions.
--   fgc_positions        one row from fg_c_positions.sql: _p_<metric> (position) and
--                        _fam_<score> (positions of the family's metrics) columns.
--   p_fgc_transforms     (transform, selected): not read here; see fg_c_variables.sql.
--                        Output order is the runner's (canonical) order.
-- Parameters: none (the runner reads this template as a view, which cannot hold parameters).
-- How: nothing is unpivoted per FG-C row. Each row's x values and its routed FG-B statistics
--   travel as lists indexed by metric position (p_fgc_metrics order): each source's columns are
--   listed with one COLUMNS() selection and reordered by a permutation read from the catalogue,
--   so metrics are matched by name whatever the column orders. The statistics lists are built
--   once per FG-B row used (not per FG-C row), with scale and z_scale computed there in long
--   form. z_mad and its clipped value are list lambdas; each output column <m>_<t> is one
--   COLUMNS() expression over the per-metric position columns _p_<m> (repeated identically
--   within an expression, so it expands in lockstep), and each score family one COLUMNS()
--   expression over its metrics' positions _fam_<score>.
-- Variables:  eps, z_max, strong_z, rarity_threshold, feature_spec_version; fgc_metrics (the FG-C
--   metrics in p_fgc_metrics order) and fgc_unselected_cols (the <m>_<t> columns of the
--   transforms the JobSpec did not select), set from the tables by fg_c_variables.sql.
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
--   * P_w is read from delta_peers slices whose slice_end_ts is one of the 15-minute batch ends in
--     (T - w_max, T]: slices are batches and window lengths are multiples of 15 minutes (the
--     JobSpec schema enforces it), so this equals window_start_ts < slice_end_ts <= T.
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
           rowid + 1 AS pos,
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
-- ------------------------------------------------ per-metric values as lists in metric order
-- Every per-metric value travels as a list indexed by the metric's position `pos` (its
-- p_fgc_metrics order, 1-based); nothing is unpivoted per FG-C row. A COLUMNS() selection
-- yields columns in its relation's own order, so each source's list is reordered with
-- list_permute() (_macros_lists.sql) by a permutation read from the catalogue (the
-- position of each metric's column among the columns that same selection yields; the
-- segment statistics take the host view's order, see baseline_stats).
source_columns AS (
    SELECT table_name, column_index, stat,
           CASE WHEN stat = 'x' THEN column_name
                ELSE left(column_name, length(column_name) - length(stat) - 1) END AS metric
    FROM (SELECT table_name, column_index, column_name,
                 CASE WHEN table_name = 'fg_a_in' THEN 'x'
                      ELSE regexp_extract(column_name, '_(median|mad|iqr|p95)$', 1) END AS stat
          FROM duckdb_columns()
          WHERE table_name IN ('fg_a_in', 'fgb_host_in'))
    WHERE stat <> ''
),
source_positions AS (
    SELECT table_name, stat, metric,
           row_number() OVER (PARTITION BY table_name, stat ORDER BY column_index) AS src_pos
    FROM source_columns
    WHERE list_contains(getvariable('fgc_metrics'), metric)
),
perms AS (
    SELECT list(s.src_pos ORDER BY m.pos) FILTER (WHERE s.table_name = 'fg_a_in')                           AS x_perm,
           list(s.src_pos ORDER BY m.pos) FILTER (WHERE s.table_name = 'fgb_host_in' AND s.stat = 'median') AS median_perm,
           list(s.src_pos ORDER BY m.pos) FILTER (WHERE s.table_name = 'fgb_host_in' AND s.stat = 'mad')    AS mad_perm,
           list(s.src_pos ORDER BY m.pos) FILTER (WHERE s.table_name = 'fgb_host_in' AND s.stat = 'iqr')    AS iqr_perm,
           list(s.src_pos ORDER BY m.pos) FILTER (WHERE s.table_name = 'fgb_host_in' AND s.stat = 'p95')    AS p95_perm
    FROM source_positions s JOIN metrics m ON m.metric = s.metric
),
-- Per-metric constants as lists: by position, the position itself and the scale floor; in
-- metric-name order (the tie-break of top_contributors), the positions and the names.
metric_lists AS (
    SELECT list(pos ORDER BY pos) AS positions, list(scale_floor ORDER BY pos) AS floors,
           list(pos ORDER BY metric) AS positions_by_name, list(metric ORDER BY metric) AS names_by_name
    FROM metrics
),
x_lists AS (
    SELECT host_ip, role, window_label, window_end_ts, list_permute(xs_src, p.x_perm) AS xs
    FROM (SELECT host_ip, role, window_label, window_end_ts,
                 list_value(*COLUMNS(c -> list_contains(getvariable('fgc_metrics'), c)))::DOUBLE[] AS xs_src
          FROM fg_a_in)
    CROSS JOIN perms p
),
-- The FG-B rows the anchor rows are routed to, each once (a pass has many anchors per
-- baseline row), with its statistics as lists.
used_baselines AS MATERIALIZED (
    SELECT row_number() OVER () AS bid, *
    FROM (SELECT DISTINCT baseline_source, baseline_horizon, baseline_reference_date,
                 CASE WHEN baseline_source = 'host' THEN host_ip END AS host_ip,
                 role, segment_id, time_band, window_label
          FROM anchor_rows WHERE baseline_source <> 'none')
),
-- Their statistics columns (those of the FG-C metrics), host and segment rows together:
-- UNION ALL BY NAME lines the segment view's columns up with the host view's, so the host
-- view's permutations order both.
baseline_stats AS (
    SELECT u.bid,
           COLUMNS(c -> regexp_matches(c, '_(median|mad|iqr|p95)$')
                        AND list_contains(getvariable('fgc_metrics'), regexp_replace(c, '_(median|mad|iqr|p95)$', '')))
    FROM used_baselines u
    JOIN fgb_host_in h
      ON u.baseline_source = 'host'
     AND h.baseline_horizon = u.baseline_horizon AND h.reference_date = u.baseline_reference_date
     AND h.host_ip = u.host_ip AND h.role = u.role AND h.segment_id IS NOT DISTINCT FROM u.segment_id
     AND h.time_band = u.time_band AND h.window_label = u.window_label
    UNION ALL BY NAME
    SELECT u.bid,
           COLUMNS(c -> regexp_matches(c, '_(median|mad|iqr|p95)$')
                        AND list_contains(getvariable('fgc_metrics'), regexp_replace(c, '_(median|mad|iqr|p95)$', '')))
    FROM used_baselines u
    JOIN fgb_segment_in s
      ON u.baseline_source = 'segment'
     AND s.baseline_horizon = u.baseline_horizon AND s.reference_date = u.baseline_reference_date
     AND s.segment_id IS NOT DISTINCT FROM u.segment_id AND s.role = u.role
     AND s.time_band = u.time_band AND s.window_label = u.window_label
),
baseline_source_lists AS (
    SELECT bid,
           list_value(*COLUMNS(c -> suffix(c, '_median')))::DOUBLE[] AS meds_src,
           list_value(*COLUMNS(c -> suffix(c, '_mad')))::DOUBLE[]    AS mads_src,
           list_value(*COLUMNS(c -> suffix(c, '_iqr')))::DOUBLE[]    AS iqrs_src,
           list_value(*COLUMNS(c -> suffix(c, '_p95')))::DOUBLE[]    AS p95s_src
    FROM baseline_stats
),
baseline_lists AS (
    SELECT b.bid,
           list_permute(b.meds_src, p.median_perm) AS meds, list_permute(b.mads_src, p.mad_perm) AS mads,
           list_permute(b.iqrs_src, p.iqr_perm) AS iqrs, list_permute(b.p95s_src, p.p95_perm) AS p95s
    FROM baseline_source_lists b CROSS JOIN perms p
),
-- The two scales of §7.2, per baseline row and metric: long form over the (few) baseline
-- rows only, then back to one list sorted by position (list_sort of {pos, ...} structs is
-- much cheaper than ordered aggregates).
baseline_long AS (
    SELECT bl.bid, unnest(ml.positions) AS pos, unnest(ml.floors) AS scale_floor,
           unnest(bl.mads) AS mad, unnest(bl.iqrs) AS iqr
    FROM baseline_lists bl CROSS JOIN metric_lists ml
),
baseline_scales AS (
    SELECT bid,
           list_sort(list({'pos': pos,
                           'scale': COALESCE(NULLIF(mad, 0), iqr),
                           'z_scale': CASE WHEN mad IS NULL OR iqr IS NULL THEN NULL
                                           ELSE greatest(COALESCE(NULLIF(mad, 0), NULLIF(iqr, 0), 0), scale_floor) END})) AS sc
    FROM baseline_long
    GROUP BY bid
),
baselines AS (
    SELECT bl.bid, bl.meds, bl.iqrs, bl.p95s,
           list_transform(s.sc, lambda e: e.scale) AS scales,
           list_transform(s.sc, lambda e: e.z_scale) AS z_scales
    FROM baseline_lists bl JOIN baseline_scales s ON s.bid = bl.bid
),
-- Each anchor row with its x list and routed statistics (NULL lists when the source is
-- 'none', which makes every transform NULL), its z_mad and z_mad_clipped lists, and the
-- clipped z and its size |z| in metric-name order, for the ranking below.
scored AS (
    SELECT r.*, x.xs, b.meds, b.iqrs, b.p95s, b.scales,
           list_transform(list_zip(x.xs, b.meds, b.z_scales),
                          lambda t: (t[1] - t[2]) / NULLIF(t[3] + getvariable('eps')::DOUBLE, 0)) AS z_mads,
           list_transform(z_mads, lambda z: CASE WHEN z IS NULL THEN NULL
                                                 ELSE least(greatest(z, -getvariable('z_max')::DOUBLE), getvariable('z_max')::DOUBLE) END) AS z_clipped,
           ml.positions_by_name, ml.names_by_name
    FROM anchor_rows r
    JOIN x_lists x
      ON x.host_ip = r.host_ip AND x.role = r.role AND x.window_label = r.window_label
     AND x.window_end_ts = r.window_end_ts
    LEFT JOIN used_baselines u
      ON u.baseline_source = r.baseline_source AND u.baseline_horizon = r.baseline_horizon
     AND u.baseline_reference_date = r.baseline_reference_date
     AND u.host_ip IS NOT DISTINCT FROM CASE WHEN r.baseline_source = 'host' THEN r.host_ip END
     AND u.role = r.role AND u.segment_id IS NOT DISTINCT FROM r.segment_id
     AND u.time_band = r.time_band AND u.window_label = r.window_label
    LEFT JOIN baselines b ON b.bid = u.bid
    CROSS JOIN metric_lists ml
),
-- The ranking of §7.3: the metrics with a z by |z| descending, then name ascending. Only the
-- first three matter (anomaly_score, top_contributors), so they are taken by repeated maximum
-- over the name-ordered sizes (see _macros_lists.sql): top_i are name-order positions.
by_name AS (
    SELECT *, list_permute(z_clipped, positions_by_name) AS z_by_name FROM scored
),
top AS (
    SELECT *,
           list_transform(z_by_name, lambda z: abs(z)) AS size_by_name,
           list_first_max_pos(size_by_name) AS top_1,
           list_first_max_pos(list_blank_at(size_by_name, top_1)) AS top_2,
           list_first_max_pos(list_blank_at(list_blank_at(size_by_name, top_1), top_2)) AS top_3
    FROM by_name
),
ranked AS (
    SELECT *,
           list_avg([size_by_name[top_1], size_by_name[top_2], size_by_name[top_3]]) AS anomaly_score,
           len(list_filter(size_by_name, lambda s: s >= getvariable('strong_z')::DOUBLE)) AS strong_deviation_cnt,
           -- concat_ws skips the NULL labels of rows with fewer than three metrics with a z.
           CASE WHEN top_1 IS NOT NULL THEN
               concat_ws(';', contributor_label(names_by_name[top_1], z_by_name[top_1]),
                              contributor_label(names_by_name[top_2], z_by_name[top_2]),
                              contributor_label(names_by_name[top_3], z_by_name[top_3]))
           END AS top_contributors
    FROM top
),
-- ----------------------------------------------------------------------- pair rarity (§7.4)
anchor_spans AS (
    SELECT window_end_ts AS t_end, min(window_start_ts) AS t_start
    FROM fg_a_in GROUP BY window_end_ts
),
-- The slice ends inside each anchor's longest window. Slices and windows are whole 15-minute
-- batches (the JobSpec schema requires window minutes to be multiples of 15), so the range
-- condition becomes an equality: a hash join on a small build side instead of a range join
-- that sorts every delta_peers row.
anchor_slices AS (
    SELECT t_end, unnest(generate_series(t_start + INTERVAL 15 MINUTE, t_end, INTERVAL 15 MINUTE)) AS slice_end_ts
    FROM anchor_spans
),
-- Latest slice of each (host, role, peer, port) up to each anchor: a pair is in P_w iff
-- that slice ends after the window start.
peer_last AS (
    SELECT p.host_ip, p.role, p.peer_ip, p.peer_port, s.t_end, max(p.slice_end_ts) AS last_end
    FROM delta_peers_in p
    JOIN anchor_slices s ON s.slice_end_ts = p.slice_end_ts
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
-- The ten transforms of every metric are computed, and the JobSpec's subset kept by name
-- (variable fgc_unselected_cols); the runner orders columns.
SELECT COLUMNS(c -> NOT list_contains(getvariable('fgc_unselected_cols'), c)) FROM (
SELECT c.host_ip, c.role, c.window_label, c.window_start_ts, c.window_end_ts, c.baseline_horizon,
       c.xs[COLUMNS('^_p_(.+)$')] - c.meds[COLUMNS('^_p_(.+)$')]                                    AS '\1_diff',
       c.z_mads[COLUMNS('^_p_(.+)$')]                                                                 AS '\1_z_mad',
       abs(c.xs[COLUMNS('^_p_(.+)$')] - c.meds[COLUMNS('^_p_(.+)$')])
           / NULLIF(c.scales[COLUMNS('^_p_(.+)$')] + getvariable('eps')::DOUBLE, 0)                 AS '\1_abs_dev_over_scale',
       c.z_clipped[COLUMNS('^_p_(.+)$')]                                                              AS '\1_z_mad_clipped',
       sign(c.z_clipped[COLUMNS('^_p_(.+)$')]) * pow(abs(c.z_clipped[COLUMNS('^_p_(.+)$')]), 3)     AS '\1_z_mad_signed_pow3',
       c.xs[COLUMNS('^_p_(.+)$')] / NULLIF(c.meds[COLUMNS('^_p_(.+)$')] + getvariable('eps')::DOUBLE, 0) AS '\1_ratio',
       CASE WHEN c.xs[COLUMNS('^_p_(.+)$')] / NULLIF(c.meds[COLUMNS('^_p_(.+)$')] + getvariable('eps')::DOUBLE, 0) + getvariable('eps')::DOUBLE > 0
            THEN ln(c.xs[COLUMNS('^_p_(.+)$')] / NULLIF(c.meds[COLUMNS('^_p_(.+)$')] + getvariable('eps')::DOUBLE, 0) + getvariable('eps')::DOUBLE)
       END                                                                                            AS '\1_log_ratio',
       CASE WHEN c.xs[COLUMNS('^_p_(.+)$')] IS NULL OR c.p95s[COLUMNS('^_p_(.+)$')] IS NULL THEN NULL
            ELSE greatest(c.xs[COLUMNS('^_p_(.+)$')] - c.p95s[COLUMNS('^_p_(.+)$')], 0) END         AS '\1_excess_over_p95',
       c.xs[COLUMNS('^_p_(.+)$')] / NULLIF(c.p95s[COLUMNS('^_p_(.+)$')] + getvariable('eps')::DOUBLE, 0) AS '\1_excess_ratio_p95',
       (c.xs[COLUMNS('^_p_(.+)$')] - c.meds[COLUMNS('^_p_(.+)$')])
           / NULLIF(c.iqrs[COLUMNS('^_p_(.+)$')] + getvariable('eps')::DOUBLE, 0)                   AS '\1_iqr_dev',
       list_max(list_transform(COLUMNS('^_fam_(.+)$'), lambda i: abs(c.z_clipped[i]))) AS '\1',
       c.anomaly_score,
       c.strong_deviation_cnt,
       c.top_contributors,
       ps.pair_rarity_mean::DOUBLE AS pair_rarity_mean,
       ps.pair_rarity_max::DOUBLE AS pair_rarity_max,
       CASE WHEN c.has_baseline THEN coalesce(ps.rare_pair_cnt, 0) END AS rare_pair_cnt,
       CASE WHEN c.has_baseline THEN coalesce(ps.unseen_pair_cnt, 0) END AS unseen_pair_cnt,
       c.baseline_source,
       c.baseline_reference_date,
       c.baseline_start_ts,
       c.baseline_end_ts,
       c.is_cold_start,
       c.segment_id,
       c.time_band,
       concat_ws('|', c.host_ip, c.role, c.window_label, strftime(c.window_end_ts, '%Y-%m-%dT%H:%M:%SZ'),
                 c.baseline_horizon) AS record_id,
       strftime(c.window_end_ts - INTERVAL 15 MINUTE, '%Y-%m-%d') AS dt,
       strftime(c.window_end_ts - INTERVAL 15 MINUTE, '%H') AS hh,
       strftime(c.window_end_ts - INTERVAL 15 MINUTE, '%M') AS mm,
       c.mini_batch_id,
       getvariable('feature_spec_version')::VARCHAR AS feature_spec_version
FROM ranked c
CROSS JOIN fgc_positions
LEFT JOIN pair_summary ps ON ps.rid = c.rid
)
