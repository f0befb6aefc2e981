/**
 * Benchmark for sql/v1/fg_a.sql (not part of the test suite).
 *
 *   npx tsx test/fixtures-fg-a/bench-fg-a.ts [hosts=2000] [anchors=1] [lookback_days=30] [reps=3]
 *
 * Generates synthetic inputs for `hosts` internal hosts in both roles (each active in ~80% of
 * the batches, ~4 outbound and ~2 inbound (peer, port) rows per active batch drawn from a
 * per-host pool of 40 peers and 8 ports, 1 row in 50 to a never-seen internet peer), for
 * `anchors` consecutive anchors ending 2026-11-24 12:30 with the 5 default windows, and the
 * look-back as the runner registers it: daily compactions of the whole days (~27 pool pairs
 * per host, role and day) and the 15-minute rows of the edge days (the days containing an
 * L start or an L end). The generated data is cached under the OS temp dir (generation takes
 * longer than the query) as one Parquet file per batch (per day for the compactions), and
 * registered like the runner does: views over read_parquet of the file list. The parameter
 * tables and ip_dim are in-memory tables. fg_a.sql then runs `reps` times with novelty on and
 * off (2 threads). Reported: best wall time and the process CPU time of that run.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const hosts = Number(process.argv[2] ?? 2000);
const nAnchors = Number(process.argv[3] ?? 1);
const lookback = Number(process.argv[4] ?? 30);
const reps = Number(process.argv[5] ?? 3);
const sql = (n: string) => readFileSync(new URL(`../../sql/v1/${n}.sql`, import.meta.url), 'utf8');
const TABLES = ['p_windows', 'p_anchors', 'p_weekend_days', 'p_holidays', 'p_high_risk_segments', 'delta_in', 'delta_peers_in',
  'peer_history_daily', 'peer_history_batches', 'ip_dim'];
const VARIABLES = `
SET VARIABLE tz = 'Asia/Jerusalem'; SET VARIABLE work_start = 7; SET VARIABLE work_end = 17;
SET VARIABLE off_start = 17; SET VARIABLE off_end = 22; SET VARIABLE eps_a = 1e-9::DOUBLE;
SET VARIABLE lookback_days = ${lookback}; SET VARIABLE novelty_enabled = true;
SET VARIABLE k_peer = 1; SET VARIABLE k_port = 1; SET VARIABLE k_pair = 1; SET VARIABLE feature_spec_version = 'v1';`;

const dbFile = join(tmpdir(), `ndr-fga-bench-${hosts}h-${nAnchors}a-${lookback}d.duckdb`);
const pqDir = dbFile.replace(/\.duckdb$/, '.parquet');
const PARQUET: [string, string][] = [ // input view -> partition column of its files
  ['delta_in', 'mini_batch_id'], ['delta_peers_in', 'mini_batch_id'], ['peer_history_batches', 'mini_batch_id'], ['peer_history_daily', 'day'],
];
if (!existsSync(dbFile)) {
  const t0 = performance.now();
  const gen = await DuckDBInstance.create(dbFile, { threads: '2' });
  const g = await gen.connect();
  const lastAnchor = `TIMESTAMP '2026-11-24 12:30:00'`;
  await g.run(`SET TimeZone = 'UTC'; ${VARIABLES}
CREATE TABLE p_windows AS FROM (VALUES ('w_15m', 15), ('w_30m', 30), ('w_1h', 60), ('w_8h', 480), ('w_24h', 1440)) t(window_label, minutes);
CREATE TABLE p_anchors AS SELECT ${lastAnchor} - to_minutes(15 * i) AS anchor_ts FROM range(${nAnchors}) r(i);
CREATE TABLE p_weekend_days AS FROM (VALUES (5), (6)) t(dow);
CREATE TABLE p_holidays (d DATE);
CREATE TABLE p_high_risk_segments AS SELECT '10.0.7.0/24' AS segment_id;
CREATE TABLE hr AS SELECT i AS h, '10.0.' || (i // 250) || '.' || (i % 250 + 1) AS host_ip, role
  FROM range(${hosts}) r(i) CROSS JOIN (VALUES ('outbound'), ('inbound')) v(role);
-- one row per (host, role, batch start) for every batch the run or its history touches
CREATE TABLE batches AS
  WITH b AS (SELECT (SELECT min(anchor_ts) FROM p_anchors) - INTERVAL 1440 MINUTE AS lo, (SELECT max(anchor_ts) FROM p_anchors) AS hi),
       edge_days AS (
         SELECT DISTINCT d FROM (
           SELECT unnest([date_trunc('day', ws - to_days(${lookback})), date_trunc('day', ws)]) AS d
           FROM p_anchors CROSS JOIN p_windows, LATERAL (SELECT anchor_ts - to_minutes(minutes) AS ws))),
       starts AS (
         SELECT DISTINCT ts FROM (
           SELECT unnest(generate_series(lo, hi - INTERVAL 15 MINUTE, INTERVAL 15 MINUTE)) AS ts FROM b
           UNION ALL
           SELECT unnest(generate_series(d, d + INTERVAL 1425 MINUTE, INTERVAL 15 MINUTE)) FROM edge_days)
         WHERE ts < (SELECT hi FROM b))
  SELECT hr.*, ts AS slice_start_ts, ts + INTERVAL 15 MINUTE AS slice_end_ts, ts >= (SELECT lo FROM b) AS current
  FROM hr CROSS JOIN starts WHERE hash(h, role, ts) % 10 < 8;
CREATE TABLE peers_all AS
  SELECT host_ip, role, slice_start_ts, slice_end_ts, current,
         CASE WHEN hash(h, ts_i, k, 'n') % 50 = 0 THEN '203.0.' || (hash(h, ts_i, k) % 250) || '.' || (hash(k, ts_i) % 250)
              ELSE '10.' || (1 + (h + pk) % 7) || '.' || ((h * 7 + pk) % 250) || '.' || (1 + pk) END AS peer_ip,
         [443, 80, 53, 445, 22, 3389, 8080, 123][1 + (hash(h, pk, 'p') % 8)::INTEGER]::INTEGER AS peer_port,
         1 + hash(h, ts_i, k, 's') % 5 AS sessions_cnt,
         hash(h, ts_i, k, 'b') % 100000 AS bytes_sent_sum, hash(h, ts_i, k, 'r') % 100000 AS bytes_recv_sum
  FROM (SELECT *, epoch(slice_start_ts)::BIGINT AS ts_i FROM batches)
  CROSS JOIN range(CASE WHEN role = 'outbound' THEN 4 ELSE 2 END) r(k),
  LATERAL (SELECT (hash(h, ts_i, k, 'k') % 40)::INTEGER AS pk);
CREATE TABLE delta_peers_in AS
  SELECT host_ip, role, peer_ip, peer_port, sum(sessions_cnt)::BIGINT AS sessions_cnt, sum(bytes_sent_sum)::BIGINT AS bytes_sent_sum,
         sum(bytes_recv_sum)::BIGINT AS bytes_recv_sum, slice_end_ts AS last_event_ts, slice_start_ts, slice_end_ts,
         strftime(slice_start_ts, '%Y-%m-%d') AS dt, strftime(slice_start_ts, '%H') AS hh, strftime(slice_start_ts, '%M') AS mm,
         strftime(slice_start_ts, '%Y%m%dT%H%MZ') AS mini_batch_id, 'v1' AS feature_spec_version, any_value(current) AS current
  FROM peers_all GROUP BY ALL;
CREATE TABLE delta_in AS
  SELECT host_ip, role, slice_start_ts, slice_end_ts, dt, hh, mm,
         sum(sessions_cnt)::BIGINT AS sessions_cnt, sum(bytes_sent_sum)::BIGINT AS bytes_sent_sum, sum(bytes_recv_sum)::BIGINT AS bytes_recv_sum,
         sum(sessions_cnt) * 1.5 AS duration_sum, sum(sessions_cnt)::BIGINT AS allow_cnt, 0::BIGINT AS drop_cnt, 0::BIGINT AS alert_cnt,
         0::BIGINT AS rst_cnt, 0::BIGINT AS aged_out_cnt, 0::BIGINT AS threat_cnt, sum(sessions_cnt)::BIGINT AS traffic_cnt,
         sum(sessions_cnt)::BIGINT AS tcp_cnt, 0::BIGINT AS udp_cnt, 0::BIGINT AS icmp_cnt, 0::BIGINT AS zero_reply_cnt, 0::BIGINT AS short_session_cnt,
         sum(sessions_cnt) FILTER (peer_port IN (445, 3389))::BIGINT AS high_risk_port_sessions_cnt,
         sum(sessions_cnt) FILTER (peer_port IN (22, 3389))::BIGINT AS admin_port_sessions_cnt,
         max(sessions_cnt)::BIGINT AS max_sessions_per_minute,
         any_value(mini_batch_id) AS mini_batch_id, 'v1' AS feature_spec_version
  FROM delta_peers_in WHERE current GROUP BY ALL;
CREATE TABLE peer_history_batches AS SELECT * EXCLUDE (current) FROM delta_peers_in;
DELETE FROM delta_peers_in WHERE NOT current;
ALTER TABLE delta_peers_in DROP COLUMN current;
-- whole-day compaction: every look-back day before the last anchor's day, one synthetic row per (host, role, pool pair) seen that day
CREATE TABLE peer_history_daily AS
  SELECT host_ip, role, '10.' || (1 + (h + pk) % 7) || '.' || ((h * 7 + pk) % 250) || '.' || (1 + pk) AS peer_ip,
         [443, 80, 53, 445, 22, 3389, 8080, 123][1 + (hash(h, pk, 'p') % 8)::INTEGER]::INTEGER AS peer_port,
         day, (1 + hash(h, day, pk) % 20)::BIGINT AS sessions_cnt
  FROM hr CROSS JOIN (SELECT unnest(generate_series(DATE '2026-11-23' - ${lookback + 2}, DATE '2026-11-23', INTERVAL 1 DAY))::DATE AS day)
  CROSS JOIN range(40) r(pk)
  WHERE hash(h, day, pk, role) % 3 < 2;
CREATE TABLE ip_dim AS
  SELECT ip, true AS is_valid, ip LIKE '10.%' AS is_internal, regexp_replace(ip, '\\.[0-9]+$', '.0/24') AS segment_id
  FROM (SELECT host_ip AS ip FROM hr UNION SELECT peer_ip FROM delta_peers_in UNION SELECT peer_ip FROM peer_history_daily
        UNION SELECT peer_ip FROM peer_history_batches);
`);
  g.closeSync();
  gen.closeSync();
  console.log(`generated ${dbFile} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

const inst = await DuckDBInstance.create(':memory:', { threads: '2' });
const c = await inst.connect();
await c.run(`SET TimeZone = 'UTC'; ${VARIABLES} ATTACH '${dbFile}' AS src (READ_ONLY);`);
if (!existsSync(pqDir)) {
  mkdirSync(pqDir, { recursive: true });
  for (const [t, part] of PARQUET)
    await c.run(`COPY src.${t} TO '${pqDir}/${t}' (FORMAT parquet, PARTITION_BY (${part}), WRITE_PARTITION_COLUMNS true)`);
}
for (const t of TABLES.filter((t) => !PARQUET.some(([p]) => p === t))) await c.run(`CREATE TEMP TABLE ${t} AS FROM src.${t}`);
for (const [t] of PARQUET)
  await c.run(`CREATE TEMP VIEW ${t} AS SELECT * FROM read_parquet('${pqDir}/${t}/*/*.parquet', union_by_name = true, hive_partitioning = false)`);
