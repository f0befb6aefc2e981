/**
 * Online target: one PutRecord per record through
 * `@aws-sdk/client-sagemaker-featurestore-runtime`, with
 * - bounded concurrency (p-limit): at most `concurrency` calls in flight; a
 *   record waiting out a backoff does not hold a slot;
 * - exponential backoff with full jitter on throttling (ThrottlingException,
 *   HTTP 429), 5xx (InternalFailure, ServiceUnavailable), timeouts and
 *   dropped connections; at most `max_attempts` per record and `retry_budget`
 *   retries for the whole run (so a throttling storm degrades into dead
 *   letters instead of an endless run);
 * - no retry on errors a retry cannot fix: ValidationError dead-letters that
 *   record; AccessForbidden / ResourceNotFound / bad credentials abort the run
 *   (every record not yet stored is dead-lettered as "not attempted");
 * - a dead-letter Parquet file of every record that was not stored, with its
 *   reason and attempts: nothing is lost silently.
 *
 * PutRecord is a full overwrite keyed by (record identifier, event time), so
 * retrying a call whose response was lost is safe. The SDK's own retries are
 * turned off (maxAttempts 1) so that attempts and the budget are counted here.
 *
 * Rows come from DuckDB as one JSON text of their feature values each
 * (records.ts `recordValuesJson`), which is cheaper to fetch than a JS value
 * per feature. The calls themselves cost ~0.4–0.7 ms of CPU each on this
 * project's 2-core hosts (SDK serialisation, SigV4 signing, HTTP and the
 * loopback syscalls), which bounds one thread to roughly 1,500–2,000 calls/s.
 * Spec `workers` adds worker threads that make calls too (online-workers.ts),
 * sharing the retry budget, the abort flag and the in-flight count with this
 * thread through atomics; they help only where cores are idle.
 */
import { availableParallelism } from 'node:os';
import type { SageMakerFeatureStoreRuntimeClient } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import type { Session } from '../engine/session.ts';
import { ident, inline, sql } from '../engine/sql.ts';
import {
  resolveFeatureGroup,
  writeDeadLetters,
  type PublishOptions,
  type PublishSummary,
  type RowFailure,
} from './common.ts';
import { C, newCounters, type SenderSettings } from './online-sender.ts';
import { SenderPool, type PooledFailure } from './online-workers.ts';
import { countRows, prepareRows, recordValuesJson, ROW_KEY, type PreparedRows } from './records.ts';
import { retryBudgetFor, type PublishSpec } from './spec.ts';

export { classifyPutRecordError, describeError, makeFeatureStoreClient } from './online-sender.ts';

export interface OnlinePublishOptions extends PublishOptions {
  /** A client to use as is (it should have maxAttempts: 1). Default: one from `aws` and the spec. Implies no worker threads. */
  client?: SageMakerFeatureStoreRuntimeClient;
  /** For tests: jitter source and sleep. Imply no worker threads (functions cannot cross threads). */
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** For tests: hand out no record before every worker thread has started, so that short runs use them too. */
  awaitWorkers?: boolean;
}

/** Worker threads for a run: the calling thread always sends too and keeps a share of at least one call. */
export function workerCount(spec: Pick<PublishSpec, 'workers' | 'concurrency'>, opts: Pick<OnlinePublishOptions, 'client' | 'random' | 'sleep'> = {}): number {
  if (opts.client || opts.random || opts.sleep) return 0;
  const wanted = spec.workers === 'auto' ? (availableParallelism() >= 2 ? 1 : 0) : spec.workers;
  return Math.max(0, Math.min(wanted, spec.concurrency - 1));
}

type RowFn = (file: string, row: number, recordJson: string) => void | Promise<void>;

/** Every publishable row, as (file, row number, JSON array of the feature values). */
async function forEachRecord(session: Session, prepared: PreparedRows, fn: RowFn): Promise<void> {
  const stream = await session.conn.stream(
    inline(sql`SELECT ${ident(ROW_KEY.file)}, CAST(${ident(ROW_KEY.row)} AS BIGINT), ${recordValuesJson(prepared)}
      FROM ${ident(prepared.rowsView)} WHERE __pub_reject IS NULL`),
  );
  for await (const rows of stream.yieldRows()) {
    for (const values of rows) {
      const pending = fn(values[0] as string, Number(values[1] as bigint), values[2] as string);
      if (pending) await pending;
    }
  }
}

interface SendRun {
  opts: OnlinePublishOptions;
  prepared: PreparedRows;
  settings: SenderSettings;
  workers: number;
  counters: Int32Array;
  onAbort: (reason: string) => void;
  onSettled: (n: number) => void;
}

interface SendResult {
  failures: PooledFailure[];
  workersStarted: number;
  workerError?: string;
}

