import { afterEach, describe, expect, it } from 'vitest';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { createS3Client, resolveRegion } from '../../src/aws/clients.ts';
import { awsCall, mapAwsError, redact } from '../../src/aws/errors.ts';
import { resolveMaxAttempts, withRetry } from '../../src/aws/retry.ts';
import { ConfigError, NdrError, TransientError, UsageError } from '../../src/errors/index.ts';
import { countCommands, endpoints, faultyProxy, newBucket, putObject, s3Client } from './helpers.ts';

const saved = { ...process.env };
afterEach(() => {
  for (const k of ['AWS_ENDPOINT_URL_S3', 'AWS_REGION', 'AWS_ACCESS_KEY_ID', 'NDR_AWS_MAX_ATTEMPTS'] as const) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

describe('client factories', () => {
  it('resolves the region: flag > AWS_REGION > AWS_DEFAULT_REGION > us-east-1', async () => {
    expect(resolveRegion({ awsRegion: 'eu-west-1' }, { AWS_REGION: 'us-west-2' })).toBe('eu-west-1');
    expect(resolveRegion({}, { AWS_REGION: 'us-west-2', AWS_DEFAULT_REGION: 'ap-south-1' })).toBe('us-west-2');
    expect(resolveRegion({}, { AWS_DEFAULT_REGION: 'ap-south-1' })).toBe('ap-south-1');
    expect(resolveRegion({}, {})).toBe('us-east-1');
    const c = createS3Client({ awsRegion: 'eu-central-1' });
    expect(await c.config.region()).toBe('eu-central-1');
  });

  it('resolves maxAttempts: explicit > NDR_AWS_MAX_ATTEMPTS > AWS_MAX_ATTEMPTS > 5', async () => {
    expect(resolveMaxAttempts(2, { NDR_AWS_MAX_ATTEMPTS: '7' })).toBe(2);
    expect(resolveMaxAttempts(undefined, { NDR_AWS_MAX_ATTEMPTS: '7', AWS_MAX_ATTEMPTS: '3' })).toBe(7);
    expect(resolveMaxAttempts(undefined, { AWS_MAX_ATTEMPTS: '3' })).toBe(3);
    expect(resolveMaxAttempts(undefined, { AWS_MAX_ATTEMPTS: 'x' })).toBe(5);
    const c = createS3Client({}, { maxAttempts: 4 });
    expect(await c.config.maxAttempts()).toBe(4);
  });

  it('rejects an endpoint that is not an http(s) URL, without echoing user info', () => {
    expect(() => createS3Client({ s3Endpoint: 'localhost:4568' })).toThrow(UsageError);
    expect(() => createS3Client({ s3Endpoint: 'ftp://u:secret@host/' })).toThrow('--s3-endpoint ftp://host must be an http:// or https:// URL');
  });

  it('uses path-style addressing with --s3-endpoint (a loopback server has no bucket subdomains)', async () => {
    const s3 = s3Client();
    const bucket = await newBucket(s3);
    await putObject(s3, bucket, 'a/b.txt', 'hello');
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'a/b.txt' }));
    expect(await res.Body!.transformToString()).toBe('hello');
    expect(await s3.config.forcePathStyle).toBe(true);
  });

  it('uses path-style addressing with the SDK env endpoint AWS_ENDPOINT_URL_S3 as well', async () => {
    const seed = s3Client();
    const bucket = await newBucket(seed);
    await putObject(seed, bucket, 'k.txt', 'via env');
    process.env.AWS_ENDPOINT_URL_S3 = endpoints().s3;
    const s3 = createS3Client({});
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'k.txt' }));
    expect(await res.Body!.transformToString()).toBe('via env');
  });
});

