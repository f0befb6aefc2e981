/**
 * From dataset rows (local Parquet files) to Feature Store records, in SQL.
 *
 * Both targets share one plan: which columns become features, their Feature
 * Store type (Integral, Fractional, String), the record identifier, the event
 * time and why a row cannot be published (its dead-letter reason). Everything
 * is computed by DuckDB over TEMP views; TypeScript only chooses identifiers,
 * which are quoted through `src/engine/sql.ts`.
 *
 * Value rules (documented contract):
 * - integers → Integral (BIGINT); FLOAT/DOUBLE/DECIMAL → Fractional (DOUBLE);
 *   everything else → String: VARCHAR as is, TIMESTAMP/TIMESTAMPTZ as UTC
 *   `yyyy-MM-ddTHH:mm:ssZ` (`.SSSZ` when there are milliseconds), DATE as
 *   `yyyy-MM-dd`, BOOLEAN as `true`/`false`. LIST/STRUCT/MAP/BLOB are refused.
 * - NULL → the feature is omitted from the online record (NULL offline).
 * - NaN/±Infinity in a Fractional feature → nan_policy `null`: treated as NULL
 *   (and counted); `dead_letter`: the whole record is dead-lettered.
 * - NULL/empty record identifier, or an event time that is NULL or not a
 *   timestamp → the record is dead-lettered with that reason.
 */
import { existsSync } from 'node:fs';
import { DataError } from '../errors/index.ts';
import type { Session } from '../engine/session.ts';
import { createRelation } from '../engine/execute.ts';
import { ident, inline, lit, parquetScan, sql, type SqlFragment } from '../engine/sql.ts';
import { FS_NAME, FS_RESERVED, OFFLINE_PARTITION_COLUMNS, type PublishSpec, type PublishTarget } from './spec.ts';

export type ColumnKind = 'int' | 'float' | 'decimal' | 'bool' | 'timestamp' | 'date' | 'string' | 'unsupported';
export type FeatureType = 'Integral' | 'Fractional' | 'String';

export interface SourceColumn {
  name: string;
  /** DuckDB type as DESCRIBE prints it. */
  type: string;
  kind: ColumnKind;
}

export interface FeaturePlan {
  /** Feature name (= column name, or the event time feature). */
  name: string;
  featureType: FeatureType;
  /** SQL producing the typed offline value (BIGINT, DOUBLE or VARCHAR). */
  typed: SqlFragment;
  /** SQL producing the online ValueAsString (VARCHAR, NULL = omitted). */
  text: SqlFragment;
}

/** Columns a dead-letter file adds; they are never features, so a dead-letter file can be published again. */
export const DEAD_LETTER_COLUMNS = ['dead_letter_reason', 'dead_letter_attempts', 'dead_letter_target', 'dead_letter_at'] as const;
const isDeadLetterColumn = (name: string) => name.startsWith('dead_letter_');

const FILE_COL = '__pub_file';
const ROW_COL = 'file_row_number';

export function columnKind(type: string): ColumnKind {
  const t = type.toUpperCase();
  if (/^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT)$/.test(t)) return 'int';
  if (/^(FLOAT|DOUBLE|REAL)$/.test(t)) return 'float';
  if (/^DECIMAL/.test(t)) return 'decimal';
  if (t === 'BOOLEAN') return 'bool';
  if (/^TIMESTAMP/.test(t)) return 'timestamp';
  if (t === 'DATE') return 'date';
  if (t === 'VARCHAR' || t === 'UUID' || t === 'TIME' || /^ENUM\(/.test(t)) return 'string';
  return 'unsupported';
}

const featureTypeOf = (k: ColumnKind): FeatureType =>
  k === 'int' ? 'Integral' : k === 'float' || k === 'decimal' ? 'Fractional' : 'String';

