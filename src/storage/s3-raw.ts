/**
 * Raw input on S3: expand a URI template such as
 * `s3://raw/paloalto/dt={dt}/hh={hh}/*.json.gz` for the batches needed, list
 * only the prefixes those batches need (each distinct static prefix once), match
 * the glob part (`*`, `?`, `**`), and stage the matches into the object cache.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import pLimit from 'p-limit';
import { ConfigError, UsageError } from '../errors/index.ts';
import type { ObjectCache } from './cache.ts';
import { listObjects } from './s3.ts';
import { parseS3Uri } from './s3uri.ts';

export interface RawSlot {
  /** YYYY-MM-DD */
  dt: string;
  /** 00..23 (numbers are zero-padded) */
  hh?: string | number;
  /** 00, 15, 30, 45 (numbers are zero-padded) */
  mm?: string | number;
}

export interface RawObject {
  bucket: string;
  key: string;
  etag: string;
  size: number;
  /** s3://bucket/key */
  uri: string;
}

export interface RawSlotListing {
  /** undefined when a template without placeholders was listed without slots. */
  slot: RawSlot | undefined;
  /** The expanded key glob of this slot. */
  pattern: string;
  objects: RawObject[];
}

export const RAW_PLACEHOLDERS = ['dt', 'hh', 'mm'] as const;
const PLACEHOLDER_RE = /\{([^{}]*)\}/g;
const GLOB_CHARS = /[*?]/;

/** Placeholders used by a template; an unknown one is a configuration error. */
export function templatePlaceholders(keyTemplate: string, template = keyTemplate): string[] {
  const found = new Set<string>();
  for (const m of keyTemplate.matchAll(PLACEHOLDER_RE)) {
    if (!(RAW_PLACEHOLDERS as readonly string[]).includes(m[1]))
      throw new ConfigError(`raw input URI ${template}: unknown placeholder {${m[1]}}; known: {dt} {hh} {mm}`);
    found.add(m[1]);
  }
  return [...found];
}

const pad2 = (v: string | number | undefined, name: string, template: string) => {
  if (v === undefined) throw new UsageError(`raw input URI ${template} uses {${name}} but no ${name} value was given`);
  const s = String(v);
  return /^\d$/.test(s) ? `0${s}` : s;
};

/** The key glob of one slot (no bucket). */
export function expandTemplate(keyTemplate: string, slot: RawSlot | undefined, template = keyTemplate): string {
  return keyTemplate.replace(PLACEHOLDER_RE, (_, name: string) => {
    if (!slot) throw new UsageError(`raw input URI ${template} has placeholders; batches (dt/hh/mm) are required to list it`);
    if (name === 'dt') {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(slot.dt)) throw new UsageError(`raw input dt ${JSON.stringify(slot.dt)} is not YYYY-MM-DD`);
      return slot.dt;
    }
    return pad2(name === 'hh' ? slot.hh : slot.mm, name, template);
  });
}

/** The part of a key glob before its first wildcard: what ListObjectsV2 gets as Prefix. */
export function staticPrefix(pattern: string): string {
  const i = pattern.search(GLOB_CHARS);
  return i < 0 ? pattern : pattern.slice(0, i);
}

/** `*` and `?` stay within one path segment; `**` crosses segments (`**\/` also matches zero segments). */
export function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; ) {
    if (pattern.startsWith('**/', i)) {
      re += '(?:.*/)?';
      i += 3;
    } else if (pattern.startsWith('**', i)) {
      re += '.*';
      i += 2;
    } else if (pattern[i] === '*') {
      re += '[^/]*';
      i++;
    } else if (pattern[i] === '?') {
      re += '[^/]';
      i++;
    } else {
      re += pattern[i].replace(/[.+^${}()|[\]\\]/g, '\\$&');
      i++;
    }
  }
  return new RegExp(`^${re}$`);
}

export interface RawListOptions {
  /** Parallel ListObjectsV2 prefixes (default 8). */
  concurrency?: number;
}

