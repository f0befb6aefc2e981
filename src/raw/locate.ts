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
 * Local glob through DuckDB's own glob(), so patterns mean the same as in read_*. A pattern
 * whose fixed directory does not exist matches nothing without asking DuckDB (~1.4 ms a
 * query): FG-A's look-back asks for every hour of up to 30 days before the data begins.
 */
async function globLocal(session: Session, pattern: string): Promise<RawFile[]> {
  if (!existsSync(fixedDirectory(pattern))) return [];
  const rows = await session.all<{ file: string }>(inline(sql`SELECT file FROM glob(${lit(pattern)}) ORDER BY file`));
  return Promise.all(
    rows.map(async ({ file }) => {
      const st = await stat(file);
      return { local: file, display: file, fingerprint: `${st.size}:${st.mtimeMs}` };
    }),
  );
}

export type Globber = (pattern: string) => Promise<RawFile[]>;

export async function locateRaw(session: Session, raw: ResolvedRawInput, batches: Batch[], globber?: Globber): Promise<RawLocation> {
  const glob = globber ?? ((p: string) => globLocal(session, p));
  if (!hasPlaceholders(raw.uri)) {
    const files = await glob(raw.uri);
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
  for (const [pattern, bs] of byPattern) {
    const files = await glob(pattern);
    files.forEach((f) => all.set(f.local, f));
    bs.forEach((b) => filesByBatch.set(b.start, files));
  }
  return { mode: 'template', files: [...all.values()], filesByBatch };
}