/** A UTC TIMESTAMP from a column of any supported time-ish type (NULL when it cannot be read as one). */
function utcTimestamp(col: SourceColumn): SqlFragment {
  const c = ident(col.name);
  const t = col.type.toUpperCase();
  if (t === 'TIMESTAMP WITH TIME ZONE' || t === 'TIMESTAMPTZ') return sql`timezone('UTC', ${c})`;
  if (col.kind === 'timestamp' || col.kind === 'date') return sql`CAST(${c} AS TIMESTAMP)`;
  if (col.kind === 'int' || col.kind === 'float' || col.kind === 'decimal')
    return sql`CASE WHEN abs(CAST(${c} AS DOUBLE)) < 1e11 THEN timezone('UTC', to_timestamp(CAST(${c} AS DOUBLE))) END`;
  if (col.kind === 'string') return sql`timezone('UTC', TRY_CAST(${c} AS TIMESTAMPTZ))`;
  throw new DataError({ column: col.name, rule: 'publish.event_time' }, `type ${col.type} cannot be an event time (TIMESTAMP, DATE, epoch seconds or ISO text)`);
}

/** Feature Store's ISO-8601 EventTime text: yyyy-MM-ddTHH:mm:ssZ, or .SSSZ when there are milliseconds. */
export function isoText(utcTs: SqlFragment): SqlFragment {
  return sql`CASE WHEN epoch_us(${utcTs}) % 1000000 = 0 THEN strftime(${utcTs}, '%Y-%m-%dT%H:%M:%SZ') ELSE strftime(${utcTs}, '%Y-%m-%dT%H:%M:%S.%gZ') END`;
}

function featureFor(col: SourceColumn): FeaturePlan {
  const c = ident(col.name);
  switch (col.kind) {
    case 'int':
      return { name: col.name, featureType: 'Integral', typed: sql`CAST(${c} AS BIGINT)`, text: sql`CAST(${c} AS VARCHAR)` };
    case 'float':
      return {
        name: col.name,
        featureType: 'Fractional',
        typed: sql`CASE WHEN isfinite(${c}) THEN CAST(${c} AS DOUBLE) END`,
        text: sql`CASE WHEN isfinite(${c}) THEN CAST(${c} AS VARCHAR) END`,
      };
    case 'decimal':
      return { name: col.name, featureType: 'Fractional', typed: sql`CAST(${c} AS DOUBLE)`, text: sql`CAST(CAST(${c} AS DOUBLE) AS VARCHAR)` };
    case 'bool': {
      const v = sql`CASE WHEN ${c} THEN 'true' WHEN NOT ${c} THEN 'false' END`;
      return { name: col.name, featureType: 'String', typed: v, text: v };
    }
    case 'timestamp': {
      const v = isoText(utcTimestamp(col));
      return { name: col.name, featureType: 'String', typed: v, text: v };
    }
    case 'date': {
      const v = sql`strftime(${c}, '%Y-%m-%d')`;
      return { name: col.name, featureType: 'String', typed: v, text: v };
    }
    case 'string': {
      const v = sql`CAST(${c} AS VARCHAR)`;
      return { name: col.name, featureType: 'String', typed: v, text: v };
    }
    default:
      throw new DataError(
        { column: col.name, rule: 'publish.feature_type' },
        `type ${col.type} has no Feature Store type (Integral, Fractional, String): list the column in publish.exclude`,
      );
  }
}

let viewSeq = 0;

export interface PreparedRows {
  readonly featureGroup: string;
  readonly spec: PublishSpec;
  readonly files: string[];
  /** All source columns (dead_letter_* columns of a replayed file left out). */
  readonly sourceColumns: SourceColumn[];
  /** Published features in record order; includes the record identifier and the event time feature. */
  readonly features: FeaturePlan[];
  /** TEMP view: source columns + __pub_file, file_row_number, __pub_rid, __pub_et (UTC TIMESTAMP), __pub_nonfinite, __pub_reject. */
  readonly rowsView: string;
  /** Drop the TEMP views. */
  drop(): Promise<void>;
}

