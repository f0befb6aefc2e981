/** Types and helpers shared by the offline and online publishers. */
import { createHash } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Session } from '../engine/session.ts';
import { ConfigError } from '../errors/index.ts';
import { ident, inline, lit, sql } from '../engine/sql.ts';
import { DEAD_LETTER_COLUMNS, ROW_KEY, sourceSelectList, type PreparedRows, type RowCounts } from './records.ts';
import type { PublishSpec, PublishTarget } from './spec.ts';
import { joinUri, ObjectStore, type AwsOptions } from './store.ts';

export interface PublishOptions {
  session: Session;
  /** Local Parquet files holding the dataset rows (from the warehouse manifests). */
  files: string[];
  /** The validated `project_parameters.publish.<dataset>` section. */
  spec: PublishSpec;
  /** Overrides spec.feature_group (CLI --feature-group). */
  featureGroup?: string;
  /**
   * Identity of what is being published, e.g. `fg_c-20261124T1215Z` or
   * `fg_a_wide-2026-11-24`: offline file names and the publication record
   * derive from it, so a rerun replaces exactly that batch's files.
   */
  batchId: string;
  /** Local directory for staging and dead-letter files. */
  workDir: string;
  /** Region/endpoint/credentials for clients created here (tests: s3rver, fake Feature Store). */
  aws?: AwsOptions;
  /** S3 client for offline files and dead-letter copies (default: one made from `aws`). */
  s3?: S3Client;
  /** Clock, for tests. */
  now?: () => Date;
  onProgress?: (p: { done: number; total: number }) => void;
}

export interface OfflineFile {
  uri: string;
  /** year=YYYY/month=MM/day=DD/hour=HH */
  partition: string;
  rows: number;
  bytes: number;
}

export interface PublishSummary {
  target: PublishTarget;
  featureGroup: string;
  batchId: string;
  /** Input rows. */
  records: number;
  /** Rows written (offline) or PutRecord calls that succeeded (online). */
  published: number;
  deadLettered: number;
  /** Dead-letter reasons → count (each reason is one line). */
  deadLetterReasons: Record<string, number>;
  /** Local dead-letter Parquet file (source columns + dead_letter_reason/attempts/target/at), when deadLettered > 0. */
  deadLetterFile?: string;
  /** Its copy under spec.dead_letter_uri, if configured. */
  deadLetterUri?: string;
  /** Rows whose NaN/±Infinity features were published as NULL (nan_policy 'null'). */
  nonFiniteNulled: number;
  retries: number;
  throttled: number;
  elapsedMs: number;
  recordsPerSec: number;
  /** Set when the run stopped early on an error that no retry can fix (e.g. unknown feature group, access denied). */
  aborted?: string;
  offline?: {
    dataUri: string;
    publicationRecord: string;
    files: OfflineFile[];
    bytes: number;
    mbPerSec: number;
    /** Files of a previous run of the same batch that were removed. */
    removed: string[];
  };
  online?: {
    concurrency: number;
    /** Worker threads that made calls besides the calling thread. */
    workers: number;
    /** Why a configured worker thread could not start (the run went on without it). */
    workerError?: string;
    attempts: number;
    retryBudget: number;
    budgetExhausted: boolean;
    /** Highest number of PutRecord calls in flight observed by the client. */
    maxInFlight: number;
    targetStores: string[];
  };
}

/** Exit status for the CLI: 1 if any record was dead-lettered or the run aborted. */
export function publishExitCode(s: PublishSummary): 0 | 1 {
  return s.deadLettered > 0 || s.aborted ? 1 : 0;
}

/** One line for the terminal / cron mail. */
export function formatPublishSummary(s: PublishSummary): string {
  const parts = [`${s.published}/${s.records} records`, `${Math.round(s.recordsPerSec)} records/s`];
  if (s.offline) parts.push(`${s.offline.files.length} files`, `${(s.offline.bytes / 1e6).toFixed(2)} MB`, `${s.offline.mbPerSec.toFixed(1)} MB/s`);
  if (s.online) parts.push(`${s.retries} retries (${s.throttled} throttled, budget ${s.online.retryBudget}${s.online.budgetExhausted ? ' exhausted' : ''})`);
  if (s.online?.workerError) parts.push(`a worker thread did not start: ${s.online.workerError}`);
  if (s.nonFiniteNulled) parts.push(`${s.nonFiniteNulled} rows with NaN/Infinity published as NULL`);
  parts.push(`${s.deadLettered} dead letters${s.deadLetterFile ? ` in ${s.deadLetterUri ?? s.deadLetterFile}` : ''}`);
  let line = `publish ${s.target} ${s.featureGroup} batch ${s.batchId}: ${parts.join(', ')}`;
  if (s.aborted) line += `; aborted: ${s.aborted}`;
  return line;
}

