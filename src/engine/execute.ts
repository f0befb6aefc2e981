/**
 * Running templates and committing their results: materialise a template,
 * check its output against the declared contract, stage Parquet with
 * run-unique names, then commit each partition (manifest last).
 */
import { mkdir } from 'node:fs/promises';
import pLimit from 'p-limit';
import { dirname, join, resolve } from 'node:path';
import { DataError } from '../errors/index.ts';
import type { Manifest, ManifestInput } from '../storage/manifest.ts';
import type { Warehouse } from '../storage/warehouse.ts';
import type { Column } from '../transforms/columns.ts';
import type { Params, Session } from './session.ts';
import { ident, inline, lit, parquetScan, sql, type SqlFragment } from './sql.ts';
import { loadTemplate, type Template } from './templates.ts';

export interface TemplateRef {
  name: string;
  sha256: string;
}

/** The rule of a template's error: DuckDB's own message follows, the original error is its cause. */
export const TEMPLATE_BINDS = 'template binds to its inputs';

/** `CREATE TEMP TABLE|VIEW <as> AS <template>` (or `INSERT INTO <as> <template>`); binder errors name the template. */
export async function materialize(
  session: Session,
  version: string,
  name: string,
  as: string,
  params?: Params,
  kind: 'TABLE' | 'VIEW' | 'APPEND' = 'TABLE',
): Promise<Template> {
  const t = await loadTemplate(version, name);
  const target = inline(sql`${ident(as)}`);
  try {
    // Views cannot hold prepared parameters, so only tables take $params. APPEND inserts into
    // an existing table (a template run in chunks).
    if (kind === 'APPEND') await session.run(`INSERT INTO ${target}\n${t.text}`, params);
    else await session.run(`CREATE OR REPLACE TEMP ${kind} ${target} AS\n${t.text}`, kind === 'TABLE' ? params : undefined);
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0];
    const column = /column "?([^"\s]+)"? not found|Referenced column "([^"]+)"/i.exec(msg);
    throw new DataError({ file: `sql/${version}/${name}.sql`, column: column?.[1] ?? column?.[2], rule: TEMPLATE_BINDS }, msg, { cause: e });
  }
  return t;
}

/** Compare a relation with its contract: same names, same types; order is imposed on write. */
export async function checkContract(session: Session, relation: string, contract: Column[], label: string): Promise<void> {
  const actual = await session.describe(relation);
  const have = new Map(actual.map((c) => [c.name, c.type]));
  const declared = new Set(contract.map((c) => c.name));
  for (const c of contract) {
    const t = have.get(c.name);
    if (t === undefined) throw new DataError({ file: label, column: c.name, rule: 'output contract: column present' }, 'declared column is missing');
    if (t !== c.type) throw new DataError({ file: label, column: c.name, rule: 'output contract: type' }, `expected ${c.type}, got ${t}`);
  }
  const extra = actual.filter((c) => !declared.has(c.name));
  if (extra.length) throw new DataError({ file: label, column: extra.map((c) => c.name).join(','), rule: 'output contract: no undeclared columns' }, 'undeclared output column');
}

export interface PartitionPlan {
  /** Partition path relative to the warehouse root. */
  partition: string;
  /** Values of the partitionBy columns, in partitionBy order. */
  values: string[];
  inputs: ManifestInput[];
  dq?: Record<string, number>;
  notes?: Record<string, unknown>;
}

export interface CommitRequest {
  session: Session;
  warehouse: Warehouse;
  runId: string;
  dataset: string;
  relation: string;
  columns: Column[];
  /** Columns whose values form the partition directories, e.g. [dt, hh, mm]. */
  partitionBy: string[];
  plans: PartitionPlan[];
  templates: TemplateRef[];
  jobspecSha256: string;
  featureSpecVersion: string;
  missingOptionalFields?: string[];
  engine: { ndr_sql: string; duckdb: string };
  timingsMs: Record<string, number>;
  /**
   * Text columns with few distinct values (partition labels, role, version). Only for a
   * table relation: their values are read once more to build the ENUM each is written
   * through (see `dictionaryTyped`).
   */
  lowCardinality?: string[];
}

/**
 * Stage the relation once (PARTITION_BY, run-unique names), then commit every
 * planned partition. A planned partition without rows gets one empty Parquet
 * file, so that an explicitly empty batch is a committed, readable partition.
 */
