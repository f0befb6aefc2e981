/**
 * The schema-map layer (FEATURES.md §1): raw files -> `raw_src` (as read) ->
 * `raw_mapped` (renamed to canonical names, a view, never a copy) ->
 * `raw_typed` (canonical types; values that cannot be parsed are reported,
 * never silently nulled).
 */
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { createInterface } from 'node:readline';
import { DataError } from '../errors/index.ts';
import {
  CANONICAL_FIELDS,
  OPTIONAL_FIELDS,
  REQUIRED_FIELDS,
  type CanonicalField,
} from '../config/jobspec-schemas.ts';
import type { Session } from '../engine/session.ts';
import { createRelation, TEMPLATE_BINDS } from '../engine/execute.ts';
import { ident, inline, lit, litList, sql, type SqlFragment } from '../engine/sql.ts';
import { loadTemplate } from '../engine/templates.ts';
import type { RawFile } from './locate.ts';
import type { ResolvedRawInput } from './spec.ts';

const CANONICAL_TYPES: Record<CanonicalField, string> = {
  source_ip: 'VARCHAR',
  destination_ip: 'VARCHAR',
  source_port: 'INTEGER',
  destination_port: 'INTEGER',
  source_bytes: 'BIGINT',
  destination_bytes: 'BIGINT',
  event_start: 'TIMESTAMP',
  event_end: 'TIMESTAMP',
  event_action: 'VARCHAR',
  event_reason: 'VARCHAR',
  event_name: 'VARCHAR',
  network_transport: 'VARCHAR',
};

export interface RawViews {
  missingOptionalFields: CanonicalField[];
  templates: { name: string; sha256: string }[];
}

function describeFiles(files: RawFile[]): string {
  if (files.length === 1) return files[0].display;
  return `${files[0].display} (+${files.length - 1} more)`;
}

/** Zeek TSV: the `#fields` header names the columns; every file of a set must agree. */
async function zeekFields(file: string): Promise<string[]> {
  const input = createReadStream(file);
  const stream = file.endsWith('.gz') ? input.pipe(createGunzip()) : input;
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      if (line.startsWith('#fields')) return line.split('\t').slice(1);
      if (!line.startsWith('#')) break;
    }
  } catch (e) {
    throw new DataError({ file, rule: 'readable' }, `cannot read Zeek log: ${(e as Error).message}`);
  } finally {
    lines.close();
    input.destroy();
  }
  throw new DataError({ file, rule: 'zeek_tsv header' }, 'no #fields header line');
}

async function readerFor(session: Session, raw: ResolvedRawInput, files: RawFile[]): Promise<SqlFragment> {
  const paths = litList(files.map((f) => f.local));
  switch (raw.format) {
    case 'parquet':
      return sql`read_parquet(${paths}, union_by_name = true, filename = true, hive_partitioning = false)`;
    case 'ndjson':
      return jsonReaderWithPinnedSchema(session, paths);
    case 'zeek_tsv': {
      const fields = await zeekFields(files[0].local);
      for (const f of files.slice(1)) {
        const other = await zeekFields(f.local);
        if (other.join('\t') !== fields.join('\t'))
          throw new DataError({ file: f.display, rule: 'zeek_tsv header' }, `#fields differ from ${files[0].display}`);
      }
      const columns = sql`{${sql.join(fields.map((f) => sql`${lit(f)}: 'VARCHAR'`))}}`;
      return sql`read_csv(${paths}, delim = '\t', header = false, comment = '#', quote = '', escape = '',
        nullstr = '-', auto_detect = false, columns = ${columns}, filename = true, strict_mode = false, hive_partitioning = false)`;
    }
  }
}

/**
 * DuckDB sniffs the schema of NDJSON (every file, with union_by_name) each time a query over
 * read_json is bound: ~0.8 s for a day of 96 files, and the raw stage binds five statements.
 * Sniff once, then read with the sniffed columns and types written out, which yields the
 * same rows (checked on the bench's 3.1M-event day).
 */
const JSON_OPTIONS = sql`format = 'newline_delimited', filename = true, hive_partitioning = false, maximum_object_size = 16777216`;

async function jsonReaderWithPinnedSchema(session: Session, paths: SqlFragment): Promise<SqlFragment> {
  const sniffed = await session.all<{ column_name: string; column_type: string }>(
    inline(sql`DESCRIBE SELECT * FROM read_json(${paths}, ${JSON_OPTIONS}, union_by_name = true)`),
  );
  const columns = sniffed.filter((c) => c.column_name !== 'filename').map((c) => sql`${lit(c.column_name)}: ${lit(c.column_type)}`);
  return sql`read_json(${paths}, ${JSON_OPTIONS}, auto_detect = false, columns = {${sql.join(columns)}})`;
}

