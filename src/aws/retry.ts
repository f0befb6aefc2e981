/**
 * Retry policy for AWS calls. The SDK's own `standard` retry strategy handles
 * each request (throttling, 5xx, timeouts, connection resets); `withRetry` is
 * for work the SDK cannot retry by itself, e.g. a GetObject body stream that
 * breaks half-way through a download.
 */

/** Attempts per request (first try included) when nothing else is configured. */
export const DEFAULT_MAX_ATTEMPTS = 5;

/** Explicit value > env NDR_AWS_MAX_ATTEMPTS > env AWS_MAX_ATTEMPTS > DEFAULT_MAX_ATTEMPTS. */
export function resolveMaxAttempts(explicit?: number, env: NodeJS.ProcessEnv = process.env): number {
  for (const v of [explicit, env.NDR_AWS_MAX_ATTEMPTS, env.AWS_MAX_ATTEMPTS]) {
    if (v === undefined || v === '') continue;
    const n = Number(v);
    if (Number.isInteger(n) && n >= 1) return n;
  }
  return DEFAULT_MAX_ATTEMPTS;
}

const THROTTLING_NAMES = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'TransactionInProgressException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
  'LimitExceededException',
  'RequestThrottled',
  'SlowDown',
  'PriorRequestNotComplete',
  'EC2ThrottledException',
]);

const TRANSIENT_NAMES = new Set([
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'InternalError',
  'InternalServerError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
]);

const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

interface AwsLikeError {
  name?: string;
  code?: string;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number; attempts?: number };
  transient?: boolean;
}

/** Throttling, 5xx, timeouts and dropped connections: worth another attempt. */
export function isTransientAwsError(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as AwsLikeError;
  if (e.transient === true) return true;
  if (e.$retryable) return true;
  if (e.name && (THROTTLING_NAMES.has(e.name) || TRANSIENT_NAMES.has(e.name))) return true;
  if (e.code && TRANSIENT_CODES.has(e.code)) return true;
  const status = e.$metadata?.httpStatusCode;
  return status !== undefined && (status >= 500 || status === 429);
}

export interface RetryOptions {
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  isRetryable?: (err: unknown) => boolean;
  /** Called before each new attempt (for logging). */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Exponential backoff with full jitter; deterministic errors are rethrown at once. */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const max = resolveMaxAttempts(opts.maxAttempts);
  const base = opts.baseDelayMs ?? 100;
  const cap = opts.maxDelayMs ?? 20_000;
  const retryable = opts.isRetryable ?? isTransientAwsError;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= max || !retryable(err)) throw err;
      const delay = Math.floor(Math.random() * Math.min(cap, base * 2 ** (attempt - 1)));
      opts.onRetry?.(err, attempt, delay);
      await sleep(delay);
    }
  }
}
