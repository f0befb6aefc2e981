/**
 * Which raw files feed which batches. A URI template with {dt}/{hh}/{mm} is
 * expanded per batch, so only the files of the batches being built are read;
 * a plain glob reads every matching file and events are placed by event_start.
 */
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { formatBatch, type Batch } from '../engine/batches.ts';
import type { Session } from '../engine/session.ts';
import { lit, inline, sql } from '../engine/sql.ts';
import { hasPlaceholders, type ResolvedRawInput } from './spec.ts';

export interface RawFile {
  /** Path DuckDB reads (local, or the cache copy of an S3 object). */
  local: string;
  /** Display name: the original path or s3:// URI. */
  display: string;
  /** Changes whenever the content may have changed (size+mtime locally, ETag on S3). */
  fingerprint: string;
}

export interface RawLocation {
  mode: 'template' | 'glob';
  files: RawFile[];
  /** Files per batch start (template mode); in glob mode every batch maps to all files. */
  filesByBatch: Map<number, RawFile[]>;
}

export function expandTemplate(uri: string, b: Batch): string {
  const { dt, hh, mm } = formatBatch(b);
  return uri.replaceAll('{dt}', dt).replaceAll('{hh}', hh).replaceAll('{mm}', mm);
}

/**
 * The directory a pattern's matches must lie under: its segments before the first one with a
 * wildcard (for a plain path, its directory).
 */
export function fixedDirectory(pattern: string): string {
  const segments = pattern.split('/');
  const wild = segments.findIndex((x) => /[*?[{]/.test(x));
  return segments.slice(0, wild < 0 ? -1 : wild).join('/') || (pattern.startsWith('/') ? '/' : '.');
}

/**
 * Local globs through DuckDB's own glob(), so patterns mean the same as in read_*: all the
 * patterns in one query (~1 ms a query; a raw day is 24 hourly patterns). A pattern whose
 * fixed directory does not exist matches nothing without asking DuckDB: FG-A's look-back
 * asks for every hour of up to 30 days before the data begins.
 */
async function globLocal(session: Session, patterns: string[]): Promise<RawFile[][]> {
  const live = patterns.flatMap((pattern, i) => (existsSync(fixedDirectory(pattern)) ? [{ pattern, i }] : []));
  const found = patterns.map((): RawFile[] => []);
  if (!live.length) return found;
  const globs = live.map(({ pattern, i }) => sql`SELECT ${lit(i)} AS i, file FROM glob(${lit(pattern)})`);
  const rows = await session.all<{ i: number; file: string }>(inline(sql`${sql.join(globs, sql` UNION ALL `)} ORDER BY i, file`));
  const stats = await Promise.all(rows.map(({ file }) => stat(file)));
  rows.forEach(({ i, file }, k) => found[i].push({ local: file, display: file, fingerprint: `${stats[k].size}:${stats[k].mtimeMs}` }));
  return found;
}

export type Globber = (pattern: string) => Promise<RawFile[]>;

export async function locateRaw(session: Session, raw: ResolvedRawInput, batches: Batch[], globber?: Globber): Promise<RawLocation> {
  // A custom globber (S3) lists one pattern at a time, in order.
  const globAll = async (patterns: string[]) => {
    if (!globber) return globLocal(session, patterns);
    const found: RawFile[][] = [];
    for (const p of patterns) found.push(await globber(p));
    return found;
  };
  if (!hasPlaceholders(raw.uri)) {
    const [files] = await globAll([raw.uri]);
    return { mode: 'glob', files, filesByBatch: new Map(batches.map((b) => [b.start, files])) };
  }
  // Hourly or daily files serve several batches: glob each distinct expansion once.
  const byPattern = new Map<string, Batch[]>();
  for (const b of batches) {
    const p = expandTemplate(raw.uri, b);
    byPattern.set(p, [...(byPattern.get(p) ?? []), b]);
  }
  const filesByBatch = new Map<number, RawFile[]>();
  const all = new Map<string, RawFile>();
  const matches = await globAll([...byPattern.keys()]);
  [...byPattern.values()].forEach((bs, i) => {
    matches[i].forEach((f) => all.set(f.local, f));
    bs.forEach((b) => filesByBatch.set(b.start, matches[i]));
  });
  return { mode: 'template', files: [...all.values()], filesByBatch };
}