export function resolveFeatureGroup(spec: PublishSpec, override?: string): string {
  const fg = override ?? spec.feature_group;
  if (!fg) throw new ConfigError('publish: no feature group: set publish.<dataset>.feature_group in project_parameters or pass --feature-group');
  if (!/^[a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,63}$/.test(fg)) throw new ConfigError(`publish: invalid feature group name ${JSON.stringify(fg)}`);
  return fg;
}

/** A file-name-safe, deterministic form of the batch id (hash suffix when characters had to be replaced). */
export function safeBatchName(batchId: string): string {
  if (!batchId) throw new ConfigError('publish: empty batch id');
  const safe = batchId.replace(/[^A-Za-z0-9_.-]/g, '_');
  if (safe === batchId && safe.length <= 120) return safe;
  return `${safe.slice(0, 100)}~${createHash('sha256').update(batchId).digest('hex').slice(0, 8)}`;
}

export function deadLetterName(featureGroup: string, target: PublishTarget, batchId: string): string {
  return `${featureGroup}/${target}-${safeBatchName(batchId)}.parquet`;
}

/** A failure that happened in TypeScript (online PutRecord), keyed by the source row. */
export interface RowFailure {
  file: string;
  row: number;
  reason: string;
  attempts: number;
}

/**
 * Write the dead-letter file: the source rows exactly as they were plus
 * dead_letter_reason, dead_letter_attempts, dead_letter_target, dead_letter_at.
 * Rows rejected in SQL (missing id/time, NaN policy) have 0 attempts. Returns
 * the number of rows written; removes a stale file of an earlier run when 0.
 */
export async function writeDeadLetters(
  opts: PublishOptions,
  prepared: PreparedRows | undefined,
  counts: RowCounts,
  target: PublishTarget,
  featureGroup: string,
  failures: RowFailure[],
  at: Date,
): Promise<{ count: number; file?: string; uri?: string }> {
  const name = deadLetterName(featureGroup, target, opts.batchId);
  const file = join(opts.workDir, 'dead-letter', name);
  const uri = opts.spec.dead_letter_uri ? joinUri(opts.spec.dead_letter_uri, name) : undefined;
  const store = new ObjectStore(opts.s3, opts.aws);
  const s = opts.session;
  // Rows rejected in SQL (countRows counted them when the run began).
  const rejected = counts.records - counts.publishable;
  if (!prepared || rejected + failures.length === 0) {
    await rm(file, { force: true });
    if (uri) await store.deleteMany([uri]);
    return { count: 0 };
  }

  const failTable = `__pub_fail_${process.pid}_${Date.now()}`;
  await s.run(inline(sql`CREATE TABLE ${ident(failTable)} (f VARCHAR, r BIGINT, reason VARCHAR, attempts INTEGER)`));
  try {
    if (failures.length) {
      const app = await s.conn.createAppender(failTable);
      for (const f of failures) {
        app.appendVarchar(f.file);
        app.appendBigInt(BigInt(f.row));
        app.appendVarchar(f.reason);
        app.appendInteger(f.attempts);
        app.endRow();
      }
      app.flushSync();
      app.closeSync();
    }
    await mkdir(dirname(file), { recursive: true });
    const rows = ident(prepared.rowsView);
    const tail = sql`${lit(target)} AS dead_letter_target, CAST(${lit(at.toISOString().replace('Z', ''))} AS TIMESTAMP) AS dead_letter_at`;
    await s.run(
      inline(sql`COPY (
        SELECT ${sourceSelectList(prepared, 'x')}, x.__pub_reject AS dead_letter_reason, CAST(0 AS INTEGER) AS dead_letter_attempts, ${tail}
        FROM ${rows} AS x WHERE x.__pub_reject IS NOT NULL
        UNION ALL BY NAME
        SELECT ${sourceSelectList(prepared, 'x')}, f.reason AS dead_letter_reason, f.attempts AS dead_letter_attempts, ${tail}
        FROM ${rows} AS x JOIN ${ident(failTable)} AS f ON x.${ident(ROW_KEY.file)} = f.f AND x.${ident(ROW_KEY.row)} = f.r
      ) TO ${lit(file)} (FORMAT parquet)`),
    );
  } finally {
    await s.run(inline(sql`DROP TABLE IF EXISTS ${ident(failTable)}`));
  }
  const count = rejected + failures.length;
  if (uri) await store.putFile(file, uri);
  return { count, file, uri };
}

export { DEAD_LETTER_COLUMNS };
