import { describe, expect, it } from 'vitest';
import { availableParallelism } from 'node:os';
import { publishSectionSchema, publishSpecFor, publishSpecSchema, retryBudgetFor } from '../../src/publish/spec.ts';
import { columnKind } from '../../src/publish/records.ts';
import { formatPublishSummary, publishExitCode, safeBatchName, type PublishSummary } from '../../src/publish/common.ts';
import { classifyPutRecordError, describeError, workerCount } from '../../src/publish/online.ts';
import { userAgentSection } from '../../src/publish/online-sender.ts';
import { splitConcurrency } from '../../src/publish/online-workers.ts';
import { joinUri, parseStoreUri } from '../../src/publish/store.ts';

describe('publish spec', () => {
  it('fills the documented defaults', () => {
    const s = publishSpecSchema.parse({ feature_group: 'ndr-fg-c' });
    expect(s).toMatchObject({
      feature_group: 'ndr-fg-c',
      record_identifier: 'record_id',
      event_time: 'window_end_ts',
      event_time_feature_name: 'event_time',
      event_time_format: 'iso',
      concurrency: 32,
      retry_budget: '25%',
      max_attempts: 8,
      base_delay_ms: 50,
      max_delay_ms: 5000,
      nan_policy: 'null',
      target_stores: ['OnlineStore'],
      exclude: [],
    });
    expect(s.features).toBeUndefined();
  });

  it('rejects bad names, reserved feature names and unknown policies', () => {
    expect(publishSpecSchema.safeParse({ feature_group: 'bad name' }).success).toBe(false);
    expect(publishSpecSchema.safeParse({ record_identifier: 'write_time' }).success).toBe(false);
    expect(publishSpecSchema.safeParse({ features: ['ok', 'is_deleted'] }).success).toBe(false);
    expect(publishSpecSchema.safeParse({ nan_policy: 'zero' }).success).toBe(false);
    expect(publishSpecSchema.safeParse({ retry_budget: 'lots' }).success).toBe(false);
    expect(publishSpecSchema.safeParse({ offline_s3_uri: 'gs://bucket/x' }).success).toBe(false);
    expect(publishSpecSchema.safeParse({ offline_s3_uri: 's3://bucket/x' }).success).toBe(true);
    expect(publishSpecSchema.safeParse({ concurrency: 0 }).success).toBe(false);
  });

  it('parses a publish section keyed by dataset', () => {
    const sec = publishSectionSchema.parse({ fg_c: { feature_group: 'c' }, fg_a_wide: { feature_group: 'a', nan_policy: 'dead_letter' } });
    expect(sec.fg_c.concurrency).toBe(32);
    expect(sec.fg_a_wide.nan_policy).toBe('dead_letter');
    expect(publishSectionSchema.parse(undefined)).toEqual({});
  });

  it('identifies fg_a_wide records by host_ip unless the section names a column; fg_c by record_id', () => {
    const sec = publishSectionSchema.parse({ fg_c: {}, fg_a_wide: {} });
    expect([sec.fg_c.record_identifier, sec.fg_a_wide.record_identifier]).toEqual(['record_id', 'host_ip']);
    expect(publishSpecFor('fg_a_wide').record_identifier).toBe('host_ip');
    expect(publishSpecFor('fg_a_wide', { record_identifier: 'mini_batch_id' }).record_identifier).toBe('mini_batch_id');
    // Parsing an already parsed section again changes nothing.
    expect(publishSpecFor('fg_a_wide', sec.fg_a_wide)).toEqual(sec.fg_a_wide);
    // A bad value keeps its path below the dataset.
    const bad = publishSectionSchema.safeParse({ fg_c: { concurrency: 0 } });
    expect(bad.success ? [] : bad.error.issues.map((i) => i.path.join('.'))).toEqual(['fg_c.concurrency']);
  });

  it('computes the retry budget from a number or a percentage of the records', () => {
    expect(retryBudgetFor({ retry_budget: 7 }, 1000)).toBe(7);
    expect(retryBudgetFor({ retry_budget: '25%' }, 1000)).toBe(250);
    expect(retryBudgetFor({ retry_budget: '2.5%' }, 101)).toBe(3);
  });
});

