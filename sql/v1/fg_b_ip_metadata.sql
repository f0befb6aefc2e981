-- fg_b_ip_metadata (feature_spec_version v1) — FEATURES.md §6.4 host metadata (`fg_b/ip_metadata`).
--
-- Purpose: per host-baseline key, whether the host has a full history and whether it is a
--   non-persistent machine; is_cold_start = 1 if is_full_history = 0 or
--   is_non_persistent_machine = 1 (FG-C routes cold rows to the segment baseline).
--
-- Inputs:
--   fgb_host           temp table (fg_b_widen.sql over fg_b_host.sql), grain (host_ip, role,
--                      segment_id, time_band, window_label, baseline_horizon).
--   fgb_run            temp table from fg_b_run.sql (reference_date).
--   p_baseline_metrics (metric, support_min); p_required_metrics (metric) — JobSpec
--                      baseline_required_metrics.
--   p_inventory        (ip, machine_name, ...) — the optional inventory file as read (any
--                      column types: both are cast to VARCHAR here), may be empty.
--   p_np_prefixes      (prefix) — non_persistent_machine_prefixes, may be empty.
-- Parameters: none. Variables: feature_spec_version.
-- Output grain: (host_ip, role, segment_id, time_band, window_label, baseline_horizon).
-- Columns: host_ip, role, segment_id, time_band, window_label, baseline_horizon,
--   is_full_history, is_non_persistent_machine, is_cold_start INTEGER, machine_name VARCHAR,
--   reference_date, feature_spec_version VARCHAR.
--
-- How: the <m>_support_count columns of fgb_host are UNPIVOTed to (key, metric, support)
--   and compared with support_min for the required metrics.
--
-- Choices where FEATURES.md is silent:
--   * is_full_history is 1 when baseline_required_metrics is empty (nothing is missing).
--   * A required metric that is not a baseline metric is an error (its support is unknown).
--   * Inventory and host IPs are compared trimmed. If the inventory lists an IP more than
--     once, machine_name is the smallest name, and the host is non-persistent if ANY of its
--     names matches a prefix. Empty prefixes are ignored (they would match every machine).
--   * The prefix match is case-insensitive: starts_with(lower(name), lower(prefix)).
WITH
guard AS (
    SELECT CASE WHEN count(*) = 0 THEN true
                ELSE error('fg_b: baseline_required_metrics not among baseline_metrics: '
                           || string_agg(metric, ', ' ORDER BY metric)) END AS ok
    FROM p_required_metrics
    WHERE metric NOT IN (SELECT metric FROM p_baseline_metrics)
),
support AS (
    SELECT host_ip, role, segment_id, time_band, window_label, baseline_horizon, metric, support_count
    FROM (
        UNPIVOT (
            SELECT host_ip, role, segment_id, time_band, window_label, baseline_horizon,
                   COLUMNS('^(.+)_support_count$') AS '\1'
            FROM fgb_host
        )
        ON COLUMNS(* EXCLUDE (host_ip, role, segment_id, time_band, window_label, baseline_horizon))
        INTO NAME metric VALUE support_count
    )
    WHERE metric IN (SELECT metric FROM p_required_metrics)
),
history AS (
    SELECT s.host_ip, s.role, s.segment_id, s.time_band, s.window_label, s.baseline_horizon,
           bool_and(s.support_count >= b.support_min) AS full_history
    FROM support s
    JOIN p_baseline_metrics b ON b.metric = s.metric
    GROUP BY ALL
),
inventory AS (
    SELECT trim(i.ip::VARCHAR) AS ip,
           min(i.machine_name::VARCHAR) AS machine_name,
           bool_or(EXISTS (
               SELECT 1 FROM p_np_prefixes p
               WHERE p.prefix IS NOT NULL AND p.prefix <> ''
                 AND starts_with(lower(i.machine_name::VARCHAR), lower(p.prefix))
           )) AS non_persistent
    FROM p_inventory i
    WHERE i.ip IS NOT NULL
    GROUP BY trim(i.ip::VARCHAR)
)
SELECT h.host_ip, h.role, h.segment_id, h.time_band, h.window_label, h.baseline_horizon,
       coalesce(hi.full_history, true)::INTEGER            AS is_full_history,
       coalesce(inv.non_persistent, false)::INTEGER        AS is_non_persistent_machine,
       (NOT coalesce(hi.full_history, true) OR coalesce(inv.non_persistent, false))::INTEGER AS is_cold_start,
       inv.machine_name,
       r.reference_date,
       getvariable('feature_spec_version')::VARCHAR        AS feature_spec_version
FROM fgb_host h
CROSS JOIN fgb_run r
LEFT JOIN history hi
  ON hi.host_ip = h.host_ip AND hi.role = h.role AND hi.segment_id IS NOT DISTINCT FROM h.segment_id
 AND hi.time_band IS NOT DISTINCT FROM h.time_band AND hi.window_label = h.window_label
 AND hi.baseline_horizon = h.baseline_horizon
LEFT JOIN inventory inv ON inv.ip = trim(h.host_ip)
WHERE (SELECT ok FROM guard)
