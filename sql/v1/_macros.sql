-- =============================================================================
-- _macros.sql (feature_spec_version v1): shared scalar macros, run once per
-- session by Session.open({ specVersion }). Multi-statement file: only
-- `CREATE OR REPLACE MACRO ...` statements.
-- =============================================================================
--
-- ---- Section: IP parsing, CIDR matching and segment formatting --------------
-- (this block is owned by the ip_dim work; add other macros in a separately
-- marked section after "End of section: IP parsing", or in another
-- sql/v1/_macros_*.sql file, which Session.open also runs)
--
-- Purpose: parse IP literals and CIDRs in pure SQL (no `inet` extension is
-- available) into canonical bit strings, so that "is this address valid",
-- "is it inside that network" and "what is its /N network" are plain string
-- operations. Used by sql/v1/ip_dim.sql; other templates join ip_dim instead
-- of parsing addresses per row.
--
-- Representation: an address is a VARCHAR of '0'/'1' characters, 32 long for
-- IPv4 and 128 long for IPv6 (NULL = not a valid literal). The family is the
-- length (32 -> 4, 128 -> 6). A network is its first prefix_len bits; "ip in
-- network" is "same family and the ip bits start with the network bits".
--
-- Public macros (s = an already-trimmed string; NULL in, NULL out):
--   ip4_bits(s)                    -> 32-char bit string | NULL
--   ip6_bits(s)                    -> 128-char bit string | NULL
--   ip_bits(s)                     -> ip6_bits(s) if s contains ':', else ip4_bits(s)
--   ip_is_valid(s)                 -> BOOLEAN, never NULL (NULL input -> false)
--   ip_bits_family(bits)           -> INTEGER 4 | 6 | NULL
--   ip_bits_to_text(bits)          -> IPv4 dotted quad | IPv6 lower-case, fully
--                                     expanded 8 hextets ('2001:0db8:0000:...')
--   ip_network_bits(bits, len)     -> bits with all but the first len bits zeroed
--                                     (NULL if len is outside 0..32 / 0..128)
--   ip_network_text(bits, len)     -> network as text + '/' + len:
--                                     '10.1.2.0/24', '0.0.0.0/0',
--                                     '2001:0db8:0000:0001:0000:0000:0000:0000/64'
--   cidr_parse(cidr)               -> STRUCT(family INTEGER, prefix_len INTEGER,
--                                     prefix_bits VARCHAR) | NULL if invalid
--   ip_in_net(bits, net)           -> BOOLEAN: bits inside a cidr_parse() struct
--   ip_in_cidr(bits, cidr)         -> BOOLEAN: ip_in_net(bits, cidr_parse(cidr))
--                                     (NULL if either side is invalid)
-- Macros named ip__* are private helpers and may change.
--
-- Choices (FEATURES.md §1.1 rule 2 is silent on these):
--   * IPv4 is exactly four decimal octets 0..255 separated by '.', with NO
--     leading zeros ('010.1.1.1' and '1.1.1.01' are invalid: many parsers read
--     a leading zero as octal, so such a string is ambiguous). '0' alone is fine.
--     No shorthand forms ('10.1', '167772161', hex octets), no trailing dot.
--   * IPv6 is RFC 4291 §2.2 text: 8 groups of 1-4 hex digits, or one '::'
--     standing for ONE OR MORE zero groups (so '1:2:3:4:5:6:7::' is valid but
--     '1:2:3:4:5:6:7:8::' is not), optionally ending in a dotted IPv4 tail that
--     fills the last 32 bits ('::ffff:1.2.3.4', '::1.2.3.4', '1:2:3:4:5:6:1.2.3.4';
--     the tail follows the IPv4 rules above). Hex digits are case-insensitive.
--     Zone ids ('fe80::1%eth0'), brackets, ports and prefixes are invalid.
--   * Addresses are not normalised across families: '::ffff:10.1.2.3' is an
--     IPv6 address; it is inside an IPv6 CIDR such as '::ffff:0:0/96', never
--     inside the IPv4 '10.0.0.0/8'.
--   * CIDR: '<address>/<len>' with len 0..32 (IPv4) or 0..128 (IPv6), written
--     without leading zeros; a bare address means /32 or /128. Host bits below
--     the prefix are ignored ('10.1.2.3/8' == '10.0.0.0/8'). Surrounding white
--     space is trimmed. Anything else -> NULL (matches nothing).
--   * Performance: DuckDB inlines macros, so an argument used n times is
--     evaluated (and bound) n times. ip_bits(s) uses s ~30 times: call it on a
--     column, store the result in a column, and pass that column on (as
--     ip_dim.sql does). ip_bits_to_text and ip_in_cidr bind their argument
--     once through a one-element list_transform, so nesting them is cheap to
--     bind, at a small per-row cost. Measured on 2 busy cores: ip_bits ~1 us
--     per IPv4 and ~3 us per IPv6 string; per-element lambdas are avoided
--     (list casts VARCHAR[] -> UTINYINT[]/USMALLINT[] -> BIT[] do the work).
-- -----------------------------------------------------------------------------

