/**
 * Publish benchmark (`npm run bench` calls benchPublish()):
 * - online: PutRecord throughput against the local fake Feature Store (in its
 *   own process) at 0% and 5% throttling, concurrency 32, N records (default
 *   20,000), without and with one worker thread, three interleaved runs each;
 *   checks that every record is stored or dead-lettered (none lost);
 * - offline: MB/s of the offline-store layout written to a local directory.
 * Also exports writeSampleRows(), the FG-C-like rows the publish tests use.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Session } from '../src/engine/session.ts';
import { lit, sql, inline } from '../src/engine/sql.ts';
import { publishOffline } from '../src/publish/offline.ts';
import { publishOnline } from '../src/publish/online.ts';
import { publishSpecSchema, type PublishSpecInput } from '../src/publish/spec.ts';

export interface SampleRowsOptions {
  /** Number of rows. */
  rows: number;
  /** First window_end_ts (UTC), default 2026-11-24T12:15:00Z; each block of `perBatch` rows moves 15 minutes. */
  start?: string;
  perBatch?: number;
  /** Extra DOUBLE metric columns m_0.. (wide rows), default 8. */
  metrics?: number;
}

/**
 * FG-C-like rows: host_ip, role, window_label, window_end_ts TIMESTAMP, baseline_horizon,
 * record_id = host_ip|role|window_label|<window_end_ts ISO>|baseline_horizon, segment_id,
 * sessions_cnt BIGINT, deny_ratio DOUBLE (NULL every 7th row), z_mad DOUBLE,
 * is_cold_start INTEGER, baseline_start_ts TIMESTAMP, m_0..m_k DOUBLE, dt, hh, mm, mini_batch_id, feature_spec_version.
 */
export async function writeSampleRows(session: Session, path: string, o: SampleRowsOptions): Promise<void> {
  const start = o.start ?? '2026-11-24T12:15:00Z';
  const perBatch = o.perBatch ?? 1_000_000_000;
  const metrics = Array.from({ length: o.metrics ?? 8 }, (_, k) => `round(((i * ${k + 3}) % 1000) / 7.0, 6) AS m_${k}`).join(', ');
  await session.run(
    inline(sql`COPY (
      WITH base AS (
        SELECT i,
          '10.0.' || ((i // 200) % 250) || '.' || (i % 200 + 1) AS host_ip,
          CASE WHEN i % 2 = 0 THEN 'outbound' ELSE 'inbound' END AS role,
          ['w_15m', 'w_1h', 'w_24h'][(i // 2) % 3 + 1] AS window_label,
          CAST(${lit(start.replace('Z', ''))} AS TIMESTAMP) + to_minutes(CAST(15 * (i // ${lit(perBatch)}) AS BIGINT)) AS window_end_ts,
          CASE WHEN (i // 6) % 2 = 0 THEN '7d' ELSE '30d' END AS baseline_horizon
        FROM range(${lit(o.rows)}) t(i)
      )
      SELECT host_ip, role, window_label, window_end_ts, baseline_horizon,
        host_ip || '|' || role || '|' || window_label || '|' || strftime(window_end_ts, '%Y-%m-%dT%H:%M:%SZ') || '|' || baseline_horizon || '|' || i AS record_id,
        'seg-' || ((i // 200) % 250) AS segment_id,
        CAST(i * 3 + 1 AS BIGINT) AS sessions_cnt,
        CASE WHEN i % 7 = 3 THEN NULL ELSE (i % 100) / 100.0 END::DOUBLE AS deny_ratio,
        ((i % 41) - 20) / 4.0::DOUBLE AS z_mad,
        CAST(i % 2 AS INTEGER) AS is_cold_start,
        window_end_ts - INTERVAL 9 DAY AS baseline_start_ts,
        ${sql.raw(metrics)},
        strftime(window_end_ts - INTERVAL 15 MINUTE, '%Y-%m-%d') AS dt,
        strftime(window_end_ts - INTERVAL 15 MINUTE, '%H') AS hh,
        strftime(window_end_ts - INTERVAL 15 MINUTE, '%M') AS mm,
        strftime(window_end_ts - INTERVAL 15 MINUTE, '%Y%m%dT%H%MZ') AS mini_batch_id,
        'v1' AS feature_spec_version
      FROM base ORDER BY i
    ) TO ${lit(path)} (FORMAT parquet)`),
  );
}

