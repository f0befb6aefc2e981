/**
 * A DuckDB session: one in-process database with the runtime's memory limit,
 * threads and spill directory, pinned to UTC, with the version's macros loaded.
 */
import { DuckDBInstance, version as duckdbLibraryVersion, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { compile, inline, lit, sql, type SqlFragment } from './sql.ts';
import { loadMacros } from './templates.ts';

export interface SessionOptions {
  memoryLimit?: string;
  threads?: number;
  tempDir?: string;
  specVersion?: string;
}

export type Params = Record<string, unknown>;

/** Only pass the named parameters a statement references: DuckDB rejects unused ones. */
function paramsUsedBy(text: string, params: Params | undefined): Record<string, DuckDBValue> | undefined {
  if (!params) return undefined;
  const used: Record<string, DuckDBValue> = {};
  for (const m of text.matchAll(/\$([A-Za-z_][A-Za-z0-9_]*)/g)) {
    if (!(m[1] in params)) throw new Error(`internal: SQL parameter $${m[1]} was not bound`);
    used[m[1]] = params[m[1]] as DuckDBValue;
  }
  return Object.keys(used).length ? used : undefined;
}

/** BIGINT/HUGEINT come back as bigint; callers want numbers (all our counts fit in 2^53). */
function plain(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) return value.map(plain);
  return value;
}

/** NDR_SQL_TRACE_MS=N prints every statement slower than N ms to stderr (a profiling aid). */
function traceSlow(text: string, t0: number): void {
  const ms = Date.now() - t0;
  if (ms >= Number(process.env.NDR_SQL_TRACE_MS ?? 'NaN')) process.stderr.write(`sql ${ms} ms: ${text.slice(0, 100).replace(/\s+/g, ' ')}\n`);
}

/**
 * NDR_SQL_PROFILE_DIR=DIR (read when a session opens) writes DuckDB's JSON profile
 * (operators, timings, cardinalities) of every template materialization and COPY to
 * DIR/<n>-<relation>.json.
 */
let profiled = 0;
function profileTarget(profileDir: string | undefined, text: string): string | undefined {
  if (!profileDir) return undefined;
  const m = /^\s*(?:CREATE OR REPLACE TEMP (?:TABLE|VIEW) "([^"]+)"|(COPY))/.exec(text);
  if (!m) return undefined;
  return join(profileDir, `${String(++profiled).padStart(3, '0')}-${m[1] ?? 'copy'}.json`);
}

export class Session {
  private profileDir?: string;

  private constructor(
    readonly instance: DuckDBInstance,
    readonly conn: DuckDBConnection,
  ) {}

  static async open(opts: SessionOptions = {}): Promise<Session> {
    // Outputs are partitioned and keyed, never read in insertion order: let DuckDB stream and spill freely.
    const config: Record<string, string> = { preserve_insertion_order: 'false' };
    // A partitioned COPY keeps one Parquet writer per open file, with buffers per column: at
    // FG-C's ~480 columns that was ~50 MB a file (20 partitions ran out of a 1 GB limit).
    // Partitions are buffered and written at the end anyway, so a few open files at a time
    // cost nothing in speed (measured faster) and do not split partitions into more files.
    config.partitioned_write_max_open_files = '4';
    if (opts.memoryLimit) config.memory_limit = opts.memoryLimit;
    if (opts.threads) config.threads = String(opts.threads);
    if (opts.tempDir) {
      mkdirSync(opts.tempDir, { recursive: true });
      config.temp_directory = opts.tempDir;
    }
    const instance = await DuckDBInstance.create(':memory:', config);
    const session = new Session(instance, await instance.connect());
    // No network here or on most batch hosts: never try to download extensions.
    await session.run(`SET autoinstall_known_extensions = false; SET autoload_known_extensions = true; LOAD icu; SET TimeZone = 'UTC';`);
    // The warehouse is many small Parquet files (one per 15-minute partition). By default
    // DuckDB prefetches only remote files and reads local ones page header by page header,
    // one small read each; prefetching every column chunk whole read a demo day's 192 delta
    // files 4x faster (690 -> 165 ms; docs/performance.md). A setting of the parquet
    // extension, so it is set once that is loaded.
    await session.run(`LOAD parquet; SET prefetch_all_parquet_files = true;`);
    if (opts.specVersion) await session.run(await loadMacros(opts.specVersion));
    const profileDir = process.env.NDR_SQL_PROFILE_DIR;
    if (profileDir) {
      mkdirSync(profileDir, { recursive: true });
      // Statements that are not profiled on purpose write to last.json, never to the terminal.
      await session.run(inline(sql`PRAGMA enable_profiling = 'json'; SET profiling_output = ${lit(join(profileDir, 'last.json'))}`));
      session.profileDir = profileDir;
    }
    return session;
  }