-- IPv4 dotted quad -> 32 bits. The regex enforces 0..255 without leading
-- zeros; the conversion is list casts only (VARCHAR[] -> UTINYINT[] -> BIT[]),
-- which DuckDB vectorises (no per-element lambda).
CREATE OR REPLACE MACRO ip4_bits(s) AS
  CASE WHEN regexp_full_match(s,
         '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}')
       THEN array_to_string(CAST(CAST(string_split(s, '.') AS UTINYINT[]) AS BIT[]), '')
  END;

-- Number of ':' in t.
CREATE OR REPLACE MACRO ip__colons(t) AS
  length(t) - length(replace(t, ':', ''));

-- Number of hex groups in t, a run of groups containing exactly one '::'
-- (checked by the caller): 'a::b' -> 2, '::1' -> 1, '::' -> 0.
CREATE OR REPLACE MACRO ip__v6_ngroups_compressed(t) AS
  ip__colons(t) - 2 + CAST(NOT starts_with(t, '::') AS INTEGER) + CAST(NOT suffix(t, '::') AS INTEGER);

-- Groups 'a:bc:0:d' (no '::') -> 16 bits per group, again by list casts.
CREATE OR REPLACE MACRO ip__v6_groups_to_bits(x) AS
  array_to_string(CAST(CAST(string_split('0x' || replace(x, ':', ':0x'), ':') AS USMALLINT[]) AS BIT[]), '');

-- Core IPv6 parser: t = hex groups (1-4 digits, any case) with at most one
-- '::', which must describe exactly n 16-bit groups, '::' standing for one or
-- more zero groups. Returns 16*n bits or NULL.
CREATE OR REPLACE MACRO ip__v6_core(t, n) AS
  CASE
    WHEN regexp_full_match(t, '[0-9A-Fa-f]{1,4}(:[0-9A-Fa-f]{1,4}){0,7}')
      THEN CASE WHEN ip__colons(t) = n - 1 THEN ip__v6_groups_to_bits(t) END
    WHEN regexp_full_match(t, '([0-9A-Fa-f]{1,4}(:[0-9A-Fa-f]{1,4}){0,6})?::([0-9A-Fa-f]{1,4}(:[0-9A-Fa-f]{1,4}){0,6})?')
      THEN CASE WHEN ip__v6_ngroups_compressed(t) < n
                THEN ip__v6_groups_to_bits(
                       trim(replace(t, '::', ':' || repeat('0:', n - ip__v6_ngroups_compressed(t))), ':'))
           END
  END;

-- Head of an IPv6 literal with an IPv4 tail: the text before the tail,
-- keeping a '::' that ends it and dropping a single separating ':'.
CREATE OR REPLACE MACRO ip__v6_head(s) AS
  regexp_replace(regexp_extract(s, '^(.*:)[^:]*$', 1), '([^:]):$', '\1');

-- IPv6 text -> 128 bits. Without '.', 8 groups; with '.', 6 groups followed
-- by a dotted IPv4 tail for the last 32 bits.
CREATE OR REPLACE MACRO ip6_bits(s) AS
  CASE
    WHEN strpos(s, '.') = 0 THEN ip__v6_core(s, 8)
    ELSE ip__v6_core(ip__v6_head(s), 6) || ip4_bits(regexp_extract(s, '[^:]*$'))
  END;

CREATE OR REPLACE MACRO ip_bits(s) AS
  CASE WHEN strpos(s, ':') > 0 THEN ip6_bits(s) ELSE ip4_bits(s) END;

CREATE OR REPLACE MACRO ip_is_valid(s) AS
  coalesce(ip_bits(s) IS NOT NULL, false);

CREATE OR REPLACE MACRO ip_bits_family(bits) AS
  CASE length(bits) WHEN 32 THEN 4 WHEN 128 THEN 6 END;

