/**
 * The one place where TypeScript assembles SQL text. Identifiers are quoted
 * and values are bound or rendered as literals through kysely's `sql` helpers,
 * compiled with the PostgreSQL compiler (DuckDB shares its quoting and `$n`
 * placeholders). Never interpolate JobSpec text into SQL by hand.
 */
import {
  DummyDriver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  sql,
  type RawBuilder,
} from 'kysely';

const compiler = new Kysely<unknown>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
});

export { sql };
export type SqlFragment = RawBuilder<unknown>;

export interface CompiledSql {
  text: string;
  params: unknown[];
}

export function compile(fragment: SqlFragment): CompiledSql {
  const c = fragment.compile(compiler);
  return { text: c.sql, params: [...c.parameters] };
}

/** Quoted identifier, e.g. a column named in a JobSpec. */
export const ident = (name: string) => sql.id(name);
/** A literal value rendered inline (for DDL, where DuckDB does not accept bound parameters). */
export const lit = (value: string | number | boolean | null) => sql.lit(value);
/** A list of string literals, e.g. a manifest's file list for read_parquet([...]). */
export const litList = (values: readonly string[]) => sql`[${sql.join(values.map((v) => sql.lit(v)))}]`;
/** Render a fragment that must not carry bound parameters (views, COPY targets). */
export function inline(fragment: SqlFragment): string {
  const c = compile(fragment);
  if (c.params.length) throw new Error(`internal: SQL fragment expected to be parameter-free: ${c.text}`);
  return c.text;
}

/** read_parquet over an explicit file list (never a glob); hive partition columns are not added. */
export function parquetScan(files: readonly string[], opts: { unionByName?: boolean; filename?: string; fileRowNumber?: boolean } = {}): SqlFragment {
  const extra = [
    ...(opts.unionByName ? [sql`union_by_name = true`] : []),
    ...(opts.filename ? [sql`filename = ${lit(opts.filename)}`] : []),
    ...(opts.fileRowNumber ? [sql`file_row_number = true`] : []),
  ];
  return sql`read_parquet(${litList(files)}, hive_partitioning = false${sql.join(extra.map((e) => sql`, ${e}`), sql``)})`;
}
