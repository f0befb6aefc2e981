/**
 * Local content-addressed cache of S3 objects, where DuckDB reads them.
 *
 * - An object version is keyed by sha256(bucket/key/ETag): a rerun with
 *   unchanged ETags downloads nothing, a changed object is a new entry.
 * - Downloads go to a temp name in the same directory, then rename (atomic:
 *   a killed download never leaves a file that looks complete).
 * - Size cap: least-recently-used entries (mtime, touched on every hit) are
 *   evicted down to 90% of maxBytes; entries used in the last `protectMs` are
 *   kept, since a DuckDB query of this (or a concurrent) run may be reading them.
 * - Reused across runs and processes: the state is the directory itself.
 */
import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createHash, randomBytes } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { s3Sdk } from '../aws/sdk.ts';
import pLimit from 'p-limit';
import { NdrError, TransientError } from '../errors/index.ts';
import { awsErrorName, isNoSuchKey, mapAwsError, s3Display } from '../aws/errors.ts';
import { isTransientAwsError, withRetry } from '../aws/retry.ts';

export interface CachedObjectRef {
  bucket: string;
  key: string;
  /** ETag as listed (quotes optional). */
  etag: string;
  /** Size as listed; a cached file of another size is fetched again. */
  size?: number;
}

export interface ObjectCacheOptions {
  /** The runtime cacheDir; objects live under <cacheDir>/s3. */
  cacheDir: string;
  maxBytes: number;
  /** Entries touched this recently are never evicted (default 10 minutes). */
  protectMs?: number;
  /** Attempts for a download whose body stream breaks (the SDK retries the request itself). */
  maxAttempts?: number;
  /** Parallel downloads in fetchAll (default 8). */
  concurrency?: number;
}

export interface CacheStats {
  hits: number;
  downloads: number;
  bytesDownloaded: number;
  evictions: number;
}

