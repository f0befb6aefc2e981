/**
 * The embedded ledger: a DuckDB file `<warehouse>/_ledger.duckdb`.
 *
 * DuckDB allows one writer process per file, so the file is opened for each
 * operation and closed right after: concurrent `ndr-sql` processes take turns
 * instead of one holding it for a whole run. "Could not set lock on file" is
 * retried with a short jittered backoff up to `busyTimeoutMs`. Within one
 * process, operations on the same file are serialized.
 */
import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ConfigError, TransientError } from '../errors/index.ts';
import {
  compareEntries,
  matchesFilter,
  mergeLedgerEntry,
  type Ledger,
  type LedgerEntry,
  type LedgerFilter,
  type LedgerKey,
  type LedgerRecordInput,
  type LedgerStatus,
} from './ledger.ts';

export const LEDGER_FILE = '_ledger.duckdb';

const DDL = `CREATE TABLE IF NOT EXISTS ledger (
  "project" VARCHAR NOT NULL,
  "version" VARCHAR NOT NULL,
  "dataset" VARCHAR NOT NULL,
  "partition" VARCHAR NOT NULL,
  "status" VARCHAR NOT NULL,
  "attempts" INTEGER NOT NULL,
  "last_error" VARCHAR,
  "manifest_partition" VARCHAR,
  "manifest_run_id" VARCHAR,
  "started_at" VARCHAR,
  "finished_at" VARCHAR,
  "rows" BIGINT,
  "seconds" DOUBLE,
  "partition_ms" BIGINT,
  "updated_at" VARCHAR NOT NULL,
  PRIMARY KEY ("project", "version", "dataset", "partition")
)`;

const COLUMNS = [
  'project',
  'version',
  'dataset',
  'partition',
  'status',
  'attempts',
  'last_error',
  'manifest_partition',
  'manifest_run_id',
  'started_at',
  'finished_at',
  'rows',
  'seconds',
  'partition_ms',
  'updated_at',
] as const;
const COLUMN_LIST = COLUMNS.map((c) => `"${c}"`).join(', ');

type Row = Record<(typeof COLUMNS)[number], unknown>;

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function fromRow(r: Row): LedgerEntry {
  return {
    project: String(r.project),
    version: String(r.version),
    dataset: String(r.dataset),
    partition: String(r.partition),
    status: String(r.status) as LedgerStatus,
    attempts: Number(r.attempts),
    last_error: (r.last_error as string | null) ?? null,
    manifest: r.manifest_partition != null ? { partition: String(r.manifest_partition), run_id: String(r.manifest_run_id ?? '') } : null,
    started_at: (r.started_at as string | null) ?? null,
    finished_at: (r.finished_at as string | null) ?? null,
    rows: num(r.rows),
    seconds: num(r.seconds),
    partition_ms: num(r.partition_ms),
    updated_at: String(r.updated_at),
  };
}

function toValues(e: LedgerEntry): DuckDBValue[] {
  return [
    e.project,
    e.version,
    e.dataset,
    e.partition,
    e.status,
    e.attempts,
    e.last_error,
    e.manifest?.partition ?? null,
    e.manifest?.run_id ?? null,
    e.started_at,
    e.finished_at,
    e.rows === null ? null : BigInt(Math.round(e.rows)),
    e.seconds,
    e.partition_ms === null ? null : BigInt(e.partition_ms),
    e.updated_at,
  ];
}

const isLockConflict = (e: unknown) => /could not set lock on file|conflicting lock is held/i.test(String((e as Error)?.message ?? e));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Job {
  fn: (conn: DuckDBConnection) => Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  busyTimeoutMs: number;
}

/**
 * One per ledger file in this process. Jobs run one at a time; jobs queued
 * while the file is open share that open (a burst of records costs one
 * open/close). The file is closed when the queue has been empty for `lingerMs`.
 */
class FileSessions {
  private readonly queue: Job[] = [];
  private pumping = false;
  idle: Promise<void> = Promise.resolve();

