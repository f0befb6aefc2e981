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
 */
import {
  PutRecordCommand,
  SageMakerFeatureStoreRuntimeClient,
  type FeatureValue,
  type TargetStore,
} from '@aws-sdk/client-sagemaker-featurestore-runtime';
import pLimit from 'p-limit';
import { ident, inline, sql } from '../engine/sql.ts';
import { isTransientError } from '../pipeline/retry.ts';
import {
  resolveFeatureGroup,
  writeDeadLetters,
  type PublishOptions,
  type PublishSummary,
  type RowFailure,
} from './common.ts';
import { countRows, featureSelectList, prepareRows, ROW_KEY, type PreparedRows } from './records.ts';
import { retryBudgetFor, type PublishSpec } from './spec.ts';
import type { AwsOptions } from './store.ts';

export interface OnlinePublishOptions extends PublishOptions {
  /** A client to use as is (it should have maxAttempts: 1). Default: one from `aws` and the spec. */
  client?: SageMakerFeatureStoreRuntimeClient;
  /** For tests: jitter source and sleep. */
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export function makeFeatureStoreClient(aws: AwsOptions = {}, spec?: Pick<PublishSpec, 'concurrency' | 'request_timeout_ms'>) {
  const concurrency = spec?.concurrency ?? 32;
  const requestTimeout = spec?.request_timeout_ms ?? 10000;
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return new SageMakerFeatureStoreRuntimeClient({
    region: aws.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    ...(aws.endpoint ? { endpoint: aws.endpoint } : {}),
    ...(aws.credentials ? { credentials: aws.credentials } : {}),
    maxAttempts: 1,
    // Resolve the middleware stack once per command class instead of once per call.
    cacheMiddleware: true,
    requestHandler: {
      httpAgent: { keepAlive: true, maxSockets: concurrency },
      httpsAgent: { keepAlive: true, maxSockets: concurrency },
      connectionTimeout: Math.min(requestTimeout, 5000),
      requestTimeout,
      throwOnRequestTimeout: true,
    },
  });
}

const FATAL = new Set([
  'AccessForbidden',
  'AccessDeniedException',
  'ResourceNotFound',
  'ResourceNotFoundException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'IncompleteSignature',
  'MissingAuthenticationToken',
  'InvalidClientTokenId',
  'ExpiredTokenException',
  'ExpiredToken',
  'CredentialsProviderError',
]);
const THROTTLE = /Throttl|TooManyRequests|RequestLimitExceeded|SlowDown/;

type ErrorClass = 'retry' | 'fatal' | 'reject';

export function classifyPutRecordError(err: unknown): ErrorClass {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  if (e?.name && FATAL.has(e.name)) return 'fatal';
  const status = e?.$metadata?.httpStatusCode;
  if (status === 401 || status === 403) return 'fatal';
  return isTransientError(err) ? 'retry' : 'reject';
}

function isThrottle(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.$metadata?.httpStatusCode === 429 || THROTTLE.test(e?.name ?? '');
}

/** One line: `ThrottlingException (HTTP 429): Rate exceeded` / `ECONNRESET: socket hang up`. */
export function describeError(err: unknown): string {
  const e = err as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const name = e?.name && e.name !== 'Error' ? e.name : (e?.code ?? e?.name ?? 'Error');
  const status = e?.$metadata?.httpStatusCode;
  const msg = (e?.message ?? String(err)).replace(/\s*\n\s*/g, ' ').trim();
  return `${name}${status ? ` (HTTP ${status})` : ''}${msg && msg !== name ? `: ${msg}` : ''}`;
}

/** Thrown instead of calling PutRecord once the run has aborted. */
class NotAttempted extends Error {}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function publishOnline(opts: OnlinePublishOptions): Promise<PublishSummary> {
  const now = opts.now ?? (() => new Date());
  const t0 = performance.now();
  const spec = opts.spec;
  const featureGroup = resolveFeatureGroup(spec, opts.featureGroup);
  const session = opts.session;
  const random = opts.random ?? Math.random;
  const sleep = opts.sleep ?? defaultSleep;

