import { describe, expect, it } from 'vitest';
import { DataError, TransientError } from '../../src/errors/index.ts';
import { backoffDelay, isTransientError, withRetry } from '../../src/pipeline/retry.ts';

const awsError = (name: string, status: number, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status }, ...extra });

describe('isTransientError', () => {
  it('retries transient NdrErrors, throttling, 5xx, timeouts and dropped connections', () => {
    expect(isTransientError(new TransientError('s3 503'))).toBe(true);
    expect(isTransientError(awsError('ThrottlingException', 400))).toBe(true);
    expect(isTransientError(awsError('ProvisionedThroughputExceededException', 400))).toBe(true);
    expect(isTransientError(awsError('SlowDown', 503))).toBe(true);
    expect(isTransientError(awsError('InternalServerError', 500))).toBe(true);
    expect(isTransientError(awsError('TooManyRequests', 429))).toBe(true);
    expect(isTransientError(Object.assign(new Error('t'), { name: 'TimeoutError' }))).toBe(true);
    expect(isTransientError(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBe(true);
  });

  it('does not retry deterministic errors', () => {
    expect(isTransientError(new DataError({ rule: 'not_null', column: 'src_ip' }, 'null'))).toBe(false);
    expect(isTransientError(awsError('ValidationException', 400))).toBe(false);
    expect(isTransientError(awsError('ConditionalCheckFailedException', 400))).toBe(false);
    expect(isTransientError(awsError('AccessDenied', 403))).toBe(false);
    expect(isTransientError(new Error('syntax error'))).toBe(false);
    expect(isTransientError('string')).toBe(false);
  });
});

describe('backoffDelay (full jitter)', () => {
  it('is uniform in [0, min(maxMs, base * 2^(n-1))]', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, 100, 1000, () => 0.999999))).toEqual([99, 199, 399, 799, 999, 999]);
    expect(backoffDelay(4, 100, 1000, () => 0)).toBe(0);
    expect(backoffDelay(3, 100, 1000, () => 0.5)).toBe(200);
  });
});

describe('withRetry', () => {
  const noSleep = { sleep: async () => {} };

  it('retries a transient error until success and reports each retry', async () => {
    const seen: [number, number][] = [];
    let calls = 0;
    const out = await withRetry(
      async (attempt) => {
        calls++;
        if (attempt < 3) throw awsError('ThrottlingException', 400);
        return `ok@${attempt}`;
      },
      { attempts: 5, baseMs: 100, maxMs: 1000, random: () => 0.5, onRetry: (_e, n, d) => seen.push([n, d]), ...noSleep },
    );
    expect(out).toBe('ok@3');
    expect(calls).toBe(3);
    expect(seen).toEqual([
      [1, 50],
      [2, 100],
    ]);
  });

  it('gives up after `attempts` and rethrows the last error', async () => {
    let calls = 0;
    const err = await withRetry(
      async () => {
        calls++;
        throw new TransientError(`fail ${calls}`);
      },
      { attempts: 4, baseMs: 1, maxMs: 2, ...noSleep },
    ).catch((e) => e);
    expect(calls).toBe(4);
    expect(err).toBeInstanceOf(TransientError);
    expect(err.message).toBe('fail 4');
  });

  it('does not retry a deterministic error', async () => {
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw awsError('ValidationException', 400);
        },
        { attempts: 5, baseMs: 1, maxMs: 2, ...noSleep },
      ),
    ).rejects.toThrow('ValidationException');
    expect(calls).toBe(1);
  });

  it('really sleeps between attempts', async () => {
    const t0 = Date.now();
    let calls = 0;
    await withRetry(
      async () => {
        if (++calls < 3) throw new TransientError('x');
      },
      { attempts: 3, baseMs: 60, maxMs: 60, random: () => 0.999 },
    );
    expect(Date.now() - t0).toBeGreaterThanOrEqual(100); // 59 + 59 ms
  });
});