  constructor(
    readonly file: string,
    private readonly lingerMs: number,
  ) {}

  enqueue<T>(fn: (conn: DuckDBConnection) => Promise<T>, busyTimeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject, busyTimeoutMs });
      if (!this.pumping) this.idle = this.pump();
    });
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.queue.length) {
        let instance: DuckDBInstance;
        try {
          instance = await this.open(this.queue[0].busyTimeoutMs);
        } catch (e) {
          for (const job of this.queue.splice(0)) job.reject(e);
          break;
        }
        const conn = await instance.connect();
        try {
          await conn.run(DDL);
          for (;;) {
            for (let job = this.queue.shift(); job; job = this.queue.shift()) {
              try {
                job.resolve(await job.fn(conn));
              } catch (e) {
                job.reject(e);
              }
            }
            if (this.lingerMs <= 0) break;
            await sleep(this.lingerMs);
            if (!this.queue.length) break;
          }
        } catch (e) {
          for (const job of this.queue.splice(0)) job.reject(e);
        } finally {
          conn.closeSync();
          instance.closeSync();
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  /** Open the file; while another process holds it, retry with jittered backoff until busyTimeoutMs. */
  private async open(busyTimeoutMs: number): Promise<DuckDBInstance> {
    mkdirSync(dirname(this.file), { recursive: true });
    const deadline = Date.now() + busyTimeoutMs;
    for (let attempt = 1; ; attempt++) {
      try {
        return await DuckDBInstance.create(this.file);
      } catch (e) {
        if (!isLockConflict(e)) throw e;
        if (Date.now() >= deadline) throw new TransientError(`ledger ${this.file} is busy (another process holds it): ${(e as Error).message}`);
        await sleep(Math.min(Math.max(0, deadline - Date.now()), 5 + Math.random() * Math.min(500, 10 * 2 ** attempt)));
      }
    }
  }
}

const sessions = new Map<string, FileSessions>();

export interface LocalLedgerOptions {
  /** How long to keep retrying while another process holds the file (default 30 s). */
  busyTimeoutMs?: number;
  /** Keep the file open this long after the last queued operation (default 25 ms; the first ledger opened on a file in this process sets it). */
  lingerMs?: number;
}

export class LocalLedger implements Ledger {
  readonly file: string;
  private readonly sessions: FileSessions;
  private readonly busyTimeoutMs: number;
  private closed = false;

  /** `path` is the ledger file itself; see `forWarehouse` for the standard location. */
  constructor(path: string, opts: LocalLedgerOptions = {}) {
    this.file = resolve(path);
    this.busyTimeoutMs = opts.busyTimeoutMs ?? 30_000;
    let s = sessions.get(this.file);
    if (!s) sessions.set(this.file, (s = new FileSessions(this.file, opts.lingerMs ?? 25)));
    this.sessions = s;
  }

  /** `<warehouse>/_ledger.duckdb`; the warehouse must be a local path. */
  static forWarehouse(root: string, opts?: LocalLedgerOptions): LocalLedger {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(root)) {
      throw new ConfigError(`the local ledger needs a local warehouse, got ${root}; use the DynamoDB ledger (NDR_LEDGER_TABLE_NAME) for ${root.split(':')[0]} warehouses`);
    }
    return new LocalLedger(join(root, LEDGER_FILE), opts);
  }

  get description() {
    return `ledger ${this.file}`;
  }

  private withConnection<T>(fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error(`${this.description} is closed`));
    return this.sessions.enqueue(fn, this.busyTimeoutMs);
  }

  /** Rows whose columns equal `eq` (names from this file), partition_ms within the optional range, in key order. */
  private async select(conn: DuckDBConnection, eq: Record<string, DuckDBValue>, range: { fromMs?: number; toMs?: number } = {}): Promise<LedgerEntry[]> {
    const where = Object.keys(eq).map((c) => `"${c}" = $${c}`);
    const params = { ...eq };
    if (range.fromMs !== undefined) {
      where.push('"partition_ms" >= $from_ms');
      params.from_ms = BigInt(range.fromMs);
    }
    if (range.toMs !== undefined) {
      where.push('"partition_ms" < $to_ms');
      params.to_ms = BigInt(range.toMs);
    }
    const reader = await conn.runAndReadAll(`SELECT ${COLUMN_LIST} FROM ledger WHERE ${where.join(' AND ')} ORDER BY "dataset", "partition"`, params);
    return (reader.getRowObjectsJS() as Row[]).map(fromRow);
  }

  private async read(conn: DuckDBConnection, key: LedgerKey): Promise<LedgerEntry | undefined> {
    const [entry] = await this.select(conn, { project: key.project, version: key.version, dataset: key.dataset, partition: key.partition });
    return entry;
  }

  record(input: LedgerRecordInput): Promise<LedgerEntry> {
    return this.withConnection(async (conn) => {
      await conn.run('BEGIN TRANSACTION');
      try {
        const entry = mergeLedgerEntry(await this.read(conn, input), input);
        await conn.run(`INSERT OR REPLACE INTO ledger (${COLUMN_LIST}) VALUES (${COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})`, toValues(entry));
        await conn.run('COMMIT');
        return entry;
      } catch (e) {
        await conn.run('ROLLBACK').catch(() => undefined);
        throw e;
      }
    });
  }

  /**
   * Many records in one transaction: one read of the current rows, one
   * multi-row upsert (a nightly step records hundreds of partitions; one
   * transaction per record costs ~10-25 ms each). Same merge rules as `record`;
   * records of the same key apply in order.
   */
  recordMany(inputs: LedgerRecordInput[]): Promise<LedgerEntry[]> {
    if (!inputs.length) return Promise.resolve([]);
    return this.withConnection(async (conn) => {
      await conn.run('BEGIN TRANSACTION');
      try {
        const keyOf = (k: LedgerKey) => JSON.stringify([k.project, k.version, k.dataset, k.partition]);
        const merged = new Map<string, LedgerEntry>();
        for (const scope of new Set(inputs.map((i) => JSON.stringify([i.project, i.version])))) {
          const [project, version] = JSON.parse(scope) as [string, string];
          const wanted = new Set(inputs.map(keyOf));
          for (const e of await this.select(conn, { project, version })) if (wanted.has(keyOf(e))) merged.set(keyOf(e), e);
        }
        for (const i of inputs) merged.set(keyOf(i), mergeLedgerEntry(merged.get(keyOf(i)), i));
        const rows = inputs.map((i) => merged.get(keyOf(i))!).filter((e, idx, all) => all.indexOf(e) === idx);
        const tuple = (r: number) => `(${COLUMNS.map((_, c) => `$${r * COLUMNS.length + c + 1}`).join(', ')})`;
        for (let off = 0; off < rows.length; off += 500) {
          const chunk = rows.slice(off, off + 500);
          await conn.run(`INSERT OR REPLACE INTO ledger (${COLUMN_LIST}) VALUES ${chunk.map((_, r) => tuple(r)).join(', ')}`, chunk.flatMap(toValues));
        }
        await conn.run('COMMIT');
        return rows;
      } catch (e) {
        await conn.run('ROLLBACK').catch(() => undefined);
        throw e;
      }
    });
  }

  get(key: LedgerKey): Promise<LedgerEntry | undefined> {
    return this.withConnection((conn) => this.read(conn, key));
  }

  list(filter: LedgerFilter): Promise<LedgerEntry[]> {
    return this.withConnection(async (conn) => {
      const eq: Record<string, DuckDBValue> = { project: filter.project, version: filter.version };
      if (filter.dataset !== undefined) eq.dataset = filter.dataset;
      if (filter.status !== undefined) eq.status = filter.status;
      return (await this.select(conn, eq, filter))
        .filter((e) => matchesFilter(e, filter))
        .sort(compareEntries);
    });
  }

  /** Waits until this process's pending operations are done and the file is closed. */
  async close(): Promise<void> {
    this.closed = true;
    await this.sessions.idle;
  }
}
