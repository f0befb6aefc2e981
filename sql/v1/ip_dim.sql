-- =============================================================================
-- ip_dim.sql (feature_spec_version v1): the IP dimension of a run.
--
-- Purpose: parse every distinct IP string of a run once and decide its
--   validity (FEATURES.md §1.1 rule 2), host scope (§1.3 internal_networks)
--   and segment (§1.4). Other templates join this table on ip instead of
--   parsing addresses per row.
--
-- Inputs (grain):
--   ip_list(ip VARCHAR)                         one row per distinct, trimmed
--                                               IP string (duplicates are
--                                               tolerated and collapsed here)
--   p_internal_networks(cidr VARCHAR)           JobSpec internal_networks
--   p_segment_cidrs(cidr VARCHAR, segment_id VARCHAR)
--                                               JobSpec segment_mapping.cidr_table
--   macros of sql/v1/_macros.sql (ip_bits, cidr_parse, ip_network_text, ...)
--
-- Parameters (session variables):
--   getvariable('all_hosts')           BOOLEAN  internal_networks = 'all'
--   getvariable('ipv4_prefix_length')  INTEGER  0..32  (segment_mapping)
--   getvariable('ipv6_prefix_length')  INTEGER  0..128 (segment_mapping)
--   A missing or out-of-range variable is an error, never a silent default.
--
-- Output grain: one row per distinct ip of ip_list:
--   ip VARCHAR, is_valid BOOLEAN, is_internal BOOLEAN, segment_id VARCHAR
--
-- Choices:
--   * Validity and parsing rules are those of _macros.sql (IPv4 without
--     leading zeros; RFC 4291 IPv6 text incl. '::' and an IPv4 tail; no zone
--     ids). No normalisation across families: '::ffff:10.1.2.3' is IPv6, so
--     it is internal only if an IPv6 network covers it, and its default
--     segment is its IPv6 /ipv6_prefix_length network.
--   * Invalid (or NULL) ip: is_valid = false, is_internal = false,
--     segment_id = 'SEG_UNKNOWN'.
--   * is_internal: all_hosts -> true for every valid ip; otherwise the ip lies
--     inside at least one p_internal_networks CIDR of the same family.
--   * segment_id: the p_segment_cidrs entry with the longest matching prefix
--     (same family) wins; if several entries describe the same network
--     (same family, length and prefix bits, e.g. '10.0.0.0/8' and
--     '10.1.0.0/8'), the smallest segment_id wins. Entries with a NULL
--     segment_id are ignored. Otherwise the ip's own network:
--     '10.1.2.0/24', '0.0.0.0/0' for length 0, and for IPv6 lower-case fully
--     expanded hextets, '2001:0db8:0000:0001:0000:0000:0000:0000/64'.
--   * CIDRs that do not parse (cidr_parse = NULL) match nothing; JobSpec
--     validation is expected to reject them before a run. Host bits below
--     the prefix are ignored.
--   * Performance: each ip is parsed exactly once (ip_bits in `parsed`).
--     Network matching never compares every ip with every CIDR: each ip is
--     expanded to one probe key per distinct prefix length present in the
--     CIDR list of its family (left(bits, len)), and probe keys are
--     equi-joined (hash join) to the networks; longest prefix = arg_max over
--     the matches. Cost ~ ips x distinct prefix lengths, independent of the
--     number of CIDRs.
-- =============================================================================
WITH
params AS (
  SELECT
    CASE WHEN getvariable('all_hosts') IS NULL
           THEN error('ip_dim: session variable all_hosts is not set')
         ELSE CAST(getvariable('all_hosts') AS BOOLEAN) END AS all_hosts,
    CASE WHEN CAST(getvariable('ipv4_prefix_length') AS INTEGER) BETWEEN 0 AND 32
           THEN CAST(getvariable('ipv4_prefix_length') AS INTEGER)
         ELSE error('ip_dim: session variable ipv4_prefix_length must be 0..32, got '
                    || coalesce(CAST(getvariable('ipv4_prefix_length') AS VARCHAR), 'NULL')) END AS v4_len,
    CASE WHEN CAST(getvariable('ipv6_prefix_length') AS INTEGER) BETWEEN 0 AND 128
           THEN CAST(getvariable('ipv6_prefix_length') AS INTEGER)
         ELSE error('ip_dim: session variable ipv6_prefix_length must be 0..128, got '
                    || coalesce(CAST(getvariable('ipv6_prefix_length') AS VARCHAR), 'NULL')) END AS v6_len
),
parsed AS MATERIALIZED (
  SELECT ip, bits, ip_bits_family(bits) AS family
  FROM (SELECT ip, ip_bits(ip) AS bits FROM (SELECT DISTINCT ip FROM ip_list))
),
valid AS (
  SELECT ip, bits, family FROM parsed WHERE bits IS NOT NULL
),
-- Internal networks, parsed once; deduplicated so a match is counted once.
internal_nets AS (
  SELECT DISTINCT n.family, n.prefix_len, n.prefix_bits
  FROM (SELECT cidr_parse(cidr) AS n FROM p_internal_networks)
  WHERE n IS NOT NULL
),
internal_lens AS (
  SELECT DISTINCT family, prefix_len FROM internal_nets
),
internal_probes AS (
  SELECT v.ip, l.family, l.prefix_len, left(v.bits, l.prefix_len) AS key
  FROM valid v
  JOIN internal_lens l ON l.family = v.family
  WHERE NOT (SELECT all_hosts FROM params)
),
internal_hits AS (
  SELECT DISTINCT pr.ip
  FROM internal_probes pr
  JOIN internal_nets n
    ON n.family = pr.family AND n.prefix_len = pr.prefix_len AND n.prefix_bits = pr.key
),
-- Segment table: one row per distinct network, smallest segment_id on ties.
segment_nets AS (
  SELECT n.family, n.prefix_len, n.prefix_bits, min(segment_id) AS segment_id
  FROM (SELECT cidr_parse(cidr) AS n, segment_id FROM p_segment_cidrs WHERE segment_id IS NOT NULL)
  WHERE n IS NOT NULL
  GROUP BY ALL
),
segment_lens AS (
  SELECT DISTINCT family, prefix_len FROM segment_nets
),
segment_probes AS (
  SELECT v.ip, l.family, l.prefix_len, left(v.bits, l.prefix_len) AS key
  FROM valid v
  JOIN segment_lens l ON l.family = v.family
),
segment_hits AS (
  SELECT pr.ip, arg_max(n.segment_id, n.prefix_len) AS segment_id
  FROM segment_probes pr
  JOIN segment_nets n
    ON n.family = pr.family AND n.prefix_len = pr.prefix_len AND n.prefix_bits = pr.key
  GROUP BY pr.ip
),
scoped AS (
  SELECT
    p.ip,
    p.bits IS NOT NULL AS is_valid,
    CASE WHEN p.bits IS NULL THEN false
         WHEN prm.all_hosts THEN true
         ELSE ih.ip IS NOT NULL
    END AS is_internal,
    sh.segment_id AS table_segment_id,
    -- the ip's own network, staged as a column so it is computed once
    CASE WHEN sh.segment_id IS NULL
         THEN ip_network_bits(p.bits, CASE p.family WHEN 4 THEN prm.v4_len ELSE prm.v6_len END)
    END AS net_bits,
    CASE p.family WHEN 4 THEN prm.v4_len ELSE prm.v6_len END AS net_len
  FROM parsed p
  CROSS JOIN params prm
  LEFT JOIN internal_hits ih ON ih.ip = p.ip
  LEFT JOIN segment_hits sh ON sh.ip = p.ip
)
SELECT
  ip,
  is_valid,
  is_internal,
  CASE WHEN NOT is_valid THEN 'SEG_UNKNOWN'
       WHEN table_segment_id IS NOT NULL THEN table_segment_id
       ELSE ip__bits_to_text(net_bits) || '/' || CAST(net_len AS VARCHAR)
  END AS segment_id
FROM scoped