/**
 * Per slot, the objects its expanded glob matches. Each distinct static prefix
 * is listed once; when the rest of the glob stays in one segment, the listing
 * uses a `/` delimiter so deeper keys are not even returned. A template with no
 * placeholders is listed once (slots may be omitted).
 */
export async function listRawSlots(s3: S3Client, template: string, slots?: RawSlot[], opts: RawListOptions = {}): Promise<RawSlotListing[]> {
  const bucketPart = template.trim().replace(/^s3:\/\//i, '').split('/')[0];
  if (/[{}*?]/.test(bucketPart)) throw new ConfigError(`raw input URI ${template}: the bucket may not contain placeholders or wildcards`);
  const { bucket, prefix: keyTemplate } = parseS3Uri(template, 'raw input URI');
  if (!keyTemplate) throw new ConfigError(`raw input URI ${template} names no objects (expected s3://bucket/path/with/*.glob)`);
  const placeholders = templatePlaceholders(keyTemplate, template);
  if (placeholders.length > 0 && slots === undefined)
    throw new UsageError(`raw input URI ${template} has placeholders; batches (dt/hh/mm) are required to list it`);
  const slotList: (RawSlot | undefined)[] = slots ?? [undefined];

  const patterns = slotList.map((s) => expandTemplate(keyTemplate, s, template));
  const byPrefix = new Map<string, { delimited: boolean; patterns: Set<string> }>();
  for (const p of new Set(patterns)) {
    const prefix = staticPrefix(p);
    const rest = p.slice(prefix.length);
    const delimited = !rest.includes('/') && !rest.includes('**') && rest !== '';
    const entry = byPrefix.get(prefix) ?? { delimited, patterns: new Set<string>() };
    entry.delimited &&= delimited;
    entry.patterns.add(p);
    byPrefix.set(prefix, entry);
  }

  const limit = pLimit(opts.concurrency ?? 8);
  const matched = new Map<string, RawObject[]>();
  await Promise.all(
    [...byPrefix].map(([prefix, { delimited, patterns: pats }]) =>
      limit(async () => {
        const listed = await listObjects(s3, bucket, prefix, delimited ? '/' : undefined);
        for (const p of pats) {
          const re = globToRegExp(p);
          matched.set(
            p,
            listed
              .filter((o) => !o.key.endsWith('/') && re.test(o.key))
              .map((o) => ({ bucket, key: o.key, etag: o.etag, size: o.size, uri: `s3://${bucket}/${o.key}` }))
              .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)),
          );
        }
      }),
    ),
  );
  return slotList.map((slot, i) => ({ slot, pattern: patterns[i], objects: matched.get(patterns[i]) ?? [] }));
}

/** All objects needed by the slots, each once, sorted by key. */
export async function listRawObjects(s3: S3Client, template: string, slots?: RawSlot[], opts: RawListOptions = {}): Promise<RawObject[]> {
  const seen = new Map<string, RawObject>();
  for (const l of await listRawSlots(s3, template, slots, opts)) for (const o of l.objects) seen.set(o.key, o);
  return [...seen.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Download (or reuse from the cache) every object; local paths in input order. */
export function stageRawObjects(cache: ObjectCache, objects: RawObject[]): Promise<string[]> {
  return cache.fetchAll(objects.map((o) => ({ bucket: o.bucket, key: o.key, etag: o.etag, size: o.size })));
}

/** The manifest input fingerprint of a raw object. */
export const rawFingerprint = (o: RawObject) => `etag:${o.etag}:${o.size}`;

/**
 * A globber for raw/locate.ts: an expanded `s3://` pattern → its matches, staged
 * into the cache (`local` is what DuckDB reads, `fingerprint` carries the ETag).
 */
export function s3Globber(s3: S3Client, cache: ObjectCache, opts: RawListOptions = {}) {
  return async (pattern: string): Promise<{ local: string; display: string; fingerprint: string }[]> => {
    const objects = await listRawObjects(s3, pattern, undefined, opts);
    const locals = await stageRawObjects(cache, objects);
    return objects.map((o, i) => ({ local: locals[i], display: o.uri, fingerprint: rawFingerprint(o) }));
  };
}