export async function stageAndCommit(req: CommitRequest): Promise<Manifest[]> {
  const stage = join(await req.warehouse.stagingDir(req.runId), req.dataset.replaceAll('/', '__'));
  const t0 = Date.now();
  const enums = await dictionaryTyped(req);
  const select = sql`SELECT ${sql.join(
    req.columns.map((c) => (enums.has(c.name) ? sql`${ident(c.name)}::${ident(enums.get(c.name)!)} AS ${ident(c.name)}` : ident(c.name))),
  )} FROM ${ident(req.relation)}`;
  // RETURN_STATS lists every file written with its row count: no directory listing and no
  // footer read afterwards (that metadata query was ~25 ms a COPY).
  const written = await req.session.pluck<{ filename: string; count: number }>(
    inline(sql`COPY (${select}) TO ${lit(stage)} (FORMAT parquet, COMPRESSION snappy, PARTITION_BY (${sql.join(
      req.partitionBy.map(ident),
    )}), WRITE_PARTITION_COLUMNS true, FILENAME_PATTERN ${lit(`part-${req.runId}-{i}`)}, OVERWRITE_OR_IGNORE true, RETURN_STATS true)`),
    ['filename', 'count'],
  );
  const filesByDir = new Map<string, typeof written>();
  for (const w of written) {
    const dir = dirname(resolve(w.filename));
    filesByDir.set(dir, [...(filesByDir.get(dir) ?? []), w]);
  }
  const staged = req.plans.map((plan) => {
    const dir = resolve(stage, ...req.partitionBy.map((k, i) => `${k}=${plan.values[i]}`));
    return { plan, dir, files: (filesByDir.get(dir) ?? []).map((w) => ({ path: w.filename, rows: w.count })) };
  });
  for (const s of staged) if (!s.files.length) s.files = [{ path: await writeEmpty(req, s.dir, select), rows: 0 }];
  for (const type of enums.values()) await req.session.run(inline(sql`DROP TYPE ${ident(type)}`));
  const limit = pLimit(8);
  return Promise.all(
    staged.map(({ plan, files }) =>
      limit(() =>
        req.warehouse.commit({
          partition: plan.partition,
          localFiles: files,
          manifest: {
            dataset: req.dataset,
            partition: plan.partition,
            partition_values: Object.fromEntries(req.partitionBy.map((k, i) => [k, plan.values[i]])),
            feature_spec_version: req.featureSpecVersion,
            run_id: req.runId,
            created_at: new Date().toISOString(),
            row_count: files.reduce((a, f) => a + f.rows, 0),
            columns: req.columns,
            template: req.templates,
            jobspec_sha256: req.jobspecSha256,
            inputs: plan.inputs,
            dq: plan.dq ?? {},
            missing_optional_fields: req.missingOptionalFields ?? [],
            engine: req.engine,
            timings_ms: { ...req.timingsMs, stage_and_commit: Date.now() - t0 },
            ...(plan.notes ? { notes: plan.notes } : {}),
          },
        }),
      ),
    ),
  );
}

let enumTypes = 0;

/**
 * An ENUM type per low-cardinality text column, made from the relation's own values.
 * DuckDB's Parquet writer writes an ENUM column's dictionary once instead of hashing
 * every value: delta_peers' five such columns cost 0.6 s of a 1.55 s COPY of 3.17M rows
 * as VARCHAR. The files still hold plain UTF8 strings, so readers see no difference.
 */
async function dictionaryTyped(req: CommitRequest): Promise<Map<string, string>> {
  const enums = new Map<string, string>();
  for (const c of req.columns) {
    if (c.type !== 'VARCHAR' || !req.lowCardinality?.includes(c.name)) continue;
    const type = `ndr_enum_${++enumTypes}`;
    await req.session.run(
      inline(sql`CREATE TYPE ${ident(type)} AS ENUM (SELECT DISTINCT ${ident(c.name)} FROM ${ident(req.relation)} WHERE ${ident(c.name)} IS NOT NULL)`),
    );
    enums.set(c.name, type);
  }
  return enums;
}

async function writeEmpty(req: CommitRequest, dir: string, select: ReturnType<typeof sql>): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, `part-${req.runId}-empty.parquet`);
  await req.session.run(inline(sql`COPY (${select} LIMIT 0) TO ${lit(file)} (FORMAT parquet)`));
  return file;
}

/** Register an upstream dataset as a view over its manifests' files (never a glob). */
export async function registerInputView(
  session: Session,
  warehouse: Warehouse,
  view: string,
  manifests: Manifest[],
  columns: Column[],
): Promise<void> {
  const files = (await Promise.all(manifests.map((m) => warehouse.localDataFiles(m)))).flat();
  // union_by_name reads every file's schema whenever the view is bound (~1 ms a file); it is
  // only needed when the partitions were written with different columns (e.g. port sets
  // changed between JobSpec versions). Each manifest records its files' columns.
  const sameColumns = new Set(manifests.map((m) => JSON.stringify(m.columns))).size <= 1;
  const relation = files.length
    ? parquetScan(files, { unionByName: !sameColumns })
    : // No partition at all: an empty relation with the contract's schema.
      sql`(SELECT ${sql.join(columns.map((c) => sql`NULL::${sql.raw(c.type)} AS ${ident(c.name)}`))} WHERE false)`;
  await createRelation(session, view, relation);
}

/** `CREATE OR REPLACE TEMP VIEW|TABLE <name>` over a relation: a table function, a view, a subquery. */
export async function createRelation(session: Session, name: string, relation: SqlFragment, kind: 'VIEW' | 'TABLE' = 'VIEW'): Promise<void> {
  await session.run(inline(sql`CREATE OR REPLACE TEMP ${sql.raw(kind)} ${ident(name)} AS SELECT * FROM ${relation}`));
}
