/**
 * One PutRecord per record with backoff, shared by the in-process publisher
 * and its worker threads (online.ts, online-worker.ts).
 *
 * The run's counters live in an Int32Array over a SharedArrayBuffer and are
 * only touched through Atomics, so several threads draw from one retry budget,
 * see one abort flag and report one in-flight maximum. Each thread bounds its
 * own calls with p-limit; the shares of the threads add up to `concurrency`.
 */
import type { SageMakerFeatureStoreRuntimeClient, FeatureValue, TargetStore } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { featureStoreSdk } from '../aws/sdk.ts';
import pLimit, { type LimitFunction } from 'p-limit';
import { isTransientError } from '../pipeline/retry.ts';
import type { PublishSpec } from './spec.ts';
import type { AwsOptions } from './store.ts';

export function makeFeatureStoreClient(aws: AwsOptions = {}, spec?: Pick<PublishSpec, 'concurrency' | 'request_timeout_ms'>) {
  const concurrency = spec?.concurrency ?? 32;
  const requestTimeout = spec?.request_timeout_ms ?? 10000;
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const client = new (featureStoreSdk().SageMakerFeatureStoreRuntimeClient)({
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
  useStaticUserAgent(client);
  return client;
}

const UA_NAME_UNSAFE = /[^!$%&'*+\-.^_`|~\w]/g;
const UA_VALUE_UNSAFE = /[^!$%&'*+\-.^_`|~\w#]/g;

/** One user-agent section as the SDK writes it: `aws-sdk-js/3.x`, `os/linux#6.1`, `api/sagemaker-featurestore-runtime#3.x`. */
export function userAgentSection([name, version]: readonly [string, string?]): string {
  const slash = name.indexOf('/');
  const prefix = slash < 0 ? '' : name.slice(0, slash).replace(UA_NAME_UNSAFE, '-');
  let id = name.slice(slash + 1).replace(UA_NAME_UNSAFE, '-');
  if (prefix === 'api') id = id.toLowerCase();
  const head = prefix ? `${prefix}/${id}` : id;
  return version ? `${head}${prefix ? '#' : '/'}${version.replace(UA_VALUE_UNSAFE, '-')}` : head;
}

/**
 * The SDK's user-agent middleware rebuilds and re-escapes the same headers on
 * every call (~30 µs of CPU per PutRecord, a twentieth of the call); this one
 * computes them once per client from the same providers. Only the per-call
 * feature list (`m/...`) is left out.
 */
function useStaticUserAgent(client: SageMakerFeatureStoreRuntimeClient): void {
  let headers: Promise<{ ua: string; amz: string }> | undefined;
  const compute = async () => {
    const sections = (await client.config.defaultUserAgentProvider()).map(userAgentSection);
    const appId = await client.config.userAgentAppId?.();
    if (appId) sections.push(userAgentSection(['app', appId]));
    return { ua: sections.join(' '), amz: sections.filter((p) => p.startsWith('aws-sdk-')).join(' ') };
  };
  client.middlewareStack.remove('getUserAgentMiddleware');
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request?.headers) {
        const h = await (headers ??= compute());
        request.headers['user-agent'] = h.ua;
        request.headers['x-amz-user-agent'] = h.amz;
      }
      return next(args);
    },
    { step: 'build', name: 'staticUserAgentMiddleware' },
  );
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

/** Slots of the shared counters. */
export const C = {
  inFlight: 0,
  maxInFlight: 1,
  budgetLeft: 2,
  retries: 3,
  throttled: 4,
  attempts: 5,
  published: 6,
  exhausted: 7,
  aborted: 8,
} as const;

export function newCounters(budget: number): Int32Array {
  const c = new Int32Array(new SharedArrayBuffer(Object.keys(C).length * Int32Array.BYTES_PER_ELEMENT));
  c[C.budgetLeft] = budget;
  return c;
}

function raiseMax(c: Int32Array, slot: number, value: number): void {
  let seen = Atomics.load(c, slot);
  while (value > seen) {
    const prev = Atomics.compareExchange(c, slot, seen, value);
    if (prev === seen) return;
    seen = prev;
  }
}

/**
 * Why a record was not stored. `notAttempted` records were skipped because
 * the run aborted; the thread that saw the fatal answer reports the reason.
 */
export type SendFailure = { notAttempted: true; attempts: number } | { notAttempted?: false; reason: string; attempts: number; key: string };

export interface SenderSettings {
  featureGroup: string;
  targetStores: string[];
  /** Feature names in the order of the values of each record. */
  featureNames: string[];
  /** This thread's share of the run's concurrency. */
  concurrency: number;
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  retryBudget: number;
}

export interface SenderHooks {
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Called once per run, by the thread whose call got the first answer no retry can fix. */
  onAbort: (reason: string) => void;
}

/** Thrown instead of calling PutRecord once the run has aborted. */
class NotAttempted extends Error {}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The FeatureValue list of one record from the JSON array of its values
 * (records.ts `recordValuesJson`): NULL features are left out.
 */
export function toRecord(names: readonly string[], valuesJson: string): FeatureValue[] {
  const values = JSON.parse(valuesJson) as (string | null)[];
  const record: FeatureValue[] = [];
  for (let i = 0; i < names.length; i++) {
    const v = values[i];
    if (v !== null && v !== undefined) record.push({ FeatureName: names[i], ValueAsString: v });
  }
  return record;
}

export class RecordSender {
  private readonly limit: LimitFunction;
  private readonly random: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly targetStores: TargetStore[];

  constructor(
    private readonly client: SageMakerFeatureStoreRuntimeClient,
    private readonly s: SenderSettings,
    readonly counters: Int32Array,
    private readonly hooks: SenderHooks,
  ) {
    this.limit = pLimit(s.concurrency);
    this.random = hooks.random ?? Math.random;
    this.sleep = hooks.sleep ?? defaultSleep;
    this.targetStores = s.targetStores as TargetStore[];
  }

  get aborted(): boolean {
    return Atomics.load(this.counters, C.aborted) !== 0;
  }

  /** Store one record; resolves to why it was not stored, or undefined once it was. */
  async put(valuesJson: string): Promise<SendFailure | undefined> {
    const record = toRecord(this.s.featureNames, valuesJson);
    const c = this.counters;
    for (let attempt = 1; ; attempt++) {
      if (this.aborted) return { notAttempted: true, attempts: attempt - 1 };
      try {
        await this.limit(() => this.call(record));
        Atomics.add(c, C.published, 1);
        return undefined;
      } catch (err) {
        if (err instanceof NotAttempted) return { notAttempted: true, attempts: attempt - 1 };
        const failure = this.afterError(err, attempt);
        if (failure) return failure;
        const ceiling = Math.min(this.s.maxDelayMs, this.s.baseDelayMs * 2 ** (attempt - 1));
        await this.sleep(Math.floor(this.random() * ceiling));
      }
    }
  }

  private async call(record: FeatureValue[]): Promise<void> {
    if (this.aborted) throw new NotAttempted();
    const c = this.counters;
    Atomics.add(c, C.attempts, 1);
    raiseMax(c, C.maxInFlight, Atomics.add(c, C.inFlight, 1) + 1);
    try {
      await this.client.send(new (featureStoreSdk().PutRecordCommand)({ FeatureGroupName: this.s.featureGroup, Record: record, TargetStores: this.targetStores }));
    } catch (err) {
      // Before p-limit starts the next call, so nothing else is sent after a fatal answer.
      if (classifyPutRecordError(err) === 'fatal') this.abort(describeError(err));
      throw err;
    } finally {
      Atomics.sub(c, C.inFlight, 1);
    }
  }

  private abort(reason: string): void {
    if (Atomics.compareExchange(this.counters, C.aborted, 0, 1) === 0) this.hooks.onAbort(reason);
  }

  /** The failure to report, or undefined when the record gets another attempt (a retry has been granted). */
  private afterError(err: unknown, attempt: number): SendFailure | undefined {
    const cls = classifyPutRecordError(err);
    const what = describeError(err);
    const errName = what.split(/[:(]/)[0].trim();
    if (cls === 'fatal') return { reason: what, attempts: attempt, key: errName };
    if (cls === 'reject') return { reason: what, attempts: attempt, key: errName };
    const c = this.counters;
    if (isThrottle(err)) Atomics.add(c, C.throttled, 1);
    if (attempt >= this.s.maxAttempts) return { reason: `${what} (gave up after ${attempt} attempts)`, attempts: attempt, key: `${errName} after max_attempts` };
    if (Atomics.sub(c, C.budgetLeft, 1) <= 0) {
      Atomics.store(c, C.exhausted, 1);
      return {
        reason: `${what} (run retry budget of ${this.s.retryBudget} exhausted)`,
        attempts: attempt,
        key: `${errName} with retry budget exhausted`,
      };
    }
    Atomics.add(c, C.retries, 1);
    return undefined;
  }
}
