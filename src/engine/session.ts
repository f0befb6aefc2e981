/**
 * A DuckDB session: one in-process database with the runtime's memory limit,
 * threads and spill directory, pinned to UTC, with the version's macros loaded.
 */
import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { mkdirSync } from 'node:fs';
import { compile, type SqlFragment } from './sql.ts';
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

export class Session {
  private constructor(
    readonly instance: DuckDBInstance,
    readonly conn: DuckDBConnection,
  ) {}

  static async open(opts: SessionOptions = {}): Promise<Session> {
    // Outputs are partitioned and keyed, never read in insertion order: let DuckDB stream and spill freely.
    const config: Record<string, string> = { preserve_insertion_order: 'false' };
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
    if (opts.specVersion) await session.run(await loadMacros(opts.specVersion));
    return session;
  }

  async run(text: string, params?: Params): Promise<void> {
    await this.conn.run(text, paramsUsedBy(text, params));
  }

  async all<T = Record<string, unknown>>(text: string, params?: Params): Promise<T[]> {
    const reader = await this.conn.runAndReadAll(text, paramsUsedBy(text, params));
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

  async describe(relation: string): Promise<{ name: string; type: string }[]> {
    const rows = await this.all<{ column_name: string; column_type: string }>(`DESCRIBE ${relation}`);
    return rows.map((r) => ({ name: r.column_name, type: r.column_type }));
  }

  async duckdbVersion(): Promise<string> {
    return (await this.one<{ v: string }>('SELECT version() AS v')).v;
  }

  close(): void {
    this.conn.closeSync();
    this.instance.closeSync();
  }
}
