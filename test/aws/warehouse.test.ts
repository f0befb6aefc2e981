import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { openWarehouse } from '../../src/storage/open.ts';
import { S3Warehouse } from '../../src/storage/s3.ts';
import type { Manifest } from '../../src/storage/manifest.ts';
import type { StagedPartition } from '../../src/storage/warehouse.ts';
import { ConfigError } from '../../src/errors/index.ts';
import { countCommands, newBucket, putObject, s3Client, tmp, type Counter } from './helpers.ts';

const PART = 'delta/feature_spec_version=v1/dt=2026-11-24/hh=12/mm=15';

function manifestFor(partition: string, runId: string): Omit<Manifest, 'files'> {
  return {
    dataset: 'delta',
    partition,
    partition_values: { feature_spec_version: 'v1', dt: '2026-11-24', hh: '12', mm: '15' },
    feature_spec_version: 'v1',
    run_id: runId,
    created_at: '2026-11-25T00:00:00.000Z',
    row_count: 3,
    columns: [{ name: 'host_ip', type: 'VARCHAR' }],
    template: [{ name: 'delta.sql', sha256: 'abc' }],
    jobspec_sha256: 'def',
    inputs: [],
    dq: { dropped_malformed_ip: 0 },
    missing_optional_fields: [],
    engine: { ndr_sql: '0.1.0', duckdb: '1.5' },
    timings_ms: { total: 5 },
  };
}

async function stage(wh: S3Warehouse, runId: string, partition: string, files: Record<string, string | Buffer>): Promise<StagedPartition> {
  const dir = await wh.stagingDir(runId);
  const localFiles = [];
  for (const [name, body] of Object.entries(files)) {
    const path = join(dir, name);
    await writeFile(path, body);
    localFiles.push({ path, rows: 1 });
  }
  return { partition, localFiles, manifest: manifestFor(partition, runId) };
}

async function keys(s3: S3Client, bucket: string, prefix: string) {
  const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (r.Contents ?? []).map((o) => o.Key!).sort();
}

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