export interface RowCounts {
  records: number;
  /** Rows with no dead-letter reason. */
  publishable: number;
  /** Publishable rows where at least one NaN/±Infinity became NULL (nan_policy 'null'). */
  nonFiniteNulled: number;
  /** Dead-letter reasons computed in SQL (missing id/time, nan_policy dead_letter) → count. */
  rejected: Record<string, number>;
}

/**
 * Validate the columns against the spec and register the TEMP views. Throws one
 * DataError before any write or API call when the data cannot be published.
 */
export async function prepareRows(
  session: Session,
  files: string[],
  spec: PublishSpec,
  featureGroup: string,
  target: PublishTarget,
): Promise<PreparedRows> {
  const missingFiles = files.filter((f) => !existsSync(f));
  if (missingFiles.length)
    throw new DataError({ file: missingFiles[0], rule: 'publish.input' }, `${missingFiles.length} input file(s) do not exist`);

  const n = ++viewSeq;
  const srcView = `__pub_src_${process.pid}_${n}`;
  const baseView = `__pub_base_${process.pid}_${n}`;
  const rowsView = `__pub_rows_${process.pid}_${n}`;

  await createRelation(session, srcView, parquetScan(files, { unionByName: true, filename: FILE_COL, fileRowNumber: true }));
  const drop = async () => {
    for (const v of [rowsView, baseView, srcView]) await session.run(inline(sql`DROP VIEW IF EXISTS ${ident(v)}`));
  };
  try {
    const described = await session.describe(srcView);
    const sourceColumns: SourceColumn[] = described
      .filter((c) => c.name !== FILE_COL && c.name !== ROW_COL && !isDeadLetterColumn(c.name))
      .map((c) => ({ name: c.name, type: c.type, kind: columnKind(c.type) }));
    const byName = new Map(sourceColumns.map((c) => [c.name, c]));
    const where = files.length === 1 ? files[0] : `${files.length} files (${files[0]}, ...)`;

    // Required columns and the configured feature list: one error naming every missing column.
    const wanted = spec.features ?? sourceColumns.map((c) => c.name);
    const required = [spec.record_identifier, spec.event_time];
    const missing = [...new Set([...required, ...(spec.features ?? [])])].filter((c) => !byName.has(c));
    if (missing.length)
      throw new DataError(
        { file: where, column: missing.join(', '), rule: 'publish.columns' },
        `feature group ${featureGroup} needs column(s) the data does not have (present: ${sourceColumns.map((c) => c.name).join(', ')})`,
      );

    const excluded = new Set(spec.exclude);
    let names = wanted.filter((c) => !excluded.has(c) || c === spec.record_identifier);
    if (!names.includes(spec.record_identifier)) names = [spec.record_identifier, ...names];
    const etName = spec.event_time_feature_name;
    if (byName.has(etName) && etName !== spec.event_time && names.includes(etName))
      throw new DataError(
        { file: where, column: etName, rule: 'publish.event_time_feature_name' },
        `the data already has a column ${etName} that is not the event time source ${spec.event_time}: rename publish.event_time_feature_name or exclude the column`,
      );

    const reserved = new Set<string>([...FS_RESERVED, ...(target === 'offline' ? OFFLINE_PARTITION_COLUMNS : [])]);
    const badNames = names.filter((nm) => !FS_NAME.test(nm) || reserved.has(nm));
    if (badNames.length)
      throw new DataError(
        { file: where, column: badNames.join(', '), rule: 'publish.feature_name' },
        `not valid Feature Store feature names (${FS_NAME}, not ${[...reserved].join('/')}): list them in publish.exclude`,
      );

    const etCol = byName.get(spec.event_time)!;
    const etUtc = utcTimestamp(etCol);
    const et = sql.ref('__pub_et');
    const etFeature: FeaturePlan =
      spec.event_time_format === 'iso'
        ? { name: etName, featureType: 'String', typed: isoText(et), text: isoText(et) }
        : { name: etName, featureType: 'Fractional', typed: sql`epoch(${et})`, text: sql`CAST(epoch(${et}) AS VARCHAR)` };

    const features: FeaturePlan[] = [];
    for (const nm of names) {
      if (nm === etName) features.push(etFeature);
      else features.push(featureFor(byName.get(nm)!));
    }
    if (!names.includes(etName)) features.push(etFeature);

    const floatCols = names.filter((nm) => nm !== etName && byName.get(nm)!.kind === 'float');
    const nonfinite = floatCols.length
      ? sql`nullif(array_to_string(list_filter([${sql.join(
          floatCols.map((nm) => sql`CASE WHEN NOT isfinite(${ident(nm)}) THEN ${lit(nm)} END`),
        )}], x -> x IS NOT NULL), ', '), '')`
      : sql`CAST(NULL AS VARCHAR)`;

    await session.run(
      inline(sql`CREATE OR REPLACE TEMP VIEW ${ident(baseView)} AS SELECT *,
        CAST(${ident(spec.record_identifier)} AS VARCHAR) AS __pub_rid,
        ${etUtc} AS __pub_et,
        ${nonfinite} AS __pub_nonfinite
        FROM ${ident(srcView)}`),
    );
    const nanReject =
      spec.nan_policy === 'dead_letter'
        ? sql`WHEN __pub_nonfinite IS NOT NULL THEN 'non-finite value (NaN/Infinity) in ' || __pub_nonfinite || ' (nan_policy dead_letter)'`
        : sql``;
    await session.run(
      inline(sql`CREATE OR REPLACE TEMP VIEW ${ident(rowsView)} AS SELECT *,
        CASE
          WHEN __pub_rid IS NULL OR __pub_rid = '' THEN ${lit(`missing record identifier: column ${spec.record_identifier} is NULL or empty`)}
          WHEN __pub_et IS NULL THEN ${lit(`missing event time: column ${spec.event_time} is NULL or not a timestamp`)}
          ${nanReject}
        END AS __pub_reject
        FROM ${ident(baseView)}`),
    );
    return { featureGroup, spec, files, sourceColumns, features, rowsView, drop };
  } catch (e) {
    await drop().catch(() => undefined);
    throw e;
  }
}