/** Hand every publishable record to the senders; once the run has aborted, the rest are not attempted. */
async function sendAll(run: SendRun): Promise<SendResult> {
  const { opts, counters } = run;
  const pool = new SenderPool({
    workers: run.workers,
    settings: run.settings,
    aws: opts.aws,
    requestTimeoutMs: opts.spec.request_timeout_ms,
    counters,
    onAbort: run.onAbort,
    onSettled: run.onSettled,
    client: opts.client,
    random: opts.random,
    sleep: opts.sleep,
  });
  const skipped: PooledFailure[] = [];
  try {
    if (opts.awaitWorkers) await pool.workersReady();
    await forEachRecord(opts.session, run.prepared, (file, row, json) => {
      if (!Atomics.load(counters, C.aborted)) return pool.submit(file, row, json);
      skipped.push({ file, row, failure: { notAttempted: true, attempts: 0 } });
      run.onSettled(1);
    });
    await pool.drain();
  } finally {
    await pool.close();
  }
  return { failures: [...pool.failures, ...skipped], workersStarted: pool.workersStarted, workerError: pool.workerError };
}

export async function publishOnline(opts: OnlinePublishOptions): Promise<PublishSummary> {
  const now = opts.now ?? (() => new Date());
  const t0 = performance.now();
  const spec = opts.spec;
  const featureGroup = resolveFeatureGroup(spec, opts.featureGroup);
  const session = opts.session;

  let prepared: PreparedRows | undefined;
  try {
    // Validation first: a bad configuration fails here, before any call.
    prepared = opts.files.length ? await prepareRows(session, opts.files, spec, featureGroup, 'online') : undefined;
    const counts = prepared ? await countRows(session, prepared) : { records: 0, publishable: 0, nonFiniteNulled: 0, rejected: {} };
    const budget = retryBudgetFor(spec, counts.records);
    const counters = newCounters(budget);
    let aborted: string | undefined;
    let sent: SendResult = { failures: [], workersStarted: 0 };
    if (prepared && counts.publishable > 0) {
      sent = await sendAll({
        opts,
        prepared,
        workers: workerCount(spec, opts),
        counters,
        settings: senderSettings(spec, featureGroup, prepared, budget),
        onAbort: (reason) => void (aborted ??= reason),
        onSettled: progress(opts, counts.publishable),
      });
    }

    const reasons: Record<string, number> = { ...counts.rejected };
    const failures = sent.failures.map((f) => toRowFailure(f, aborted));
    for (const f of failures) reasons[f.key] = (reasons[f.key] ?? 0) + 1;
    const dl = await writeDeadLetters(opts, prepared, counts, 'online', featureGroup, failures, now());
    const elapsedMs = performance.now() - t0;
    const published = counters[C.published];
    return {
      target: 'online',
      featureGroup,
      batchId: opts.batchId,
      records: counts.records,
      published,
      deadLettered: dl.count,
      deadLetterReasons: reasons,
      deadLetterFile: dl.file,
      deadLetterUri: dl.uri,
      nonFiniteNulled: counts.nonFiniteNulled,
      retries: counters[C.retries],
      throttled: counters[C.throttled],
      elapsedMs,
      recordsPerSec: elapsedMs > 0 ? (published * 1000) / elapsedMs : 0,
      aborted,
      online: {
        concurrency: spec.concurrency,
        workers: sent.workersStarted,
        ...(sent.workerError ? { workerError: sent.workerError } : {}),
        attempts: counters[C.attempts],
        retryBudget: budget,
        budgetExhausted: counters[C.exhausted] !== 0,
        maxInFlight: counters[C.maxInFlight],
        targetStores: spec.target_stores,
      },
    };
  } finally {
    await prepared?.drop();
  }
}

function senderSettings(spec: PublishSpec, featureGroup: string, prepared: PreparedRows, budget: number): SenderSettings {
  return {
    featureGroup,
    targetStores: spec.target_stores,
    featureNames: prepared.features.map((f) => f.name),
    concurrency: spec.concurrency,
    maxAttempts: spec.max_attempts,
    baseDelayMs: spec.base_delay_ms,
    maxDelayMs: spec.max_delay_ms,
    retryBudget: budget,
  };
}

/** onSettled callback that reports progress every 1,000 records and at the end. */
function progress(opts: OnlinePublishOptions, total: number): (n: number) => void {
  let done = 0;
  return (n) => {
    const before = done;
    done += n;
    if (done === total || Math.floor(done / 1000) > Math.floor(before / 1000)) opts.onProgress?.({ done, total });
  };
}

function toRowFailure({ file, row, failure }: PooledFailure, aborted: string | undefined): RowFailure & { key: string } {
  if (failure.notAttempted) return { file, row, reason: `not attempted: run aborted (${aborted})`, attempts: failure.attempts, key: 'not attempted: run aborted' };
  return { file, row, reason: failure.reason, attempts: failure.attempts, key: failure.key };
}
