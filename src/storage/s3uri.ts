/** `s3://bucket/prefix` parsing, validation and key joining. */
import { UsageError } from '../errors/index.ts';

export interface S3Uri {
  bucket: string;
  /** Key prefix without leading or trailing slash ('' for the bucket root). */
  prefix: string;
}

/** Anything that starts with `s3:` is meant as S3 (so that `s3:/x` is an error, not a local directory). */
export function isS3Uri(value: string): boolean {
  return /^s3:/i.test(value.trim());
}

const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Why a bucket name is invalid, or undefined when it is valid (S3 general purpose bucket rules). */
export function bucketNameProblem(bucket: string): string | undefined {
  if (bucket.length < 3 || bucket.length > 63) return 'must be 3 to 63 characters long';
  if (!BUCKET_RE.test(bucket)) return 'may only contain lowercase letters, digits, dots and hyphens, and must start and end with a letter or digit';
  if (bucket.includes('..')) return 'must not contain two adjacent dots';
  if (/^\d+\.\d+\.\d+\.\d+$/.test(bucket)) return 'must not be formatted as an IP address';
  if (bucket.startsWith('xn--') || bucket.startsWith('sthree-')) return 'must not start with a reserved prefix';
  if (bucket.endsWith('-s3alias') || bucket.endsWith('--ol-s3')) return 'must not end with a reserved suffix';
  return undefined;
}

/** Parse `s3://bucket[/prefix]`; a clear UsageError names what is wrong. */
export function parseS3Uri(uri: string, what = 'S3 URI'): S3Uri {
  const raw = uri.trim();
  const m = /^s3:\/\/([^/]*)(?:\/(.*))?$/i.exec(raw);
  if (!m)
    throw new UsageError(`${what} ${JSON.stringify(uri)} is malformed: expected s3://bucket/prefix`);
  const bucket = m[1];
  if (!bucket) throw new UsageError(`${what} ${JSON.stringify(uri)} has no bucket: expected s3://bucket/prefix`);
  const problem = bucketNameProblem(bucket);
  if (problem) throw new UsageError(`${what} ${JSON.stringify(uri)}: bucket name ${JSON.stringify(bucket)} ${problem}`);
  const rest = m[2] ?? '';
  if (/[\u0000-\u001f\u007f]/.test(rest)) throw new UsageError(`${what} ${JSON.stringify(uri)} contains control characters`);
  const segments = rest.split('/').filter((s) => s !== '');
  if (segments.some((s) => s === '.' || s === '..')) throw new UsageError(`${what} ${JSON.stringify(uri)} must not contain . or .. segments`);
  return { bucket, prefix: segments.join('/') };
}

/** Join key parts with single slashes, ignoring empty parts and stray slashes. */
export function joinKey(...parts: string[]): string {
  return parts
    .flatMap((p) => p.split('/'))
    .filter((s) => s !== '')
    .join('/');
}

export function formatS3Uri(bucket: string, key = ''): string {
  return `s3://${bucket}/${key}`;
}