/** DuckDB's reader error (corrupt Parquet, bad gzip, ...) as a one-line data error naming the file. */
function readerError(files: RawFile[], rule: string, e: unknown): Error {
  if (e instanceof DataError) return e;
  const msg = (e as Error).message.split('\n')[0];
  const named = files.find((f) => msg.includes(f.local));
  return new DataError({ file: named ? named.display : describeFiles(files), rule }, msg.replaceAll(named?.local ?? '\0', named?.display ?? ''));
}

async function guarded<T>(files: RawFile[], rule: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw readerError(files, rule, e);
  }
}

/**
 * Run a statement that reads the raw views; a reader error naming a raw file becomes a
 * one-line data error.
 * NDJSON is read with the types DuckDB detected from each file's first rows, so a later value
 * of another type fails inside DuckDB's reader: the file is then read again as text to name
 * the column and the value.
 */
export async function readingRaw<T>(session: Session, raw: ResolvedRawInput, files: RawFile[], fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (thrown) {
    // A template's statement reports DuckDB's reader error as its own: look at the original.
    const e = thrown instanceof DataError && thrown.where.rule === TEMPLATE_BINDS ? thrown.cause : thrown;
    const msg = (e as Error).message.split('\n')[0];
    const named = files.find((f) => msg.includes(f.local));
    // Errors that name no raw file (out of memory, a template's own) are not the input's fault.
    if (e instanceof DataError || !named) throw thrown;
    if (raw.format === 'ndjson' && /JSON transform error/.test(msg)) {
      const bad = await firstMistypedJsonValue(session, named.local).catch(() => undefined);
      if (bad)
        throw new DataError(
          { file: named.display, column: bad.column, rule: `one type per ndjson field (${bad.type}, detected from the first rows)` },
          `value ${JSON.stringify(bad.value)} is not a ${bad.type}`,
        );
    }
    throw readerError(files, `readable ${raw.format}`, e);
  }
}

/** The first value of `file` that does not cast to the type raw_src pinned for its field. */
async function firstMistypedJsonValue(session: Session, file: string): Promise<{ column: string; type: string; value: string } | undefined> {
  const pinned = (await session.describe('raw_src')).filter((c) => c.name !== 'filename');
  const asText = sql`read_json(${lit(file)}, ${JSON_OPTIONS}, auto_detect = false, columns = {${sql.join(pinned.map((c) => sql`${lit(c.name)}: 'VARCHAR'`))}})`;
  // Scalar types only (a bare type name can be spliced as it is); nested fields are not canonical.
  for (const c of pinned.filter((c) => c.type !== 'VARCHAR' && /^[A-Z][A-Z_ ]*$/.test(c.type))) {
    const rows = await session.all<{ value: string }>(
      inline(sql`SELECT ${ident(c.name)} AS value FROM ${asText}
        WHERE ${ident(c.name)} IS NOT NULL AND TRY_CAST(${ident(c.name)} AS ${sql.raw(c.type)}) IS NULL LIMIT 1`),
    );
    if (rows.length) return { column: c.name, type: c.type, value: rows[0].value };
  }
  return undefined;
}

export async function registerRawViews(session: Session, raw: ResolvedRawInput, files: RawFile[], strict: boolean): Promise<RawViews> {
  const templates: { name: string; sha256: string }[] = [];
  await guarded(files, `readable ${raw.format}`, async () => {
    await createRelation(session, 'raw_src', await readerFor(session, raw, files));
    // Read one row now, so an unreadable file fails here, named, rather than mid-build.
    await session.run('FROM raw_src LIMIT 1');
  });
  let sourceColumns = (await session.describe('raw_src')).map((c) => c.name);

  if (raw.presetTemplate) {
    const t = await loadTemplate('v1', raw.presetTemplate);
    templates.push({ name: t.name, sha256: t.sha256 });
    await guarded(files, `preset ${raw.preset}`, () => session.run(`CREATE OR REPLACE TEMP VIEW raw_preset AS ${t.text}`));
    sourceColumns = (await session.describe('raw_preset')).map((c) => c.name);
  }
  // `filename` is added by the reader for error messages; it is not a data column.
  sourceColumns = sourceColumns.filter((c) => c !== 'filename');
  const source = raw.presetTemplate ? 'raw_preset' : 'raw_src';
  const mapping = mappingFor(raw, sourceColumns, files);
  const missing = OPTIONAL_FIELDS.filter((f) => mapping[f] === undefined);
  if (strict && missing.length)
    throw new DataError({ file: describeFiles(files), column: missing.join(','), rule: 'strict: optional fields required', jobspecKey: raw.jobspecKey }, 'missing in the input');

  const selected = CANONICAL_FIELDS.map((f) =>
    mapping[f] === undefined ? sql`NULL::VARCHAR AS ${ident(f)}` : sql`${ident(mapping[f]!)} AS ${ident(f)}`,
  );
  await session.run(
    inline(sql`CREATE OR REPLACE TEMP VIEW raw_mapped AS SELECT ${sql.join(selected)}, filename FROM ${sql.table(source)}`),
  );
  await createTypedView(session, raw);
  return { missingOptionalFields: [...missing], templates };
}