await c.run(`DETACH src`);
await c.run(`CREATE TEMP VIEW delta_mapped AS ${sql('delta_to_fg_a')}`);
const count = async (q: string) => Number((await c.runAndReadAll(q)).getRowObjectsJS()[0].n);
const sizes = Object.fromEntries(
  await Promise.all(['delta_in', 'delta_peers_in', 'peer_history_daily', 'peer_history_batches'].map(async (t) => [t, await count(`SELECT count(*) AS n FROM ${t}`)])),
);
console.log(`inputs: hosts=${hosts} (x2 roles) anchors=${nAnchors} windows=5 lookback=${lookback}d`, sizes);

const fgA = sql('fg_a');
for (const novelty of [true, false]) {
  await c.run(`SET VARIABLE novelty_enabled = ${novelty}`);
  let best = { wall: Infinity, cpu: 0 };
  for (let rep = 0; rep < reps; rep++) {
    await c.run('DROP TABLE IF EXISTS out');
    const cpu0 = process.cpuUsage();
    const t = performance.now();
    await c.run(`CREATE TEMP TABLE out AS ${fgA}`);
    const wall = (performance.now() - t) / 1000;
    const cpu = process.cpuUsage(cpu0);
    if (wall < best.wall) best = { wall, cpu: (cpu.user + cpu.system) / 1e6 };
  }
  const n = await count('SELECT count(*) AS n FROM out');
  const open = novelty ? await count('SELECT count(*) AS n FROM out WHERE new_peer_cnt + rare_peer_cnt > 0') : 0;
  console.log(
    `fg_a.sql novelty=${novelty}: best of ${reps} ${best.wall.toFixed(2)} s wall (${best.cpu.toFixed(2)} s CPU), ` +
      `${n} rows${novelty ? `, ${open} with new/rare peers` : ''}`,
  );
}
c.closeSync();
inst.closeSync();
