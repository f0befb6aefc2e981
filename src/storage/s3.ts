/**
 * The S3 warehouse: same layout and commit protocol as LocalWarehouse.
 * - data files are uploaded under their run-unique names (multipart for large ones);
 * - `_manifest.json` is PUT last: that PUT is the commit;
 * - then every other object directly under the partition prefix (files of the
 *   previous manifest, orphans of killed runs) is deleted;
 * - readers take the manifest's file list and read local copies from the cache;
 *   each manifest file entry also records the object's ETag (the cache key), so a
 *   warm cache costs no request.
 */
import { createReadStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import type { S3Client, _Object } from '@aws-sdk/client-s3';
import { s3Sdk, s3UploadSdk } from '../aws/sdk.ts';
import pLimit from 'p-limit';
import { DataError, NdrError, TransientError } from '../errors/index.ts';
import { awsCall, isNoSuchKey, mapAwsError, s3Display } from '../aws/errors.ts';
import { MANIFEST_NAME, type Manifest, type ManifestFile } from './manifest.ts';
import type { StagedPartition, Warehouse } from './warehouse.ts';
import { ObjectCache, normalizeEtag } from './cache.ts';
import { joinKey, parseS3Uri, type S3Uri } from './s3uri.ts';

export interface S3WarehouseOptions {
  s3: S3Client;
  /** Local directory for staging (<cacheDir>/staging/<runId>) and the object cache (<cacheDir>/s3). */
  cacheDir: string;
  cacheMaxBytes: number;
  /** Share one cache between the warehouse and raw staging (default: a new one over the same directory). */
  cache?: ObjectCache;
  /** Parallel S3 requests for manifests and file transfers (default 16). */
  concurrency?: number;
  /** Multipart part size in bytes (default 8 MiB, S3 minimum 5 MiB). */
  partSize?: number;
  /** Parts in flight per multipart upload (default 4). */
  queueSize?: number;
}

/** A manifest file entry as the S3 warehouse writes it: plus the object's ETag. */
export type S3ManifestFile = ManifestFile & { etag?: string };

export interface ObjectInfo {
  key: string;
  etag: string;
  size: number;
}

/** List every object under a prefix (all pages). With a delimiter, only direct children. */
export async function listObjects(s3: S3Client, bucket: string, prefix: string, delimiter?: string): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = [];
  let token: string | undefined;
  do {
    const page = await awsCall({ service: 'S3', op: 'ListObjectsV2', bucket, key: prefix }, () =>
      s3.send(new (s3Sdk().ListObjectsV2Command)({ Bucket: bucket, Prefix: prefix || undefined, Delimiter: delimiter, ContinuationToken: token })),
    );
    for (const o of page.Contents ?? ([] as _Object[]))
      if (o.Key !== undefined) out.push({ key: o.Key, etag: normalizeEtag(o.ETag), size: o.Size ?? 0 });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

export class S3Warehouse implements Warehouse {
  readonly bucket: string;
  readonly prefix: string;
  readonly cache: ObjectCache;
  private readonly s3: S3Client;
  private readonly limit: ReturnType<typeof pLimit>;

  constructor(
    uri: string | S3Uri,
    private readonly opts: S3WarehouseOptions,
  ) {
    const u = typeof uri === 'string' ? parseS3Uri(uri, 'warehouse') : uri;
    this.bucket = u.bucket;
    this.prefix = u.prefix;
    this.s3 = opts.s3;
    this.cache = opts.cache ?? new ObjectCache(opts.s3, { cacheDir: opts.cacheDir, maxBytes: opts.cacheMaxBytes });
    this.limit = pLimit(opts.concurrency ?? 16);
  }

  /** The S3 client, shared with raw-input staging in the same run. */
  get client(): S3Client {
    return this.s3;
  }

  get root() {
    return `s3://${this.bucket}${this.prefix ? `/${this.prefix}` : ''}`;
  }

  /** Full object key of a path relative to the root. */
  key(path: string): string {
    return joinKey(this.prefix, path);
  }

  private uri(path: string) {
    return s3Display(this.bucket, this.key(path));
  }

  private target(op: string, key?: string) {
    return { service: 'S3' as const, op, bucket: this.bucket, key };
  }

  /** Fails early when the bucket is missing or not writable (probe object written then deleted). */
  async ensureWritable(): Promise<void> {
    const key = this.key(`_probe/${process.pid}-${Date.now()}`);
    await awsCall(this.target('PutObject', key), () => this.s3.send(new (s3Sdk().PutObjectCommand)({ Bucket: this.bucket, Key: key, Body: 'ndr-sql write probe' })));
    await awsCall(this.target('DeleteObject', key), () => this.s3.send(new (s3Sdk().DeleteObjectCommand)({ Bucket: this.bucket, Key: key })));
  }

  async stagingDir(runId: string) {
    const dir = resolve(this.opts.cacheDir, 'staging', runId);
    await mkdir(dir, { recursive: true });
    return dir;
  }

  async cleanupStaging(runId: string) {
    await rm(resolve(this.opts.cacheDir, 'staging', runId), { recursive: true, force: true });
  }

  private async getText(path: string): Promise<string | undefined> {
    const key = this.key(path);
    try {
      const res = await this.s3.send(new (s3Sdk().GetObjectCommand)({ Bucket: this.bucket, Key: key }));
      return (await res.Body?.transformToString('utf8')) ?? '';
    } catch (e) {
      if (isNoSuchKey(e)) return undefined;
      throw mapAwsError(e, this.target('GetObject', key));
    }
  }

  private async getJson<T>(path: string, rule: string): Promise<T | undefined> {
    const text = await this.getText(path);
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as T;
    } catch (e) {
      throw new DataError({ file: this.uri(path), rule }, `not valid JSON: ${(e as Error).message}`);
    }
  }

  private async putText(path: string, text: string) {
    const key = this.key(path);
    await awsCall(this.target('PutObject', key), () =>
      this.s3.send(new (s3Sdk().PutObjectCommand)({ Bucket: this.bucket, Key: key, Body: text, ContentType: 'application/json' })),
    );
  }

  readManifest(partition: string) {
    return this.getJson<Manifest>(joinKey(partition, MANIFEST_NAME), 'manifest_json');
  }

  async readManifests(partitions: string[]) {
    const found = await Promise.all(partitions.map((p) => this.limit(() => this.readManifest(p))));
    const out = new Map<string, Manifest>();
    partitions.forEach((p, i) => found[i] && out.set(p, found[i]!));
    return out;
  }

  /**
   * Local copies of a committed manifest's files. The ETags recorded at commit
   * key the cache, so a cached partition costs no request; for a manifest
   * without them, one listing of the partition supplies them.
   */
  async localDataFiles(manifest: Manifest) {
    if (manifest.files.length === 0) return [];
    const dirKey = this.key(manifest.partition) + '/';
    const files = manifest.files as S3ManifestFile[];
    let listed: Map<string, ObjectInfo> | undefined;
    if (files.some((f) => !f.etag)) listed = new Map((await listObjects(this.s3, this.bucket, dirKey, '/')).map((o) => [o.key, o]));
    const refs = files.map((f) => {
      const key = dirKey + f.name;
      if (f.etag) return { bucket: this.bucket, key, etag: f.etag, size: f.bytes };
      const o = listed!.get(key);
      if (!o)
        throw new TransientError(
          `${s3Display(this.bucket, key)} listed by the manifest of ${manifest.partition} is missing: the partition was replaced while this run read it`,
        );
      return { bucket: this.bucket, key, etag: o.etag, size: o.size };
    });
    return this.cache.fetchAll(refs);
  }

  private async upload(local: string, key: string): Promise<string> {
    const up = new (s3UploadSdk().Upload)({
      client: this.s3,
      params: { Bucket: this.bucket, Key: key, Body: createReadStream(local) },
      partSize: Math.max(this.opts.partSize ?? 8 * 1024 ** 2, 5 * 1024 ** 2),
      queueSize: this.opts.queueSize ?? 4,
      leavePartsOnError: false,
    });
    try {
      const res = await up.done();
      return normalizeEtag((res as { ETag?: string }).ETag);
    } catch (e) {
      throw mapAwsError(e, this.target('Upload', key));
    }
  }

  async commit(staged: StagedPartition): Promise<Manifest> {
    const partKey = this.key(staged.partition);
    // files x parts in flight x partSize bounds the upload buffers (4 x 4 x 8 MiB by default)
    const transfers = pLimit(Math.min(this.opts.concurrency ?? 16, 4));
    const uploaded = await Promise.all(
      staged.localFiles.map(({ path: local, rows }) =>
        transfers(async () => {
          const name = basename(local);
          const key = `${partKey}/${name}`;
          const bytes = (await stat(local)).size;
          const etag = await this.upload(local, key);
          const file: S3ManifestFile = etag ? { name, rows, bytes, etag } : { name, rows, bytes };
          return { file, key, etag, local };
        }),
      ),
    );
    const files = uploaded.map((u) => u.file);
    const manifest: Manifest = { ...staged.manifest, files };
    // The commit point: until this PUT succeeds, readers see the previous manifest (or none).
    await this.putText(joinKey(staged.partition, MANIFEST_NAME), JSON.stringify(manifest, null, 2));
    await this.removeUnreferenced(partKey, new Set(uploaded.map((u) => u.key)));
    // The uploaded files are what downstream steps of this run read: keep them in the cache.
    for (const u of uploaded) {
      if (u.etag) await this.cache.adopt({ bucket: this.bucket, key: u.key, etag: u.etag, size: u.file.bytes }, u.local).catch(() => undefined);
    }
    return manifest;
  }

  /**
   * After the manifest swap: delete superseded files and orphans of killed runs
   * (direct children of the partition only, never nested partitions).
   * Safe because a partition is only ever written under its lock.
   */
  private async removeUnreferenced(partKey: string, keep: Set<string>) {
    const manifestKey = `${partKey}/${MANIFEST_NAME}`;
    const stale = (await listObjects(this.s3, this.bucket, `${partKey}/`, '/'))
      .map((o) => o.key)
      .filter((k) => k !== manifestKey && !keep.has(k));
    for (let i = 0; i < stale.length; i += 1000) {
      const batch = stale.slice(i, i + 1000);
      const res = await awsCall(this.target('DeleteObjects', `${partKey}/`), () =>
        this.s3.send(new (s3Sdk().DeleteObjectsCommand)({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } })),
      );
      const failed = (res.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      if (failed.length)
        throw new NdrError(
          `committed ${s3Display(this.bucket, partKey)} but could not delete ${failed.length} superseded object(s), ` +
            `e.g. ${s3Display(this.bucket, failed[0].Key)}: ${failed[0].Code}; readers are unaffected (they follow the manifest)`,
        );
    }
  }

  async listCommitted(prefix: string) {
    const base = this.key(prefix);
    const listPrefix = base ? `${base}/` : '';
    const rootLen = this.prefix ? this.prefix.length + 1 : 0;
    const suffix = `/${MANIFEST_NAME}`;
    const out: string[] = [];
    for (const o of await listObjects(this.s3, this.bucket, listPrefix)) {
      if (o.key.endsWith(suffix)) out.push(o.key.slice(rootLen, -suffix.length));
      else if (o.key === this.key(MANIFEST_NAME)) out.push('');
    }
    return out.sort();
  }

  writeJson(path: string, value: unknown) {
    return this.putText(path, JSON.stringify(value, null, 2));
  }

  readJson<T>(path: string) {
    return this.getJson<T>(path, 'json');
  }

  async listJson(prefix: string) {
    const base = this.key(prefix);
    const rootLen = this.prefix ? this.prefix.length + 1 : 0;
    return (await listObjects(this.s3, this.bucket, base ? `${base}/` : ''))
      .map((o) => o.key)
      .filter((k) => k.endsWith('.json') && !k.endsWith(`/${MANIFEST_NAME}`))
      .map((k) => k.slice(rootLen))
      .sort();
  }
}