/**
 * canonical -> source column. Errors name the column, the file set and the
 * JobSpec key: a mapped column that does not exist, a mapping onto a canonical
 * name the input already has, a missing required field.
 */
function mappingFor(raw: ResolvedRawInput, columns: string[], files: RawFile[]): Partial<Record<CanonicalField, string>> {
  const have = new Set(columns);
  const where = (column: string, rule: string) => ({ file: describeFiles(files), column, rule, jobspecKey: `${raw.jobspecKey}.field_mapping` });
  const mapping: Partial<Record<CanonicalField, string>> = {};
  const mappedSources = new Set(Object.values(raw.field_mapping));
  for (const [canonical, src] of Object.entries(raw.field_mapping) as [CanonicalField, string][]) {
    if (!have.has(src)) throw new DataError(where(src, 'mapped column exists'), `field_mapping ${canonical} <- ${src}: no such column in the input`);
    if (have.has(canonical) && !mappedSources.has(canonical) && canonical !== src)
      throw new DataError(where(canonical, 'mapping target is free'), `field_mapping ${canonical} <- ${src}: the input already has a column ${canonical}`);
    mapping[canonical] = src;
  }
  for (const f of CANONICAL_FIELDS) if (mapping[f] === undefined && have.has(f)) mapping[f] = f;
  const missingRequired = REQUIRED_FIELDS.filter((f) => mapping[f] === undefined);
  if (missingRequired.length)
    throw new DataError(where(missingRequired.join(','), 'required field present'), 'required canonical field missing (map it with field_mapping or a preset)');
  return mapping;
}

/** Canonical types. Timestamps: native timestamps as they are; text/numbers per timestamp_format. */
async function createTypedView(session: Session, raw: ResolvedRawInput) {
  const types = new Map((await session.describe('raw_mapped')).map((c) => [c.name, c.type]));
  const typed = CANONICAL_FIELDS.map((f) => sql`${typedExpr(f, types.get(f)!, raw.timestamp_format)} AS ${ident(f)}`);
  // The first field whose non-NULL raw value did not parse; reported, never silently nulled.
  const failures = CANONICAL_FIELDS.filter((f) => CANONICAL_TYPES[f] !== 'VARCHAR').map(
    (f) => sql`WHEN ${ident(f)} IS NOT NULL AND ${typedExpr(f, types.get(f)!, raw.timestamp_format)} IS NULL THEN ${lit(f)}`,
  );
  await session.run(
    inline(sql`CREATE OR REPLACE TEMP VIEW raw_typed AS
      SELECT ${sql.join(typed)},
             CASE ${sql.join(failures, sql` `)} END AS _parse_error,
             ${sql.join(CANONICAL_FIELDS.filter((f) => CANONICAL_TYPES[f] !== 'VARCHAR').map((f) => sql`${ident(f)}::VARCHAR AS ${ident('_raw_' + f)}`))},
             filename AS _ndr_file
      FROM raw_mapped`),
  );
}

function typedExpr(field: CanonicalField, sourceType: string, tsFormat: string): SqlFragment {
  const col = ident(field);
  const target = CANONICAL_TYPES[field];
  if (target === 'VARCHAR') return field.endsWith('_ip') ? sql`trim(${col}::VARCHAR)` : sql`${col}::VARCHAR`;
  if (target !== 'TIMESTAMP') return sql`TRY_CAST(${col} AS ${sql.raw(target)})`;
  if (/^TIMESTAMP( WITH TIME ZONE|_S|_MS|_NS)?$/.test(sourceType) || sourceType === 'DATE') return sql`${col}::TIMESTAMP`;
  return sql`ndr_parse_ts(${col}::VARCHAR, ${lit(tsFormat)})`;
}
