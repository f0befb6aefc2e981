/**
 * Where publish writes files: S3 (`s3://bucket/prefix`) or the local file
 * system (`file:///path` or a plain path), addressed by absolute URIs so the
 * offline layout code is the same for both. Uploads go through
 * `@aws-sdk/lib-storage` Upload (multipart when large); deletes are batched.
 */
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { s3Sdk, s3UploadSdk } from '../aws/sdk.ts';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors/index.ts';

export type StoreLocation = { kind: 's3'; bucket: string; key: string } | { kind: 'local'; path: string };

export function parseStoreUri(uri: string): StoreLocation {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/i.exec(uri);
  if (m) return { kind: 's3', bucket: m[1], key: m[2].replace(/\/+$/, '') };
  if (/^file:\/\//i.test(uri)) return { kind: 'local', path: fileURLToPath(uri) };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) throw new ConfigError(`unsupported URI ${uri}: use s3://bucket/prefix, file:///path or a local path`);
  return { kind: 'local', path: resolve(uri) };
}

/** One spelling per location: `s3://bucket/key`, or an absolute local path (for `file://` URIs too). */
export function canonicalUri(uri: string): string {
  const loc = parseStoreUri(uri);
  return loc.kind === 's3' ? `s3://${loc.bucket}/${loc.key}` : loc.path;
}

/** Join URI segments with single slashes (works for s3://, file:// and paths). */
export function joinUri(base: string, ...parts: string[]): string {
  let out = base.replace(/\/+$/, '');
  for (const p of parts) out += '/' + p.replace(/^\/+|\/+$/g, '');
  return out;
}

export interface AwsOptions {
  region?: string;
  /** e.g. http://127.0.0.1:4568 for s3rver, or the fake Feature Store. */
  endpoint?: string;
  forcePathStyle?: boolean;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

/**
 * A fallback S3 client (the CLI passes the one from src/aws/clients.ts). A
 * custom endpoint (s3rver, MinIO) gets path-style addressing and checksums only
 * where required: third-party servers reject the SDK's default trailer checksums.
 */
export function makeS3Client(aws: AwsOptions = {}): S3Client {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const config: S3ClientConfig = {
    region: aws.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    forcePathStyle: aws.forcePathStyle ?? Boolean(aws.endpoint),
  };
  if (aws.endpoint) {
    config.endpoint = aws.endpoint;
    config.requestChecksumCalculation = 'WHEN_REQUIRED';
    config.responseChecksumValidation = 'WHEN_REQUIRED';
  }
  if (aws.credentials) config.credentials = aws.credentials;
  return new (s3Sdk().S3Client)(config);
}

function isNotFound(e: unknown): boolean {
  const err = e as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number }; code?: string };
  return err?.name === 'NoSuchKey' || err?.Code === 'NoSuchKey' || err?.name === 'NotFound' || err?.$metadata?.httpStatusCode === 404 || err?.code === 'ENOENT';
}

export class ObjectStore {
  private s3Client: S3Client | undefined;
  constructor(
    s3: S3Client | undefined,
    private readonly aws: AwsOptions = {},
    private readonly uploadConcurrency = 4,
  ) {
    this.s3Client = s3;
  }

  private get s3(): S3Client {
    this.s3Client ??= makeS3Client(this.aws);
    return this.s3Client;
  }

  /** Copy a local file to `uri`; returns its size in bytes. Local targets are written atomically (tmp + rename). */
  async putFile(localPath: string, uri: string): Promise<number> {
    const bytes = (await stat(localPath)).size;
    const loc = parseStoreUri(uri);
    if (loc.kind === 'local') {
      await mkdir(dirname(loc.path), { recursive: true });
      const tmp = `${loc.path}.tmp-${process.pid}-${Date.now()}`;
      await copyFile(localPath, tmp);
      await rename(tmp, loc.path);
    } else {
      await new (s3UploadSdk().Upload)({
        client: this.s3,
        params: { Bucket: loc.bucket, Key: loc.key, Body: createReadStream(localPath), ContentType: 'application/vnd.apache.parquet' },
        queueSize: this.uploadConcurrency,
        partSize: 8 * 1024 * 1024,
        leavePartsOnError: false,
      }).done();
    }
    return bytes;
  }

  async putJson(uri: string, value: unknown): Promise<void> {
    const text = JSON.stringify(value, null, 2);
    const loc = parseStoreUri(uri);
    if (loc.kind === 'local') {
      await mkdir(dirname(loc.path), { recursive: true });
      const tmp = `${loc.path}.tmp-${process.pid}-${Date.now()}`;
      await writeFile(tmp, text);
      await rename(tmp, loc.path);
    } else {
      await this.s3.send(new (s3Sdk().PutObjectCommand)({ Bucket: loc.bucket, Key: loc.key, Body: text, ContentType: 'application/json' }));
    }
  }

  async getJson<T>(uri: string): Promise<T | undefined> {
    const loc = parseStoreUri(uri);
    try {
      if (loc.kind === 'local') return JSON.parse(await readFile(loc.path, 'utf8')) as T;
      const out = await this.s3.send(new (s3Sdk().GetObjectCommand)({ Bucket: loc.bucket, Key: loc.key }));
      return JSON.parse(await out.Body!.transformToString()) as T;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  /** Delete objects (missing ones are fine). S3: DeleteObjects in batches of 1000. */
  async deleteMany(uris: string[]): Promise<void> {
    const byBucket = new Map<string, string[]>();
    for (const uri of uris) {
      const loc = parseStoreUri(uri);
      if (loc.kind === 'local') await rm(loc.path, { force: true });
      else byBucket.set(loc.bucket, [...(byBucket.get(loc.bucket) ?? []), loc.key]);
    }
    for (const [bucket, keys] of byBucket) {
      for (let i = 0; i < keys.length; i += 1000) {
        const out = await this.s3.send(
          new (s3Sdk().DeleteObjectsCommand)({ Bucket: bucket, Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true } }),
        );
        const errors = (out.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
        if (errors.length) throw new Error(`could not delete s3://${bucket}/${errors[0].Key}: ${errors[0].Code} ${errors[0].Message ?? ''}`.trim());
      }
    }
  }
}