-- 32 bits -> dotted quad; 128 bits -> 8 lower-case 4-digit hextets joined by
-- ':'. The private form uses its argument 13 times: call it on a column only.
CREATE OR REPLACE MACRO ip__bits_to_text(b) AS
  CASE length(b)
    WHEN 32 THEN
      printf('%d.%d.%d.%d',
             CAST(CAST(substr(b, 1, 8) AS BIT) AS UTINYINT),
             CAST(CAST(substr(b, 9, 8) AS BIT) AS UTINYINT),
             CAST(CAST(substr(b, 17, 8) AS BIT) AS UTINYINT),
             CAST(CAST(substr(b, 25, 8) AS BIT) AS UTINYINT))
    WHEN 128 THEN
      printf('%04x:%04x:%04x:%04x:%04x:%04x:%04x:%04x',
             CAST(CAST(substr(b, 1, 16) AS BIT) AS USMALLINT),
             CAST(CAST(substr(b, 17, 16) AS BIT) AS USMALLINT),
             CAST(CAST(substr(b, 33, 16) AS BIT) AS USMALLINT),
             CAST(CAST(substr(b, 49, 16) AS BIT) AS USMALLINT),
             CAST(CAST(substr(b, 65, 16) AS BIT) AS USMALLINT),
             CAST(CAST(substr(b, 81, 16) AS BIT) AS USMALLINT),
             CAST(CAST(substr(b, 97, 16) AS BIT) AS USMALLINT),
             CAST(CAST(substr(b, 113, 16) AS BIT) AS USMALLINT))
  END;

-- Public form: the one-element list_transform evaluates bits once (macros are
-- inlined, so ip__bits_to_text(ip_bits(x)) would parse x 13 times).
CREATE OR REPLACE MACRO ip_bits_to_text(bits) AS
  list_transform([bits], lambda _ip_b: ip__bits_to_text(_ip_b))[1];

-- bits with everything after the first prefix_len bits set to 0 (NULL if
-- prefix_len is outside 0..width).
CREATE OR REPLACE MACRO ip_network_bits(bits, prefix_len) AS
  CASE WHEN prefix_len BETWEEN 0 AND length(bits)
       THEN rpad(left(bits, prefix_len), CAST(length(bits) AS INTEGER), '0')
  END;

-- Network address of bits/prefix_len as text + '/' + length, e.g.
-- '10.1.2.0/24'. NULL if bits is invalid or prefix_len is outside 0..width.
CREATE OR REPLACE MACRO ip_network_text(bits, prefix_len) AS
  ip_bits_to_text(ip_network_bits(bits, prefix_len)) || '/' || CAST(prefix_len AS VARCHAR);

-- '10.0.0.0/8' -> {family: 4, prefix_len: 8, prefix_bits: '00001010'}; NULL if
-- invalid. (Not for hot paths: parse parameter tables once, then join.)
CREATE OR REPLACE MACRO cidr_parse(cidr) AS
  list_transform(
    [{'bits': ip_bits(split_part(trim(cidr), '/', 1)),
      'len': CASE WHEN NOT regexp_full_match(trim(cidr), '[^/]+(/(0|[1-9][0-9]{0,2}))?') THEN NULL
                  WHEN strpos(trim(cidr), '/') = 0 THEN -1  -- bare address: a host route
                  ELSE CAST(split_part(trim(cidr), '/', 2) AS INTEGER)
             END}],
    lambda _ip_c: CASE WHEN _ip_c.bits IS NOT NULL AND _ip_c.len IS NOT NULL AND _ip_c.len <= length(_ip_c.bits)
                    THEN {'family': CAST(ip_bits_family(_ip_c.bits) AS INTEGER),
                          'prefix_len': CAST(CASE WHEN _ip_c.len = -1 THEN length(_ip_c.bits) ELSE _ip_c.len END AS INTEGER),
                          'prefix_bits': CASE WHEN _ip_c.len = -1 THEN _ip_c.bits ELSE left(_ip_c.bits, _ip_c.len) END}
               END)[1];

-- Is the address (as bits) inside the network given by a cidr_parse struct?
CREATE OR REPLACE MACRO ip_in_net(bits, net) AS
  ip_bits_family(bits) = struct_extract(net, 'family')
  AND starts_with(bits, struct_extract(net, 'prefix_bits'));

CREATE OR REPLACE MACRO ip_in_cidr(bits, cidr) AS
  list_transform([cidr_parse(cidr)], lambda _ip_net: ip_in_net(bits, _ip_net))[1];

-- ---- End of section: IP parsing ---------------------------------------------