export interface OnlineBenchResult {
  records: number;
  throttle_pct: number;
  concurrency: number;
  /** Spec `workers`, and how many had started by the end of the run (they load the SDK while the calling thread sends). */
  workers: number | 'auto';
  workers_started: number;
  run: number;
  seconds: number;
  records_per_s: number;
  retries: number;
  throttled: number;
  dead_letters: number;
  stored: number;
  /** Records neither stored nor dead-lettered: must be 0. */
  lost: number;
  max_in_flight_client: number;
  max_in_flight_server: number;
  /** Publisher process CPU (user + system, all threads) per record, ms: what bounds throughput on a busy host. */
  cpu_ms_per_record: number;
  /** 1-minute load average when the run ended: the host is shared, so read throughput with it. */
  load_avg_1m: number;
}

export interface OfflineBenchResult {
  rows: number;
  files: number;
  bytes: number;
  seconds: number;
  mb_per_s: number;
  rows_per_s: number;
  load_avg_1m: number;
}

export interface PublishBenchResult {
  /**
   * CPU ms of a fixed integer loop (1e8 additions) on this host, measured
   * before the runs: ~100 ms on an idle modern core. Online throughput is
   * bound by the SDK's CPU per call, so compare hosts with this figure.
   */
  cpuCalibrationMs: number;
  online: OnlineBenchResult[];
  offline: OfflineBenchResult;
}

function cpuCalibrationMs(): number {
  const c0 = process.cpuUsage();
  let acc = 0;
  for (let i = 0; i < 1e8; i++) acc += i;
  const c = process.cpuUsage(c0);
  return acc > 0 ? (c.user + c.system) / 1000 : 0;
}

export interface PublishBenchOptions {
  records?: number;
  concurrency?: number;
  /** Throttling rates to run, default 0 and 5%. */
  throttles?: number[];
  /** Runs per throttling rate (the host is shared: report each, compare the median). */
  repeat?: number;
  /** Spec `workers` settings to run (default 0 and 1). */
  workers?: number[];
  offlineRows?: number;
  log?: (line: string) => void;
}

type FakeProcess = Awaited<ReturnType<typeof import('../test/publish/fake-featurestore.ts').startFakeFeatureStoreProcess>>;

interface OnlineRun {
  session: Session;
  fake: FakeProcess;
  input: string;
  dir: string;
  spec: PublishSpecInput;
  records: number;
  throttle: number;
  run: number;
}

async function benchOnlineOnce(o: OnlineRun): Promise<OnlineBenchResult> {
  await o.fake.reset();
  await o.fake.setFaults({ throttle: o.throttle }, 7 + o.run);
  const cpu0 = process.cpuUsage();
  const s = await publishOnline({
    session: o.session,
    files: [o.input],
    spec: publishSpecSchema.parse(o.spec),
    batchId: `bench-online-${o.throttle}-${o.run}`,
    workDir: o.dir,
    aws: o.fake.aws,
  });
  const cpu = process.cpuUsage(cpu0);
  const stored = await o.fake.count('bench-fg');
  const fakeStats = await o.fake.stats();
  return {
    records: o.records,
    throttle_pct: o.throttle * 100,
    concurrency: s.online!.concurrency,
    workers: o.spec.workers ?? 'auto',
    workers_started: s.online!.workers,
    run: o.run,
    seconds: round(s.elapsedMs / 1000, 2),
    records_per_s: Math.round(s.recordsPerSec),
    retries: s.retries,
    throttled: s.throttled,
    dead_letters: s.deadLettered,
    stored,
    lost: o.records - stored - s.deadLettered,
    max_in_flight_client: s.online!.maxInFlight,
    max_in_flight_server: fakeStats.maxInFlight,
    cpu_ms_per_record: round((cpu.user + cpu.system) / 1000 / o.records, 3),
    load_avg_1m: round(loadavg()[0], 2),
  };
}