  async run(text: string, params?: Params): Promise<void> {
    await this.profiled(text, () => this.conn.run(text, paramsUsedBy(text, params)));
  }

  /**
   * The rows of a statement, reading only the named columns: `COPY ... RETURN_STATS` also
   * returns every column's statistics per file, which nobody here reads (FG-C has 480 columns).
   */
  async pluck<T extends Record<string, unknown>>(text: string, columns: (keyof T & string)[]): Promise<T[]> {
    const reader = await this.profiled(text, () => this.conn.runAndReadAll(text));
    const at = columns.map((c) => reader.columnNames().indexOf(c));
    return Array.from(
      { length: reader.currentRowCount },
      (_, row) => Object.fromEntries(columns.map((c, i) => [c, plain(reader.value(at[i], row))])) as T,
    );
  }

  /** Run a statement with the profiling aids (NDR_SQL_PROFILE_DIR, NDR_SQL_TRACE_MS) around it. */
  private async profiled<R>(text: string, execute: () => Promise<R>): Promise<R> {
    const profile = profileTarget(this.profileDir, text);
    if (profile) await this.conn.run(inline(sql`SET profiling_output = ${lit(profile)}`));
    const t0 = Date.now();
    const result = await execute();
    traceSlow(text, t0);
    if (profile) await this.conn.run(inline(sql`SET profiling_output = ${lit(join(this.profileDir!, 'last.json'))}`));
    return result;
  }

  async all<T = Record<string, unknown>>(text: string, params?: Params): Promise<T[]> {
    const t0 = Date.now();
    const reader = await this.conn.runAndReadAll(text, paramsUsedBy(text, params));
    traceSlow(text, t0);
    return reader.getRowObjectsJS().map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, plain(v)])) as T);
  }

  async one<T = Record<string, unknown>>(text: string, params?: Params): Promise<T> {
    const rows = await this.all<T>(text, params);
    return rows[0];
  }

  /** Run a kysely-assembled fragment with its positional parameters. */
  async runFragment(fragment: SqlFragment): Promise<void> {
    const c = compile(fragment);
    await this.conn.run(c.text, c.params as DuckDBValue[]);
  }

  async allFragment<T = Record<string, unknown>>(fragment: SqlFragment): Promise<T[]> {
    const c = compile(fragment);
    const reader = await this.conn.runAndReadAll(c.text, c.params as DuckDBValue[]);
    return reader.getRowObjectsJS().map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, plain(v)])) as T);
  }

  /** The session's memory_limit in bytes (DuckDB prints it as e.g. "1.8 GiB"). */
  async memoryLimitBytes(): Promise<number> {
    const { v } = await this.one<{ v: string }>(`SELECT current_setting('memory_limit') AS v`);
    const m = /^([\d.]+)\s*([KMGT]?i?B|bytes)$/i.exec(v.trim());
    if (!m) return 1024 ** 3;
    const unit = m[2].toUpperCase();
    const pow = { BYTES: 0, B: 0, KB: 1, KIB: 1, MB: 2, MIB: 2, GB: 3, GIB: 3, TB: 4, TIB: 4 }[unit] ?? 3;
    return Number(m[1]) * (unit.includes('I') ? 1024 : 1000) ** pow;
  }

  /**
   * Columns of a relation: a name, or a query. Temp tables and views named here come from
   * the catalog: a view's types as bound when it was created, where DESCRIBE would bind
   * the whole query again (~0.3 s for FG-C's 480 columns, once per pass).
   */
  async describe(relation: string): Promise<{ name: string; type: string }[]> {
    const temp = await this.all<{ name: string; type: string }>(
      `SELECT column_name AS name, data_type AS type FROM duckdb_columns() WHERE database_name = 'temp' AND table_name = $relation ORDER BY column_index`,
      { relation },
    );
    if (temp.length) return temp;
    const rows = await this.all<{ column_name: string; column_type: string }>(`DESCRIBE ${relation}`);
    return rows.map((r) => ({ name: r.column_name, type: r.column_type }));
  }

  /** The DuckDB library's version (the engine this session runs; no query needed). */
  duckdbVersion(): string {
    return duckdbLibraryVersion();
  }

  close(): void {
    this.conn.closeSync();
    this.instance.closeSync();
  }
}