describe('publish helpers', () => {
  it('maps DuckDB types to Feature Store kinds', () => {
    expect(columnKind('BIGINT')).toBe('int');
    expect(columnKind('DOUBLE')).toBe('float');
    expect(columnKind('DECIMAL(18,3)')).toBe('decimal');
    expect(columnKind('TIMESTAMP WITH TIME ZONE')).toBe('timestamp');
    expect(columnKind('VARCHAR')).toBe('string');
    expect(columnKind('VARCHAR[]')).toBe('unsupported');
  });

  it('derives safe, deterministic batch names', () => {
    expect(safeBatchName('fg_c-20261124T1215Z')).toBe('fg_c-20261124T1215Z');
    const odd = safeBatchName('2026-11-24 12:15/x');
    expect(odd).toMatch(/^2026-11-24_12_15_x~[0-9a-f]{8}$/);
    expect(safeBatchName('2026-11-24 12:15/x')).toBe(odd);
    expect(safeBatchName('2026-11-24_12_15_x')).not.toBe(odd);
  });

  it('parses store URIs', () => {
    expect(parseStoreUri('s3://b/p/q/')).toEqual({ kind: 's3', bucket: 'b', key: 'p/q' });
    expect(parseStoreUri('file:///tmp/x')).toEqual({ kind: 'local', path: '/tmp/x' });
    expect(parseStoreUri('/tmp/y')).toEqual({ kind: 'local', path: '/tmp/y' });
    expect(() => parseStoreUri('gs://b/x')).toThrow(/unsupported URI/);
    expect(joinUri('s3://b/p/', 'fg', '/data/')).toBe('s3://b/p/fg/data');
  });

  it('splits the concurrency between the senders and picks the worker threads', () => {
    expect(splitConcurrency(32, 3)).toEqual([11, 11, 10]);
    expect(splitConcurrency(16, 4)).toEqual([4, 4, 4, 4]);
    expect(splitConcurrency(5, 5)).toEqual([1, 1, 1, 1, 1]);
    expect(workerCount({ workers: 0, concurrency: 32 })).toBe(0);
    expect(workerCount({ workers: 2, concurrency: 32 })).toBe(2);
    // The calling thread keeps a share of at least one call.
    expect(workerCount({ workers: 8, concurrency: 4 })).toBe(3);
    expect(workerCount({ workers: 3, concurrency: 1 })).toBe(0);
    // Injected functions cannot cross threads.
    expect(workerCount({ workers: 2, concurrency: 32 }, { random: Math.random })).toBe(0);
    // 'auto' (the default): one worker where a second CPU exists, none on a single CPU.
    expect(publishSpecSchema.parse({}).workers).toBe('auto');
    expect(workerCount({ workers: 'auto', concurrency: 32 })).toBe(availableParallelism() >= 2 ? 1 : 0);
    expect(workerCount({ workers: 'auto', concurrency: 1 })).toBe(0);
    expect(publishSpecSchema.safeParse({ workers: -1 }).success).toBe(false);
    expect(publishSpecSchema.safeParse({ workers: 'many' }).success).toBe(false);
  });

  it('formats user-agent sections as the SDK does', () => {
    expect(userAgentSection(['aws-sdk-js', '3.1137.0'])).toBe('aws-sdk-js/3.1137.0');
    expect(userAgentSection(['os/linux', '6.1.0-fc v2'])).toBe('os/linux#6.1.0-fc-v2');
    expect(userAgentSection(['lang/js'])).toBe('lang/js');
    expect(userAgentSection(['api/SageMaker FeatureStore Runtime', '3.1137.0'])).toBe('api/sagemaker-featurestore-runtime#3.1137.0');
    expect(userAgentSection(['app', 'ndr sql'])).toBe('app/ndr-sql');
  });

  it('classifies PutRecord errors', () => {
    const aws = (name: string, status: number) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
    expect(classifyPutRecordError(aws('ThrottlingException', 429))).toBe('retry');
    expect(classifyPutRecordError(aws('ThrottlingException', 400))).toBe('retry');
    expect(classifyPutRecordError(aws('InternalFailure', 500))).toBe('retry');
    expect(classifyPutRecordError(aws('ServiceUnavailable', 503))).toBe('retry');
    expect(classifyPutRecordError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe('retry');
    expect(classifyPutRecordError(aws('ValidationError', 400))).toBe('reject');
    expect(classifyPutRecordError(aws('ResourceNotFound', 400))).toBe('fatal');
    expect(classifyPutRecordError(aws('AccessForbidden', 403))).toBe('fatal');
    expect(describeError(aws('ThrottlingException', 429))).toBe('ThrottlingException (HTTP 429)');
    expect(describeError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe('ECONNRESET: socket hang up');
  });

  it('signals failure when anything was dead-lettered', () => {
    const s: PublishSummary = {
      target: 'online',
      featureGroup: 'fg',
      batchId: 'b',
      records: 10,
      published: 9,
      deadLettered: 1,
      deadLetterReasons: { x: 1 },
      deadLetterFile: '/tmp/dl.parquet',
      nonFiniteNulled: 0,
      retries: 3,
      throttled: 2,
      elapsedMs: 1000,
      recordsPerSec: 9,
      online: { concurrency: 32, workers: 0, attempts: 13, retryBudget: 3, budgetExhausted: true, maxInFlight: 4, targetStores: ['OnlineStore'] },
    };
    expect(publishExitCode(s)).toBe(1);
    expect(publishExitCode({ ...s, deadLettered: 0 })).toBe(0);
    expect(publishExitCode({ ...s, deadLettered: 0, aborted: 'ResourceNotFound' })).toBe(1);
    expect(formatPublishSummary(s)).toBe(
      'publish online fg batch b: 9/10 records, 9 records/s, 3 retries (2 throttled, budget 3 exhausted), 1 dead letters in /tmp/dl.parquet',
    );
    expect(formatPublishSummary({ ...s, online: { ...s.online!, workerError: 'publish worker failed: boom' } })).toContain(
      '3 retries (2 throttled, budget 3 exhausted), a worker thread did not start: publish worker failed: boom, 1 dead letters',
    );
  });
});
