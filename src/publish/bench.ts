/**
 * Publish benchmark (`npm run bench` calls benchPublish()):
 * - online: PutRecord throughput against the local fake Feature Store at
 *   0% and 5% throttling, concurrency 32, N records (default 20,000); checks
 *   that every record is stored or dead-lettered (none lost);
 * - offline: MB/s of the offline-store layout written to a local directory.
 * Also exports writeSampleRows(), the FG-C-like rows the publish tests use.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Session } from '../engine/session.ts';
import { lit, sql, inline } from '../engine/sql.ts';
import { publishOffline } from './offline.ts';
import { publishOnline } from './online.ts';
import { publishSpecSchema, type PublishSpecInput } from './spec.ts';

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
  throttleRate: number;
  concurrency: number;
  seconds: number;
  recordsPerSec: number;
  retries: number;
  throttled: number;
  deadLettered: number;
  stored: number;
  lost: number;
  maxInFlightServer: number;
  /** Publisher CPU (user + system) per record, ms: what bounds throughput on a busy host. */
  cpuMsPerRecord: number;
}

export interface PublishBenchResult {
  /**
   * CPU ms of a fixed integer loop (1e8 additions) on this host, measured
   * before the runs: ~100 ms on an idle modern core. Online throughput is
   * bound by the SDK's CPU per call, so compare hosts with this figure.
   */
  cpuCalibrationMs: number;
  online: OnlineBenchResult[];
  offline: { rows: number; files: number; bytes: number; seconds: number; mbPerSec: number; rowsPerSec: number };
}

function cpuCalibrationMs(): number {
  const c0 = process.cpuUsage();
  let acc = 0;
  for (let i = 0; i < 1e8; i++) acc += i;
  const c = process.cpuUsage(c0);
  return acc > 0 ? (c.user + c.system) / 1000 : 0;
}

export async function benchPublish(opts: { records?: number; concurrency?: number; offlineRows?: number; log?: (line: string) => void } = {}): Promise<PublishBenchResult> {
  // Test support lives under test/; loaded lazily so production imports of src/publish never touch it.
  const { startFakeFeatureStoreProcess, openTestSession } = await import('../../test/publish/fake-featurestore.ts');
  const records = opts.records ?? 20_000;
  const concurrency = opts.concurrency ?? 32;
  const offlineRows = opts.offlineRows ?? 200_000;
  const log = opts.log ?? (() => undefined);
  const dir = await mkdtemp(join(tmpdir(), 'ndr-bench-publish-'));
  const session = await openTestSession();
  // The fake runs in its own process, like a remote service: its CPU is not charged to the publisher's event loop.
  const fake = await startFakeFeatureStoreProcess({ seed: 7 });
  try {
    const input = join(dir, 'rows.parquet');
    await writeSampleRows(session, input, { rows: records, metrics: 16 });
    const base: PublishSpecInput = { feature_group: 'bench-fg', concurrency, offline_s3_uri: join(dir, 'offline') };

    const calibration = cpuCalibrationMs();
    log(`publish bench: host CPU calibration ${calibration.toFixed(0)} ms (≈100 ms on an idle modern core)`);
    const online: OnlineBenchResult[] = [];
    for (const throttle of [0, 0.05]) {
      await fake.reset();
      await fake.setFaults({ throttle }, 7);
      const cpu0 = process.cpuUsage();
      const s = await publishOnline({
        session,
        files: [input],
        spec: publishSpecSchema.parse(base),
        batchId: `bench-online-${throttle}`,
        workDir: dir,
        aws: fake.aws,
      });
      const cpu = process.cpuUsage(cpu0);
      const stored = await fake.count('bench-fg');
      const fakeStats = await fake.stats();
      const r: OnlineBenchResult = {
        records,
        throttleRate: throttle,
        concurrency,
        seconds: s.elapsedMs / 1000,
        recordsPerSec: s.recordsPerSec,
        retries: s.retries,
        throttled: s.throttled,
        deadLettered: s.deadLettered,
        stored,
        lost: records - stored - s.deadLettered,
        maxInFlightServer: fakeStats.maxInFlight,
        cpuMsPerRecord: (cpu.user + cpu.system) / 1000 / records,
      };
      log(
        `publish online ${throttle * 100}% throttling, concurrency ${concurrency}: ${r.recordsPerSec.toFixed(0)} records/s, ` +
          `${r.cpuMsPerRecord.toFixed(3)} ms CPU/record, ${r.retries} retries, ${r.deadLettered} dead letters, ${r.lost} lost`,
      );
      online.push(r);
    }

    const offInput = join(dir, 'rows-offline.parquet');
    await writeSampleRows(session, offInput, { rows: offlineRows, perBatch: Math.ceil(offlineRows / 8), metrics: 32 });
    const s = await publishOffline({ session, files: [offInput], spec: publishSpecSchema.parse(base), batchId: 'bench-offline', workDir: dir });
    const offline = {
      rows: s.published,
      files: s.offline!.files.length,
      bytes: s.offline!.bytes,
      seconds: s.elapsedMs / 1000,
      mbPerSec: s.offline!.mbPerSec,
      rowsPerSec: s.recordsPerSec,
    };
    log(`publish offline: ${offline.rows} rows, ${offline.files} files, ${(offline.bytes / 1e6).toFixed(1)} MB, ${offline.mbPerSec.toFixed(1)} MB/s`);
    return { cpuCalibrationMs: calibration, online, offline };
  } finally {
    await fake.close();
    session.close();
    await rm(dir, { recursive: true, force: true });
  }
}
