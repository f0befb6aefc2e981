/**
 * The run ledger (ARCHITECTURE.md, Pipeline operation): one record per
 * (project, version, dataset, partition) with status, attempts, the last error
 * and a pointer to the committed manifest. `partition` is the warehouse
 * partition path, e.g. `delta/feature_spec_version=v1/dt=2026-11-24/hh=12/mm=15`.
 *
 * Implementations: LocalLedger (DuckDB file, ledger-local.ts) and DynamoLedger
 * (ledger-dynamo.ts). Both apply the same merge rules (mergeLedgerEntry).
 */
import { partitionValues } from '../storage/layout.ts';

export const LEDGER_STATUSES = ['running', 'committed', 'failed', 'missing_input'] as const;
export type LedgerStatus = (typeof LEDGER_STATUSES)[number];

export interface LedgerKey {
  project: string;
  version: string;
  dataset: string;
  partition: string;
}

/** Where the committed output is: the partition path and the run_id of its `_manifest.json`. */
export interface ManifestPointer {
  partition: string;
  run_id: string;
}

/** What a caller records. Omitted fields follow the rules of mergeLedgerEntry. */
export interface LedgerRecordInput extends LedgerKey {
  status: LedgerStatus;
  attempts?: number;
  last_error?: string | null;
  manifest?: ManifestPointer | null;
  /** ISO-8601 UTC. */
  started_at?: string | null;
  finished_at?: string | null;
  rows?: number | null;
  seconds?: number | null;
}

export interface LedgerEntry extends LedgerKey {
  status: LedgerStatus;
  attempts: number;
  last_error: string | null;
  manifest: ManifestPointer | null;
  started_at: string | null;
  finished_at: string | null;
  rows: number | null;
  seconds: number | null;
  /** Data time of the partition (dt/hh/mm or reference_date), epoch ms UTC; null if the path has none. */
  partition_ms: number | null;
  updated_at: string;
}

export interface LedgerFilter {
  project: string;
  version: string;
  dataset?: string;
  /** Partitions whose data time is in [fromMs, toMs). */
  fromMs?: number;
  toMs?: number;
  status?: LedgerStatus;
}

export interface Ledger {
  /** Display form (file path or table name). */
  readonly description: string;
  /** Upsert one record; returns what is now stored. */
  record(entry: LedgerRecordInput): Promise<LedgerEntry>;
  get(key: LedgerKey): Promise<LedgerEntry | undefined>;
  /** Sorted by dataset, then partition. */
  list(filter: LedgerFilter): Promise<LedgerEntry[]>;
  close(): Promise<void>;
}

/** Data time of a partition path: dt[/hh[/mm]] or reference_date, as epoch ms UTC. */
export function partitionTimeMs(partition: string): number | null {
  const v = partitionValues(partition);
  const day = v.dt ?? v.reference_date;
  if (!day || !/^\d{4}-\d{2}-\d{2}$/.test(day)) return null;
  const ms = Date.parse(`${day}T${(v.hh ?? '00').padStart(2, '0')}:${(v.mm ?? '00').padStart(2, '0')}:00Z`);
  return Number.isNaN(ms) ? null : ms;
}

/**
 * The merge rules, shared by every implementation:
 * - attempts: given, else `running` starts a new attempt (previous + 1); other
 *   statuses keep the previous count (a first record: 1, or 0 for missing_input);
 * - last_error: given, else cleared on `committed`, kept otherwise;
 * - manifest: given, else kept (it points at what readers currently see);
 * - started_at: given, else now on `running`, kept otherwise;
 * - finished_at: given, else null on `running`, now otherwise;
 * - rows, seconds: given, else null (they describe this attempt).
 */
export function mergeLedgerEntry(prev: LedgerEntry | undefined, input: LedgerRecordInput, now: Date = new Date()): LedgerEntry {
  if (!(LEDGER_STATUSES as readonly string[]).includes(input.status)) throw new Error(`invalid ledger status ${JSON.stringify(input.status)}`);
  const iso = now.toISOString();
  const running = input.status === 'running';
  return {
    project: input.project,
    version: input.version,
    dataset: input.dataset,
    partition: input.partition,
    status: input.status,
    attempts: input.attempts ?? (running ? (prev?.attempts ?? 0) + 1 : (prev?.attempts ?? (input.status === 'missing_input' ? 0 : 1))),
    last_error: input.last_error !== undefined ? input.last_error : input.status === 'committed' ? null : (prev?.last_error ?? null),
    manifest: input.manifest !== undefined ? input.manifest : (prev?.manifest ?? null),
    started_at: input.started_at !== undefined ? input.started_at : running ? iso : (prev?.started_at ?? null),
    finished_at: input.finished_at !== undefined ? input.finished_at : running ? null : iso,
    rows: input.rows ?? null,
    seconds: input.seconds ?? null,
    partition_ms: partitionTimeMs(input.partition),
    updated_at: iso,
  };
}

export function matchesFilter(e: LedgerEntry, f: LedgerFilter): boolean {
  if (e.project !== f.project || e.version !== f.version) return false;
  if (f.dataset !== undefined && e.dataset !== f.dataset) return false;
  if (f.status !== undefined && e.status !== f.status) return false;
  if (f.fromMs !== undefined || f.toMs !== undefined) {
    if (e.partition_ms === null) return false;
    if (f.fromMs !== undefined && e.partition_ms < f.fromMs) return false;
    if (f.toMs !== undefined && e.partition_ms >= f.toMs) return false;
  }
  return true;
}

export const compareEntries = (a: LedgerEntry, b: LedgerEntry) =>
  a.dataset < b.dataset ? -1 : a.dataset > b.dataset ? 1 : a.partition < b.partition ? -1 : a.partition > b.partition ? 1 : 0;