export async function countRows(session: Session, p: PreparedRows): Promise<RowCounts> {
  const rows = await session.all<{ reason: string | null; n: number; nulled: number }>(
    inline(sql`SELECT __pub_reject AS reason, count(*) AS n, count(*) FILTER (WHERE __pub_nonfinite IS NOT NULL) AS nulled
      FROM ${ident(p.rowsView)} GROUP BY ALL`),
  );
  const out: RowCounts = { records: 0, publishable: 0, nonFiniteNulled: 0, rejected: {} };
  for (const r of rows) {
    out.records += r.n;
    if (r.reason === null) {
      out.publishable += r.n;
      out.nonFiniteNulled += r.nulled;
    } else out.rejected[r.reason] = r.n;
  }
  return out;
}

/** `<expr> AS <feature>` for every feature, typed (offline) or as text (online). */
export function featureSelectList(p: PreparedRows, mode: 'typed' | 'text'): SqlFragment {
  return sql.join(p.features.map((f) => sql`${mode === 'typed' ? f.typed : f.text} AS ${ident(f.name)}`));
}

/**
 * The online values of a record as one JSON array text, in feature order
 * (`null` = omitted): one string per row costs about half the CPU of one JS
 * value per feature to fetch from DuckDB (≈20 vs ≈40 µs for 34 features) and
 * crosses to a worker thread as a single string.
 */
export function recordValuesJson(p: PreparedRows): SqlFragment {
  return sql`CAST(to_json([${sql.join(p.features.map((f) => f.text))}]) AS VARCHAR)`;
}

/** The source columns as they were, for dead-letter files. */
export function sourceSelectList(p: PreparedRows, qualifier?: string): SqlFragment {
  return sql.join(p.sourceColumns.map((c) => (qualifier ? sql`${sql.ref(`${qualifier}.${c.name}`)}` : ident(c.name))));
}

export const ROW_KEY = { file: FILE_COL, row: ROW_COL } as const;