export const normalizeEtag = (etag: string | undefined) => (etag ?? '').replace(/^W\//, '').replace(/"/g, '');

export function cacheKey(bucket: string, key: string, etag: string): string {
  return createHash('sha256').update(`${bucket}/${key}/${normalizeEtag(etag)}`).digest('hex');
}

/** Keep the object's base name (DuckDB infers compression from `.gz` etc.), made filesystem-safe. */
function safeBase(key: string): string {
  const b = basename(key).replace(/[^A-Za-z0-9._=-]/g, '_');
  return b.length > 100 ? b.slice(-100) : b || 'object';
}

const PART = '.part-';

export class ObjectCache {
  readonly dir: string;
  readonly stats: CacheStats = { hits: 0, downloads: 0, bytesDownloaded: 0, evictions: 0 };
  private readonly inflight = new Map<string, Promise<string>>();
  private approxBytes: number | undefined;
  private readonly protectMs: number;

  constructor(
    private readonly s3: S3Client,
    private readonly opts: ObjectCacheOptions,
  ) {
    this.dir = resolve(opts.cacheDir, 's3');
    this.protectMs = opts.protectMs ?? 10 * 60_000;
  }

  pathFor(ref: CachedObjectRef): string {
    const h = cacheKey(ref.bucket, ref.key, ref.etag);
    return join(this.dir, h.slice(0, 2), `${h}-${safeBase(ref.key)}`);
  }

  /** Local path of the object version, downloading it if it is not cached. */
  fetch(ref: CachedObjectRef): Promise<string> {
    const path = this.pathFor(ref);
    let p = this.inflight.get(path);
    if (!p) {
      p = this.fetchUncoalesced(ref, path).finally(() => this.inflight.delete(path));
      this.inflight.set(path, p);
    }
    return p;
  }

  /** Many objects, bounded concurrency, paths in input order. */
  async fetchAll(refs: CachedObjectRef[]): Promise<string[]> {
    const limit = pLimit(this.opts.concurrency ?? 8);
    return Promise.all(refs.map((r) => limit(() => this.fetch(r))));
  }

  /**
   * Put a local file that is known to equal the object version (e.g. just
   * uploaded) into the cache, so that this run does not download it again.
   * The file is moved.
   */
  async adopt(ref: CachedObjectRef, localPath: string): Promise<string> {
    const path = this.pathFor(ref);
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}${PART}${process.pid}-${randomBytes(4).toString('hex')}`;
    await rename(localPath, tmp).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EXDEV') throw e;
      await copyFile(localPath, tmp);
      await rm(localPath, { force: true });
    });
    await rename(tmp, path);
    await this.added((await stat(path)).size);
    return path;
  }

  private async fetchUncoalesced(ref: CachedObjectRef, path: string): Promise<string> {
    try {
      const st = await stat(path);
      if (ref.size === undefined || st.size === ref.size) {
        const now = new Date();
        await utimes(path, now, now).catch(() => undefined);
        this.stats.hits++;
        return path;
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    await mkdir(dirname(path), { recursive: true });
    const size = await withRetry(() => this.download(ref, path), {
      maxAttempts: this.opts.maxAttempts,
      isRetryable: (e) => !(e instanceof NdrError) && isTransientAwsError(e),
    }).catch((e) => {
      throw mapAwsError(e, { service: 'S3', op: 'GetObject', bucket: ref.bucket, key: ref.key });
    });
    this.stats.downloads++;
    this.stats.bytesDownloaded += size;
    await this.added(size);
    return path;
  }

  private async download(ref: CachedObjectRef, path: string): Promise<number> {
    const where = s3Display(ref.bucket, ref.key);
    const etag = normalizeEtag(ref.etag);
    let res;
    try {
      res = await this.s3.send(new (s3Sdk().GetObjectCommand)({ Bucket: ref.bucket, Key: ref.key, IfMatch: etag ? `"${etag}"` : undefined }));
    } catch (e) {
      if (isNoSuchKey(e))
        throw new TransientError(`${where} vanished between listing and download (NoSuchKey): it was deleted or replaced while this run read it`, {
          cause: e,
        });
      if (awsErrorName(e) === 'PreconditionFailed') throw this.changed(where, etag, '(another version)');
      throw e;
    }
    const got = normalizeEtag(res.ETag);
    if (etag && got && got !== etag) {
      (res.Body as Readable | undefined)?.destroy?.();
      throw this.changed(where, etag, got);
    }
    const tmp = `${path}${PART}${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      if (!res.Body) throw new TransientError(`${where}: GetObject returned no body`);
      await pipeline(res.Body as Readable, createWriteStream(tmp));
      const size = (await stat(tmp)).size;
      const expected = res.ContentLength ?? ref.size;
      if (expected !== undefined && size !== expected) {
        const err = new Error(`${where}: downloaded ${size} of ${expected} bytes`) as Error & { code: string };
        err.code = 'ERR_STREAM_PREMATURE_CLOSE';
        throw err;
      }
      await rename(tmp, path);
      return size;
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  private changed(where: string, listed: string, now: string) {
    return new TransientError(`${where} changed between listing and download (ETag ${listed} listed, ${now} now): it was replaced while this run read it`);
  }

  private async added(bytes: number) {
    if (this.approxBytes === undefined) {
      this.approxBytes = (await this.scan()).reduce((s, e) => s + e.size, 0);
    } else {
      this.approxBytes += bytes;
    }
    if (this.approxBytes > this.opts.maxBytes) await this.enforceLimit();
  }

  private async scan(): Promise<{ path: string; size: number; mtimeMs: number }[]> {
    const out: { path: string; size: number; mtimeMs: number }[] = [];
    const shards = await readdir(this.dir).catch(() => [] as string[]);
    for (const shard of shards) {
      const files = await readdir(join(this.dir, shard)).catch(() => [] as string[]);
      for (const f of files) {
        const path = join(this.dir, shard, f);
        const st = await stat(path).catch(() => undefined);
        if (!st?.isFile()) continue;
        if (f.includes(PART)) {
          // a download of a killed process: drop once clearly abandoned
          if (Date.now() - st.mtimeMs > 3_600_000) await rm(path, { force: true });
          continue;
        }
        out.push({ path, size: st.size, mtimeMs: st.mtimeMs });
      }
    }
    return out;
  }

  /** Evict least-recently-used entries until the cache is under 90% of maxBytes. */
  async enforceLimit(): Promise<void> {
    const entries = (await this.scan()).sort((a, b) => a.mtimeMs - b.mtimeMs);
    let total = entries.reduce((s, e) => s + e.size, 0);
    const target = Math.floor(this.opts.maxBytes * 0.9);
    const now = Date.now();
    for (const e of entries) {
      if (total <= target) break;
      if (now - e.mtimeMs < this.protectMs || this.inflight.has(e.path)) continue;
      await rm(e.path, { force: true });
      total -= e.size;
      this.stats.evictions++;
    }
    this.approxBytes = total;
  }

  /** Bytes currently held (scans the directory). */
  async size(): Promise<number> {
    return (await this.scan()).reduce((s, e) => s + e.size, 0);
  }
}
