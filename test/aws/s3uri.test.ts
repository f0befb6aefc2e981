import { describe, expect, it } from 'vitest';
import { isS3Uri, joinKey, parseS3Uri, formatS3Uri } from '../../src/storage/s3uri.ts';
import { openWarehouse } from '../../src/storage/open.ts';
import { LocalWarehouse } from '../../src/storage/local.ts';
import { S3Warehouse } from '../../src/storage/s3.ts';
import { UsageError, EXIT } from '../../src/errors/index.ts';

const bad = (uri: string) => {
  try {
    parseS3Uri(uri, 'warehouse');
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    expect((e as UsageError).exitCode).toBe(EXIT.usage);
    return (e as Error).message;
  }
  throw new Error(`${uri} was accepted`);
};

describe('s3 URIs', () => {
  it('parses bucket and prefix, normalising slashes', () => {
    expect(parseS3Uri('s3://my-bucket/wh/prod/')).toEqual({ bucket: 'my-bucket', prefix: 'wh/prod' });
    expect(parseS3Uri('s3://my-bucket')).toEqual({ bucket: 'my-bucket', prefix: '' });
    expect(parseS3Uri('s3://my-bucket/')).toEqual({ bucket: 'my-bucket', prefix: '' });
    expect(parseS3Uri('s3://data.lake-01/a//b')).toEqual({ bucket: 'data.lake-01', prefix: 'a/b' });
  });

  it('rejects malformed URIs with a message saying what is wrong', () => {
    expect(bad('s3:/x')).toBe('warehouse "s3:/x" is malformed: expected s3://bucket/prefix');
    expect(bad('s3:x/y')).toBe('warehouse "s3:x/y" is malformed: expected s3://bucket/prefix');
    expect(bad('s3://')).toBe('warehouse "s3://" has no bucket: expected s3://bucket/prefix');
    expect(bad('s3:///prefix')).toBe('warehouse "s3:///prefix" has no bucket: expected s3://bucket/prefix');
    expect(bad('s3://My_Bucket/x')).toBe(
      'warehouse "s3://My_Bucket/x": bucket name "My_Bucket" may only contain lowercase letters, digits, dots and hyphens, and must start and end with a letter or digit',
    );
    expect(bad('s3://ab/x')).toBe('warehouse "s3://ab/x": bucket name "ab" must be 3 to 63 characters long');
    expect(bad('s3://a..b/x')).toBe('warehouse "s3://a..b/x": bucket name "a..b" must not contain two adjacent dots');
    expect(bad('s3://10.0.0.1/x')).toBe('warehouse "s3://10.0.0.1/x": bucket name "10.0.0.1" must not be formatted as an IP address');
    expect(bad('s3://bucket/a/../b')).toBe('warehouse "s3://bucket/a/../b" must not contain . or .. segments');
  });

  it('treats anything starting with s3: as S3 intent', () => {
    expect(isS3Uri('s3:/x')).toBe(true);
    expect(isS3Uri('S3://b/x')).toBe(true);
    expect(isS3Uri('./s3/x')).toBe(false);
    expect(isS3Uri('/data/wh')).toBe(false);
  });

  it('joins keys with single slashes', () => {
    expect(joinKey('wh/', '/delta/', 'dt=2026-11-24', '_manifest.json')).toBe('wh/delta/dt=2026-11-24/_manifest.json');
    expect(joinKey('', 'a')).toBe('a');
    expect(joinKey('', '')).toBe('');
    expect(formatS3Uri('b', 'k/x')).toBe('s3://b/k/x');
  });

  it('openWarehouse picks the implementation by the s3:// prefix', () => {
    const base = { cacheDir: '/tmp/ndr-cache-test', cacheMaxBytes: 1024 };
    const local = openWarehouse({ ...base, warehouse: '/tmp/ndr-wh-test' });
    expect(local).toBeInstanceOf(LocalWarehouse);
    expect(local.root).toBe('/tmp/ndr-wh-test');
    const s3 = openWarehouse({ ...base, warehouse: 's3://ndr-bucket/wh/', s3Endpoint: 'http://127.0.0.1:1' });
    expect(s3).toBeInstanceOf(S3Warehouse);
    expect(s3.root).toBe('s3://ndr-bucket/wh');
    expect(() => openWarehouse({ ...base, warehouse: 's3:/x' })).toThrow('warehouse "s3:/x" is malformed: expected s3://bucket/prefix');
  });
});