describe('retries against a server answering 503 SlowDown', () => {
  it('retries transient failures up to maxAttempts and then succeeds', async () => {
    const seed = s3Client();
    const bucket = await newBucket(seed);
    await putObject(seed, bucket, 'x/y.json', '{"ok":true}');
    const proxy = await faultyProxy(endpoints().s3, 2, (m, url) => m === 'GET' && url.includes('/x/y.json'));
    try {
      const s3 = s3Client({ endpoint: proxy.url, maxAttempts: 3 });
      const counter = countCommands(s3);
      const res = await awsCall({ service: 'S3', op: 'GetObject', bucket, key: 'x/y.json' }, () =>
        s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'x/y.json' })),
      );
      expect(await res.Body!.transformToString()).toBe('{"ok":true}');
      expect(proxy.stats.injected).toBe(2);
      expect(proxy.stats.requests).toBe(3);
      expect(res.$metadata.attempts).toBe(3);
      expect(counter.count('GetObject')).toBe(1);
    } finally {
      await proxy.close();
    }
  });

  it('gives up after maxAttempts with a one-line TransientError', async () => {
    const seed = s3Client();
    const bucket = await newBucket(seed);
    const proxy = await faultyProxy(endpoints().s3, 10, (m) => m === 'GET');
    try {
      const s3 = s3Client({ endpoint: proxy.url, maxAttempts: 2 });
      const err = await awsCall({ service: 'S3', op: 'ListObjectsV2', bucket, key: 'p/' }, () =>
        s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'p/' })),
      ).catch((e) => e);
      expect(err).toBeInstanceOf(TransientError);
      expect(err.transient).toBe(true);
      expect(err.message).toBe(`S3 ListObjectsV2 s3://${bucket}/p/ failed after 2 attempt(s): SlowDown: Please reduce your request rate.`);
      expect(proxy.stats.injected).toBe(2);
    } finally {
      await proxy.close();
    }
  });

  it('withRetry retries only what is transient', async () => {
    let calls = 0;
    const v = await withRetry(
      async () => {
        calls++;
        if (calls < 3) throw Object.assign(new Error('reset'), { code: 'ECONNRESET' });
        return 'done';
      },
      { maxAttempts: 5, baseDelayMs: 1 },
    );
    expect([v, calls]).toEqual(['done', 3]);
    calls = 0;
    const err = await withRetry(
      async () => {
        calls++;
        throw new ConfigError('deterministic');
      },
      { maxAttempts: 5, baseDelayMs: 1 },
    ).catch((e) => e);
    expect([err.message, calls]).toEqual(['deterministic', 1]);
  });
});

describe('AWS errors become one clear line', () => {
  it('a missing bucket', async () => {
    const s3 = s3Client();
    const err = await awsCall({ service: 'S3', op: 'GetObject', bucket: 'no-such-bucket-ndr', key: 'k' }, () =>
      s3.send(new GetObjectCommand({ Bucket: 'no-such-bucket-ndr', Key: 'k' })),
    ).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe('bucket no-such-bucket-ndr does not exist');
  });

  it('rejected credentials are "access denied" naming the object, never the key id', async () => {
    const seed = s3Client();
    const bucket = await newBucket(seed);
    process.env.AWS_ACCESS_KEY_ID = 'AKIAABCDEFGHIJKLMNOP';
    const s3 = s3Client();
    const err = await awsCall({ service: 'S3', op: 'GetObject', bucket, key: 'data/x.parquet' }, () =>
      s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'data/x.parquet' })),
    ).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe(`access denied to s3://${bucket}/data/x.parquet (InvalidAccessKeyId)`);
    expect(err.message).not.toContain('AKIA');
  });

  it('unknown failures keep the AWS name, with secrets redacted', () => {
    const e = Object.assign(new Error('bad https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIAABCDEFGHIJKLMNOP%2F&X-Amz-Signature=abcdef0123 for AKIAABCDEFGHIJKLMNOP'), {
      name: 'InvalidRequest',
      $metadata: { httpStatusCode: 400 },
    });
    const m = mapAwsError(e, { service: 'S3', op: 'PutObject', bucket: 'b', key: 'k' });
    expect(m).toBeInstanceOf(NdrError);
    expect(m.message).toBe(
      'S3 PutObject s3://b/k failed: InvalidRequest: bad https://b.s3.amazonaws.com/k?X-Amz-Credential=<redacted>&X-Amz-Signature=<redacted> for <access-key-id>',
    );
    expect(redact('http://user:pw@host:1/x aws_secret_access_key = abc123')).toBe('http://host:1/x aws_secret_access_key = <redacted>');
  });

  it('a missing DynamoDB table names the table and the commands that create it', () => {
    const e = Object.assign(new Error('Requested resource not found'), { name: 'ResourceNotFoundException', $metadata: { httpStatusCode: 400 } });
    const m = mapAwsError(e, { service: 'DynamoDB', op: 'GetItem', table: 'tbl_x' });
    expect(m).toBeInstanceOf(ConfigError);
    expect(m.message).toContain('DynamoDB table tbl_x does not exist; create it with `ndr-sql jobspec create-table --jobspecs dynamodb:tbl_x`');
    expect(m.message).toContain('aws dynamodb create-table --table-name tbl_x ');
  });
});
