/**
 * The floor under the raw stage: how fast DuckDB on this machine can produce the three raw
 * datasets' grains from the same Parquet day with the least possible work, as a yardstick
 * for the ndr-sql number measured just before it (issue #2 asks for 2M events/s).
 *
 * Each step is one statement, with 2 threads and memory_limit 1GB as the CLI's run:
 *   read       the day's Parquet into a table (7 of its columns);
 *   pairs      pair_counts' grain: count(*) per (src, dst, port, batch), written as Parquet
 *              partitioned by batch;
 *   peers      delta_peers' grain: count and two sums per (host, role, peer, port, batch),
 *              written alike;
 *   delta      delta's grain with only count and two sums, written alike;
 *   quantiles  the same plus delta's three five-point quantile_cont lists.
 * No DQ, no typing, no labels, no port sets, no host-scope join: the synthetic enterprise's
 * hosts are the 10/8 addresses, so `starts_with(ip, '10.')` stands for the host scope.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROLE_ROWS = `
  SELECT source_ip AS host_ip, 'outbound' AS role, destination_ip AS peer_ip, destination_port AS peer_port,
         source_bytes AS sent, destination_bytes AS recv, duration_sec, b
  FROM ev WHERE starts_with(source_ip, '10.')
  UNION ALL
  SELECT destination_ip, 'inbound', source_ip, destination_port, destination_bytes, source_bytes, duration_sec, b
  FROM ev WHERE starts_with(destination_ip, '10.')`;

const QUANTILES = (x: string) => `quantile_cont(${x}::DOUBLE, [0.25, 0.5, 0.75, 0.95, 0.99])`;

export async function benchRawFloor(dayGlob: string): Promise<Record<string, number>> {
  const out = mkdtempSync(join(tmpdir(), 'ndr-floor-'));
  const instance = await DuckDBInstance.create(':memory:', { threads: '2', memory_limit: '1GB' });
  const c = await instance.connect();
  const seconds: Record<string, number> = {};
  const step = async (name: string, text: string) => {
    const t0 = performance.now();
    await c.run(text);
    seconds[name] = Math.round(performance.now() - t0) / 1000;
  };
  const write = (name: string, select: string) =>
    step(name, `COPY (${select}) TO '${join(out, name)}' (FORMAT parquet, COMPRESSION snappy, PARTITION_BY (b))`);
  try {
    await step(
      'read',
      `CREATE TEMP TABLE ev AS
       SELECT source_ip, destination_ip, destination_port, source_bytes, destination_bytes,
              (epoch_us(event_end) - epoch_us(event_start)) / 1e6 AS duration_sec,
              time_bucket(INTERVAL 15 MINUTE, event_start) AS b
       FROM read_parquet('${dayGlob.replaceAll("'", "''")}')`,
    );
    const events = Number((await c.runAndReadAll('SELECT count(*) FROM ev')).getRows()[0][0]);
    await write('pairs', 'SELECT source_ip, destination_ip, destination_port, b, count(*) AS n FROM ev GROUP BY ALL');
    await write('peers', `SELECT host_ip, role, peer_ip, peer_port, b, count(*) AS n, sum(sent), sum(recv) FROM (${ROLE_ROWS}) GROUP BY ALL`);
    await write('delta', `SELECT host_ip, role, b, count(*) AS n, sum(sent), sum(recv) FROM (${ROLE_ROWS}) GROUP BY ALL`);
    await write(
      'quantiles',
      `SELECT host_ip, role, b, count(*) AS n, sum(sent), sum(recv), ${QUANTILES('sent')}, ${QUANTILES('recv')}, ${QUANTILES('duration_sec')}
       FROM (${ROLE_ROWS}) GROUP BY ALL`,
    );
    const withoutQuantiles = seconds.read + seconds.pairs + seconds.peers + seconds.delta;
    const withQuantiles = seconds.read + seconds.pairs + seconds.peers + seconds.quantiles;
    return {
      events,
      ...Object.fromEntries(Object.entries(seconds).map(([k, v]) => [`${k}_s`, v])),
      floor_events_per_s: Math.round(events / withoutQuantiles),
      floor_with_quantiles_events_per_s: Math.round(events / withQuantiles),
    };
  } finally {
    c.closeSync();
    instance.closeSync();
    rmSync(out, { recursive: true, force: true });
  }
}
