/**
 * 15-minute batches (FEATURES.md §0): [start, end) aligned to :00/:15/:30/:45 UTC.
 * All arithmetic is on epoch milliseconds in UTC; no local time here.
 */
import { UsageError } from '../errors/index.ts';

export const BATCH_MS = 15 * 60 * 1000;
export const DAY_MS = 24 * 60 * 60 * 1000;

export interface Batch {
  /** epoch ms of batch_start */
  start: number;
}

export const batchEnd = (b: Batch) => b.start + BATCH_MS;
const pad = (n: number) => String(n).padStart(2, '0');

export function formatBatch(b: Batch) {
  const d = new Date(b.start);
  return {
    dt: d.toISOString().slice(0, 10),
    hh: pad(d.getUTCHours()),
    mm: pad(d.getUTCMinutes()),
    /** YYYYMMDDTHHMMZ of batch_start */
    miniBatchId: d.toISOString().slice(0, 16).replace(/[-:]/g, '') + 'Z',
  };
}

export const isoZ = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

/** Parse YYYY-MM-DD (or `today`/`yesterday`, UTC) to the epoch ms of that day's 00:00 UTC. */
export function parseDay(text: string, now = Date.now()): number {
  if (text === 'today' || text === 'yesterday') {
    const today = Math.floor(now / DAY_MS) * DAY_MS;
    return text === 'today' ? today : today - DAY_MS;
  }
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) throw new UsageError(`invalid date ${JSON.stringify(text)}: expected YYYY-MM-DD, today or yesterday`);
  const ms = Date.parse(`${text}T00:00:00Z`);
  if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== text) throw new UsageError(`invalid date ${JSON.stringify(text)}`);
  return ms;
}

/** Parse an ISO instant; a value without zone is taken as UTC. */
export function parseInstant(text: string): number {
  const withZone = /([zZ]|[+-]\d{2}:?\d{2})$/.test(text) ? text : `${text}Z`;
  const ms = Date.parse(withZone);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(ms)) throw new UsageError(`invalid ISO timestamp ${JSON.stringify(text)}`);
  return ms;
}

export function alignedBatch(ms: number, what = 'batch'): Batch {
  if (ms % BATCH_MS !== 0) throw new UsageError(`${what} ${isoZ(ms)} is not aligned to :00/:15/:30/:45 UTC`);
  return { start: ms };
}

/** Batches whose start lies in [fromMs, toMs). */
export function batchesInRange(fromMs: number, toMs: number): Batch[] {
  const out: Batch[] = [];
  for (let t = Math.ceil(fromMs / BATCH_MS) * BATCH_MS; t < toMs; t += BATCH_MS) out.push({ start: t });
  return out;
}

export const batchesOfDay = (dayMs: number) => batchesInRange(dayMs, dayMs + DAY_MS);

/**
 * Batches as runs of consecutive 15-minute batches, for people: a missing day is one
 * "2026-11-25T00:00:00Z..2026-11-25T23:45:00Z (96 batches)", not 96 timestamps.
 */
export function batchRuns(batches: Batch[]): string[] {
  const starts = [...new Set(batches.map((b) => b.start))].sort((a, b) => a - b);
  const runs: [number, number][] = [];
  for (const s of starts) {
    const last = runs.at(-1);
    if (last && s === last[1] + BATCH_MS) last[1] = s;
    else runs.push([s, s]);
  }
  return runs.map(([a, b]) => (a === b ? isoZ(a) : `${isoZ(a)}..${isoZ(b)} (${(b - a) / BATCH_MS + 1} batches)`));
}

export interface BatchSelection {
  date?: string;
  batch?: string;
  from?: string;
  to?: string;
}

/** The CLI's --date | --batch | --from/--to, as a sorted batch list. */
export function selectBatches(sel: BatchSelection, now = Date.now()): Batch[] {
  const given = [sel.date, sel.batch, sel.from ?? sel.to].filter((v) => v !== undefined).length;
  if (given !== 1) throw new UsageError('give exactly one of --date, --batch or --from/--to');
  if (sel.date) return batchesOfDay(parseDay(sel.date, now));
  if (sel.batch) return [alignedBatch(parseInstant(sel.batch), '--batch')];
  if (!sel.from || !sel.to) throw new UsageError('--from and --to go together');
  const from = /^\d{4}-\d{2}-\d{2}$/.test(sel.from) ? parseDay(sel.from) : parseInstant(sel.from);
  // A plain --to date is inclusive: the whole of that day is selected.
  const to = /^\d{4}-\d{2}-\d{2}$/.test(sel.to) ? parseDay(sel.to) + DAY_MS : parseInstant(sel.to);
  if (to <= from) throw new UsageError('--to must be after --from');
  return batchesInRange(from, to);
}