async function benchOffline(session: Session, dir: string, rows: number, spec: PublishSpecInput): Promise<OfflineBenchResult> {
  const input = join(dir, 'rows-offline.parquet');
  await writeSampleRows(session, input, { rows, perBatch: Math.ceil(rows / 8), metrics: 32 });
  const s = await publishOffline({ session, files: [input], spec: publishSpecSchema.parse(spec), batchId: 'bench-offline', workDir: dir });
  return {
    rows: s.published,
    files: s.offline!.files.length,
    bytes: s.offline!.bytes,
    seconds: round(s.elapsedMs / 1000, 2),
    mb_per_s: round(s.offline!.mbPerSec, 2),
    rows_per_s: Math.round(s.recordsPerSec),
    load_avg_1m: round(loadavg()[0], 2),
  };
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

export async function benchPublish(opts: PublishBenchOptions = {}): Promise<PublishBenchResult> {
  // Test support lives under test/; loaded lazily, only when this benchmark runs.
  const { startFakeFeatureStoreProcess, openTestSession } = await import('../test/publish/fake-featurestore.ts');
  const records = opts.records ?? 20_000;
  const log = opts.log ?? (() => undefined);
  const dir = await mkdtemp(join(tmpdir(), 'ndr-bench-publish-'));
  const session = await openTestSession();
  // The fake runs in its own process, like a remote service: its CPU is not charged to the publisher's event loop.
  const fake = await startFakeFeatureStoreProcess({ seed: 7 });
  try {
    const input = join(dir, 'rows.parquet');
    await writeSampleRows(session, input, { rows: records, metrics: 16 });
    const spec: PublishSpecInput = { feature_group: 'bench-fg', concurrency: opts.concurrency ?? 32, offline_s3_uri: join(dir, 'offline') };

    const calibration = cpuCalibrationMs();
    log(`publish bench: host CPU calibration ${calibration.toFixed(0)} ms (≈100 ms on an idle modern core), load average ${loadavg()[0].toFixed(1)}`);
    const online: OnlineBenchResult[] = [];
    const configs = (opts.workers ?? [0, 1]).flatMap((workers) => (opts.throttles ?? [0, 0.05]).map((throttle) => ({ workers, throttle })));
    // Repeats are interleaved, so that a burst of load on the shared host does not fall on one configuration only.
    for (let run = 1; run <= (opts.repeat ?? 3); run++) {
      for (const { workers, throttle } of configs) {
        const r = await benchOnlineOnce({ session, fake, input, dir, spec: { ...spec, workers }, records, throttle, run });
        log(
          `publish online ${r.throttle_pct}% throttling, concurrency ${r.concurrency}, ${r.workers} workers, run ${run}: ${r.records_per_s} records/s, ` +
            `${r.cpu_ms_per_record} ms CPU/record, ${r.retries} retries, ${r.dead_letters} dead letters, ${r.lost} lost (load ${r.load_avg_1m})`,
        );
        online.push(r);
      }
    }
    for (const { workers, throttle } of configs) {
      const runs = online.filter((r) => r.throttle_pct === throttle * 100 && r.workers === workers);
      log(`publish online ${throttle * 100}% throttling, ${workers} workers: median ${median(runs.map((r) => r.records_per_s))} records/s over ${runs.length} runs`);
    }

    const offline = await benchOffline(session, dir, opts.offlineRows ?? 200_000, spec);
    log(`publish offline: ${offline.rows} rows, ${offline.files} files, ${(offline.bytes / 1e6).toFixed(1)} MB, ${offline.mb_per_s} MB/s`);
    return { cpuCalibrationMs: calibration, online, offline };
  } finally {
    await fake.close();
    session.close();
    await rm(dir, { recursive: true, force: true });
  }
}
