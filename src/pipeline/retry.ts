/**
 * Retries with exponential backoff and full jitter (ARCHITECTURE.md, Pipeline
 * operation: transient errors are retried, deterministic ones are not).
 */

export interface RetryOptions {
  /** Total attempts, including the first (>= 1). */
  attempts: number;
  /** Base delay of the first retry, ms. */
  baseMs: number;
  /** Cap of any single delay, ms. */
  maxMs: number;
  /** Which errors to retry; default isTransientError. */
  isTransient?: (err: unknown) => boolean;
  /** Called before each retry sleep (for logging / ledger attempts). attempt = the attempt that failed, 1-based. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /** Injected for tests. */
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

const THROTTLING = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'RequestThrottledException',
  'RequestThrottled',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
  'LimitExceededException',
  'SlowDown',
  'PriorBatchInProgressException',
  'EC2ThrottledException',
  'TransactionInProgressException',
]);
const TIMEOUTS = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);
const NET_CODES = new Set(['ETIMEDOUT', 'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT']);

/**
 * Transient: an error with `transient === true` (NdrError's TransientError), an
 * AWS throttling error, an HTTP 5xx/429, a timeout, or a dropped connection.
 * Everything else (validation, 4xx, bad data, config) is deterministic.
 */
export function isTransientError(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as {
    transient?: unknown;
    name?: unknown;
    code?: unknown;
    $retryable?: { throttling?: boolean };
    $metadata?: { httpStatusCode?: number };
    $fault?: unknown;
    cause?: unknown;
  };
  if (e.transient === true) return true;
  if (e.transient === false) return false; // an NdrError that says it is deterministic
  const name = typeof e.name === 'string' ? e.name : '';
  const code = typeof e.code === 'string' ? e.code : '';
  if (THROTTLING.has(name) || THROTTLING.has(code)) return true;
  if (TIMEOUTS.has(name) || TIMEOUTS.has(code)) return true;
  if (NET_CODES.has(code)) return true;
  if (e.$retryable) return true;
  const status = e.$metadata?.httpStatusCode;
  if (typeof status === 'number' && (status >= 500 || status === 429)) return true;
  if (e.$fault === 'server' && status === undefined) return true;
  if (e.cause && e.cause !== err) return isTransientError(e.cause);
  return false;
}

/** Full jitter: uniform in [0, min(maxMs, baseMs * 2^(retry-1))], retry = 1 for the first retry. */
export function backoffDelay(retry: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * ceiling);
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Run `fn`; on a transient error wait and try again, up to `attempts` in all. Rethrows the last error. */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const attempts = Math.max(1, Math.floor(opts.attempts));
  const isTransient = opts.isTransient ?? isTransientError;
  const sleep = opts.sleep ?? defaultSleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= attempts || !isTransient(err)) throw err;
      const delay = backoffDelay(attempt, opts.baseMs, opts.maxMs, opts.random);
      opts.onRetry?.(err, attempt, delay);
      await sleep(delay);
    }
  }
}