  let prepared: PreparedRows | undefined;
  const ownClient = !opts.client;
  const client = opts.client ?? makeFeatureStoreClient(opts.aws, spec);
  try {
    // Validation first: a bad configuration fails here, before any call.
    prepared = opts.files.length ? await prepareRows(session, opts.files, spec, featureGroup, 'online') : undefined;
    const counts = prepared ? await countRows(session, prepared) : { records: 0, publishable: 0, nonFiniteNulled: 0, rejected: {} };
    const budget = retryBudgetFor(spec, counts.records);

    const stats = { published: 0, retries: 0, throttled: 0, attempts: 0, inFlight: 0, maxInFlight: 0, budgetLeft: budget, exhausted: false };
    const failures: RowFailure[] = [];
    const reasons: Record<string, number> = { ...counts.rejected };
    const fail = (file: string, row: number, reason: string, attempts: number, key: string) => {
      failures.push({ file, row, reason, attempts });
      reasons[key] = (reasons[key] ?? 0) + 1;
    };
    let aborted: string | undefined;

    if (prepared && counts.publishable > 0) {
      const limit = pLimit(spec.concurrency);
      const targetStores = spec.target_stores as TargetStore[];
      const names = prepared.features.map((f) => f.name);
      const send = async (record: FeatureValue[]) => {
        if (aborted) throw new NotAttempted();
        stats.attempts++;
        stats.inFlight++;
        if (stats.inFlight > stats.maxInFlight) stats.maxInFlight = stats.inFlight;
        try {
          await client.send(new PutRecordCommand({ FeatureGroupName: featureGroup, Record: record, TargetStores: targetStores }));
        } catch (err) {
          // Set before p-limit starts the next call, so nothing else is sent after a fatal answer.
          if (classifyPutRecordError(err) === 'fatal') aborted ??= describeError(err);
          throw err;
        } finally {
          stats.inFlight--;
        }
      };

      const processRecord = async (file: string, row: number, record: FeatureValue[]) => {
        for (let attempt = 1; ; attempt++) {
          if (aborted) return fail(file, row, `not attempted: run aborted (${aborted})`, attempt - 1, 'not attempted: run aborted');
          try {
            await limit(send, record);
            stats.published++;
            return;
          } catch (err) {
            if (err instanceof NotAttempted) return fail(file, row, `not attempted: run aborted (${aborted})`, attempt - 1, 'not attempted: run aborted');
            const cls = classifyPutRecordError(err);
            const what = describeError(err);
            const errName = what.split(/[:(]/)[0].trim();
            if (cls === 'fatal') {
              aborted ??= what;
              return fail(file, row, what, attempt, errName);
            }
            if (cls === 'reject') return fail(file, row, what, attempt, errName);
            if (isThrottle(err)) stats.throttled++;
            if (attempt >= spec.max_attempts) return fail(file, row, `${what} (gave up after ${attempt} attempts)`, attempt, `${errName} after max_attempts`);
            if (stats.budgetLeft <= 0) {
              stats.exhausted = true;
              return fail(file, row, `${what} (run retry budget of ${budget} exhausted)`, attempt, `${errName} with retry budget exhausted`);
            }
            stats.budgetLeft--;
            stats.retries++;
            const ceiling = Math.min(spec.max_delay_ms, spec.base_delay_ms * 2 ** (attempt - 1));
            await sleep(Math.floor(random() * ceiling));
          }
        }
      };

      // A window of records in progress (in flight or backing off) bounds memory for any input size.
      const window = spec.concurrency * 8;
      let active = 0;
      let wake: (() => void) | undefined;
      const drained = () => new Promise<void>((r) => (wake = r));
      let done = 0;
      const total = counts.publishable;

      const stream = await session.conn.stream(
        inline(sql`SELECT ${ident(ROW_KEY.file)}, CAST(${ident(ROW_KEY.row)} AS BIGINT), ${featureSelectList(prepared, 'text')}
          FROM ${ident(prepared.rowsView)} WHERE __pub_reject IS NULL`),
      );
      for await (const rows of stream.yieldRows()) {
        for (const values of rows) {
          const file = values[0] as string;
          const row = Number(values[1] as bigint);
          const record: FeatureValue[] = [];
          for (let i = 0; i < names.length; i++) {
            const v = values[i + 2];
            if (v !== null && v !== undefined) record.push({ FeatureName: names[i], ValueAsString: v as string });
          }
          while (active >= window) await drained();
          active++;
          void processRecord(file, row, record).finally(() => {
            active--;
            done++;
            if (done % 1000 === 0) opts.onProgress?.({ done, total });
            const w = wake;
            wake = undefined;
            w?.();
          });
        }
      }
      while (active > 0) await drained();
      opts.onProgress?.({ done, total });
    }

    const dl = await writeDeadLetters(opts, prepared, 'online', featureGroup, failures, now());
    const elapsedMs = performance.now() - t0;
    return {
      target: 'online',
      featureGroup,
      batchId: opts.batchId,
      records: counts.records,
      published: stats.published,
      deadLettered: dl.count,
      deadLetterReasons: reasons,
      deadLetterFile: dl.file,
      deadLetterUri: dl.uri,
      nonFiniteNulled: counts.nonFiniteNulled,
      retries: stats.retries,
      throttled: stats.throttled,
      elapsedMs,
      recordsPerSec: elapsedMs > 0 ? (stats.published * 1000) / elapsedMs : 0,
      aborted,
      online: {
        concurrency: spec.concurrency,
        attempts: stats.attempts,
        retryBudget: budget,
        budgetExhausted: stats.exhausted,
        maxInFlight: stats.maxInFlight,
        targetStores: spec.target_stores,
      },
    };
  } finally {
    if (ownClient) client.destroy();
    await prepared?.drop();
  }
}