describe('S3Warehouse on s3rver', () => {
  let s3: S3Client;
  let counter: Counter;
  let bucket: string;
  let wh: S3Warehouse;
  let cacheDir: string;

  beforeEach(async () => {
    s3 = s3Client();
    counter = countCommands(s3);
    bucket = await newBucket(s3);
    cacheDir = await tmp();
    wh = openWarehouse({ warehouse: `s3://${bucket}/wh`, cacheDir, cacheMaxBytes: 1e9 }, { s3 }) as S3Warehouse;
    counter.reset();
  });

  it('commits data files first and the manifest last, and reads through the manifest', async () => {
    const staged = await stage(wh, 'run1', PART, { 'part-run1-0.parquet': 'AAAA', 'part-run1-1.parquet': 'BBBBBB' });
    expect(staged.localFiles[0].path.startsWith(join(cacheDir, 'staging', 'run1'))).toBe(true);
    const m = await wh.commit(staged);

    // each entry records the object's ETag, so readers with a warm cache need no request
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `wh/${PART}/part-` }));
    const etags = (listed.Contents ?? []).map((o) => o.ETag!.replace(/"/g, ''));
    expect(m.files).toEqual([
      { name: 'part-run1-0.parquet', rows: 1, bytes: 4, etag: etags[0] },
      { name: 'part-run1-1.parquet', rows: 1, bytes: 6, etag: etags[1] },
    ]);
    expect(etags[0]).toBe(createHash('md5').update('AAAA').digest('hex'));
    const puts = counter.calls.filter((c) => c.command === 'PutObject').map((c) => c.input.Key);
    expect(puts.at(-1)).toBe(`wh/${PART}/_manifest.json`);
    expect(puts.slice(0, -1).sort()).toEqual([`wh/${PART}/part-run1-0.parquet`, `wh/${PART}/part-run1-1.parquet`]);
    expect(await keys(s3, bucket, 'wh/')).toEqual([
      `wh/${PART}/_manifest.json`,
      `wh/${PART}/part-run1-0.parquet`,
      `wh/${PART}/part-run1-1.parquet`,
    ]);

    const read = await wh.readManifest(PART);
    expect(read).toEqual(m);
    const stored = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `wh/${PART}/_manifest.json` }));
    expect(JSON.parse(await stored.Body!.transformToString()).run_id).toBe('run1');

    const locals = await wh.localDataFiles(read!);
    expect(await Promise.all(locals.map((p) => readFile(p, 'utf8')))).toEqual(['AAAA', 'BBBBBB']);
    expect(locals.every((p) => p.startsWith(join(cacheDir, 's3')))).toBe(true);

    expect(await wh.listCommitted('delta')).toEqual([PART]);
    expect(await wh.listCommitted('')).toEqual([PART]);
    expect(await wh.listCommitted('delta/feature_spec_version=v2')).toEqual([]);
    expect(await wh.listCommitted('del')).toEqual([]);
  });

  it('a rerun replaces the partition whole; superseded files go only after the new manifest is in place', async () => {
    await wh.commit(await stage(wh, 'run1', PART, { 'part-run1-0.parquet': 'old0', 'part-run1-1.parquet': 'old1' }));
    // a killed run left an orphan that no manifest references
    await putObject(s3, bucket, `wh/${PART}/part-killed-0.parquet`, 'orphan');
    // a nested prefix is not part of this partition and must survive
    await putObject(s3, bucket, `wh/${PART}/nested/keep.txt`, 'nested');

    const before = await wh.readManifest(PART);
    expect((await wh.localDataFiles(before!)).length).toBe(2); // readers never take the orphan

    counter.reset();
    const m2 = await wh.commit(await stage(wh, 'run2', PART, { 'part-run2-0.parquet': 'new0' }));
    const seq = counter.calls.map((c) => `${c.command} ${String(c.input.Key ?? c.input.Prefix ?? '')}`);
    const manifestPut = seq.indexOf(`PutObject wh/${PART}/_manifest.json`);
    const del = seq.findIndex((s) => s.startsWith('DeleteObjects'));
    expect(manifestPut).toBeGreaterThan(seq.indexOf(`PutObject wh/${PART}/part-run2-0.parquet`));
    expect(del).toBeGreaterThan(manifestPut);
    const deleted = (counter.calls[del].input.Delete as { Objects: { Key: string }[] }).Objects.map((o) => o.Key).sort();
    expect(deleted).toEqual([`wh/${PART}/part-killed-0.parquet`, `wh/${PART}/part-run1-0.parquet`, `wh/${PART}/part-run1-1.parquet`]);

    expect(await keys(s3, bucket, 'wh/')).toEqual([`wh/${PART}/_manifest.json`, `wh/${PART}/nested/keep.txt`, `wh/${PART}/part-run2-0.parquet`]);
    const read = await wh.readManifest(PART);
    expect(read?.run_id).toBe('run2');
    expect(read).toEqual(m2);
    expect(await Promise.all((await wh.localDataFiles(read!)).map((p) => readFile(p, 'utf8')))).toEqual(['new0']);
  });

  it('uploads a file over 10 MB as a multipart upload and reads it back byte for byte', async () => {
    const big = randomBytes(11 * 1024 * 1024 + 123);
    const w = new S3Warehouse(`s3://${bucket}/wh`, { s3, cacheDir, cacheMaxBytes: 1e9, partSize: 5 * 1024 * 1024 });
    const staged = await stage(w, 'runbig', PART, { 'part-runbig-0.parquet': big });
    counter.reset();
    const m = await w.commit(staged);
    expect(counter.count('CreateMultipartUpload')).toBe(1);
    expect(counter.count('UploadPart')).toBe(3);
    expect(counter.count('CompleteMultipartUpload')).toBe(1);
    expect(m.files[0].bytes).toBe(big.length);

    // a fresh cache (another host) downloads it
    const reader = new S3Warehouse(`s3://${bucket}/wh`, { s3, cacheDir: await tmp(), cacheMaxBytes: 1e9 });
    counter.reset();
    const [local] = await reader.localDataFiles((await reader.readManifest(PART))!);
    expect(sha(await readFile(local))).toBe(sha(big));
    expect(counter.count('GetObject')).toBe(2); // the manifest and the data file
  });

  it('reads many manifests with bounded concurrency and omits missing ones', async () => {
    const parts = Array.from({ length: 40 }, (_, i) => `delta/feature_spec_version=v1/dt=2026-11-24/hh=${String(Math.floor(i / 4)).padStart(2, '0')}/mm=${String((i % 4) * 15).padStart(2, '0')}`);
    for (const p of parts.filter((_, i) => i % 2 === 0)) await wh.commit(await stage(wh, `r${p.length}`, p, { 'part-0.parquet': 'x' }));
    const w = new S3Warehouse(`s3://${bucket}/wh`, { s3, cacheDir, cacheMaxBytes: 1e9, concurrency: 5 });
    counter.reset();
    const found = await w.readManifests(parts);
    expect([...found.keys()].sort()).toEqual(parts.filter((_, i) => i % 2 === 0).sort());
    expect(found.get(parts[0])?.partition).toBe(parts[0]);
    expect(counter.count('GetObject')).toBe(40);
    expect(counter.maxInflight).toBeLessThanOrEqual(5);
    expect(counter.maxInflight).toBeGreaterThan(1);
  });

  it('writes and reads small JSON documents; missing ones are undefined', async () => {
    await wh.writeJson('publish/fg_b/record.json', { published: ['a', 'b'], n: 2 });
    expect(await wh.readJson('publish/fg_b/record.json')).toEqual({ published: ['a', 'b'], n: 2 });
    expect(await keys(s3, bucket, 'wh/publish/')).toEqual(['wh/publish/fg_b/record.json']);
    expect(await wh.readJson('publish/none.json')).toBeUndefined();
    expect(await wh.readManifest('delta/none')).toBeUndefined();
  });

  it('a corrupt manifest is a DataError naming the object', async () => {
    await putObject(s3, bucket, `wh/${PART}/_manifest.json`, '{not json');
    await expect(wh.readManifest(PART)).rejects.toThrow(`file s3://${bucket}/wh/${PART}/_manifest.json, rule manifest_json: not valid JSON`);
  });

  it('stages locally under cacheDir/staging/<runId> and cleans up', async () => {
    const dir = await wh.stagingDir('run-x');
    expect(dir).toBe(join(cacheDir, 'staging', 'run-x'));
    await writeFile(join(dir, 'f'), 'x');
    await wh.cleanupStaging('run-x');
    expect(existsSync(dir)).toBe(false);
  });

  it('a missing bucket is one clear line', async () => {
    const w = openWarehouse({ warehouse: 's3://ndr-missing-bucket/wh', cacheDir, cacheMaxBytes: 1e9 }, { s3 }) as S3Warehouse;
    const err = await w.readManifest(PART).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe('bucket ndr-missing-bucket does not exist');
    await expect(w.ensureWritable()).rejects.toThrow('bucket ndr-missing-bucket does not exist');
    await expect(w.listCommitted('delta')).rejects.toThrow('bucket ndr-missing-bucket does not exist');
    await expect(wh.ensureWritable()).resolves.toBeUndefined();
  });

  it('a data file missing behind a manifest is a clear, retryable error', async () => {
    const m = await wh.commit(await stage(wh, 'run1', PART, { 'part-run1-0.parquet': 'x' }));
    const fresh = () => new S3Warehouse(`s3://${bucket}/wh`, { s3, cacheDir: cacheDirs.pop()!, cacheMaxBytes: 1e9 });
    const cacheDirs = [await tmp(), await tmp()];
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: `wh/${PART}/part-run1-0.parquet` }));
    const err = await fresh().localDataFiles(m).catch((e) => e);
    expect(err.transient).toBe(true);
    expect(err.message).toBe(
      `s3://${bucket}/wh/${PART}/part-run1-0.parquet vanished between listing and download (NoSuchKey): it was deleted or replaced while this run read it`,
    );
    // a manifest without ETags (e.g. written by an older version): found missing by the partition listing
    const bare = { ...m, files: m.files.map(({ name, rows, bytes }) => ({ name, rows, bytes })) };
    const err2 = await fresh().localDataFiles(bare).catch((e) => e);
    expect(err2.transient).toBe(true);
    expect(err2.message).toBe(
      `s3://${bucket}/wh/${PART}/part-run1-0.parquet listed by the manifest of ${PART} is missing: the partition was replaced while this run read it`,
    );
  });

  it('a manifest without ETags is read through one listing of the partition', async () => {
    const m = await wh.commit(await stage(wh, 'run1', PART, { 'part-run1-0.parquet': 'p0', 'part-run1-1.parquet': 'p1' }));
    const bare = { ...m, files: m.files.map(({ name, rows, bytes }) => ({ name, rows, bytes })) };
    const reader = new S3Warehouse(`s3://${bucket}/wh`, { s3, cacheDir: await tmp(), cacheMaxBytes: 1e9 });
    counter.reset();
    const locals = await reader.localDataFiles(bare);
    expect(await Promise.all(locals.map((p) => readFile(p, 'utf8')))).toEqual(['p0', 'p1']);
    expect([counter.count('ListObjectsV2'), counter.count('GetObject')]).toEqual([1, 2]);
  });

  it('commits an empty partition (no files) and a zero-byte file', async () => {
    const empty = await wh.commit({ partition: PART, localFiles: [], manifest: manifestFor(PART, 'run0') });
    expect(empty.files).toEqual([]);
    expect(await wh.localDataFiles((await wh.readManifest(PART))!)).toEqual([]);
    const zero = await wh.commit(await stage(wh, 'runz', PART, { 'part-runz-0.parquet': '' }));
    expect(zero.files.map((f) => [f.name, f.bytes])).toEqual([['part-runz-0.parquet', 0]]);
    expect(await keys(s3, bucket, `wh/${PART}/`)).toEqual([`wh/${PART}/_manifest.json`, `wh/${PART}/part-runz-0.parquet`]);
    const [local] = await new S3Warehouse(`s3://${bucket}/wh`, { s3, cacheDir: await tmp(), cacheMaxBytes: 1e9 }).localDataFiles(zero);
    expect(await readFile(local, 'utf8')).toBe('');
  });
});
