/**
 * raw -> delta, delta_peers, pair_counts in one pass. The raw input is read
 * once per run into the `events` table; every requested dataset and every
 * batch of the range is produced set-based from it.
 */
import { DataError, InputNotReadyError } from '../errors/index.ts';
import { batchEnd, formatBatch, isoZ, type Batch } from '../engine/batches.ts';
import { checkContract, materialize, stageAndCommit, type TemplateRef } from '../engine/execute.ts';
import { createParamTable } from '../engine/params.ts';
import { loadTemplate, macroTemplates } from '../engine/templates.ts';
import type { Manifest, ManifestInput } from '../storage/manifest.ts';
import { batchPartition } from '../storage/layout.ts';
import { locateRaw, type Globber, type RawFile, type RawLocation } from '../raw/locate.ts';
import { resolveRawInput, type ResolvedRawInput } from '../raw/spec.ts';
import { isS3Uri } from '../storage/s3uri.ts';
import { S3Warehouse } from '../storage/s3.ts';
import { openS3Access } from '../storage/open.ts';
import { s3Globber } from '../storage/s3-raw.ts';
import { readingRaw, registerRawViews } from '../raw/views.ts';
import { deltaColumns, deltaPeersColumns, LOW_CARDINALITY_COLUMNS, pairCountsColumns, type Column } from '../transforms/columns.ts';
import type { JobName } from '../config/jobspec-schemas.ts';
import { jobspecHash, type RunContext } from './context.ts';
import type { PlanEntry } from './build.ts';
import { partitionState, planEntry } from './freshness.ts';
import { notePlanned } from './inputs.ts';

export const RAW_DATASETS = ['delta', 'delta_peers', 'pair_counts'] as const;
export type RawDataset = (typeof RAW_DATASETS)[number];

interface RawDatasetDef {
  template: string;
  columns: (ctx: RunContext) => Column[];
  jobs: JobName[];
  /** Templates between events and this dataset's own template. */
  via: string[];
}

const DEFS: Record<RawDataset, RawDatasetDef> = {
  delta: { template: 'delta', columns: (c) => deltaColumns(c.specs), jobs: ['project_parameters', 'delta_builder'], via: ['role_events'] },
  delta_peers: { template: 'delta_peers', columns: () => deltaPeersColumns(), jobs: ['project_parameters', 'delta_builder'], via: ['role_events'] },
  pair_counts: { template: 'pair_counts', columns: () => pairCountsColumns(), jobs: ['project_parameters', 'delta_builder', 'pair_counts_builder'], via: [] },
};

/** The DQ block of a batch that read no rows (dq_counts.sql has no row for it). */
const NO_ROWS_DQ = Object.fromEntries(
  ['rows_read', 'filter_null_bytes_ports', 'drop_malformed_ip', 'null_event_start', 'outside_batch', 'duration_non_negative', 'bytes_non_negative', 'rows_kept'].map((k) => [k, 0]),
);

/**
 * Templates every raw-stage partition depends on, recorded in its manifest (a change makes it
 * stale): the typed events and their DQ, the dq counters written into the manifest, the
 * placement span of glob input and the parse checks that decide what is accepted.
 */
const SHARED_TEMPLATES = [
  'events', 'ip_list_events', 'ip_dim', 'events_dq', 'events_kept', 'dq_counts', 'raw_span', 'raw_file_spans', 'raw_parse_errors', 'batch_labels',
];

export interface BuildOutcome {
  committed: Manifest[];
  skipped: string[];
  /** Batches whose raw input does not exist (gaps), never committed as empty. */
  missing: Batch[];
  planned?: PlanEntry[];
}

export async function templateRefs(ctx: RunContext, names: string[]): Promise<TemplateRef[]> {
  const macros = await macroTemplates(ctx.specs.version);
  const own = await Promise.all(names.map((n) => loadTemplate(ctx.specs.version, n)));
  return [...macros, ...own].map((t) => ({ name: t.name, sha256: t.sha256 }));
}

const rawInputs = (files: RawFile[]): ManifestInput[] =>
  files.map((f) => ({ dataset: 'raw', partition: f.display, fingerprint: f.fingerprint }));

/** Raw input on S3 is listed per needed prefix and staged into the local cache; local globs go to DuckDB. */
function globberFor(ctx: RunContext, uri: string): Globber | undefined {
  if (!isS3Uri(uri)) return undefined;
  const { s3, cache } = ctx.warehouse instanceof S3Warehouse ? { s3: ctx.warehouse.client, cache: ctx.warehouse.cache } : openS3Access(ctx.runtime);
  return s3Globber(s3, cache);
}

interface FileSpan {
  lo: number | null;
  hi: number | null;
  unplaced: number;
}
/** Per run: the batch span of each plain-glob file (by path and fingerprint), see raw_file_spans.sql. */
const fileSpans = new WeakMap<RunContext, Map<string, FileSpan>>();

/**
 * A plain glob maps every batch to every file; narrow it to the files whose events can fall
 * in the batch, indexing files this run has not seen yet in one scan. A look-back of 30 days
 * over a glob of 3 days then reads the files once, not 30 times, and a partition's inputs
 * are the files that fed it (a new file for another day does not make it stale).
 */
async function narrowGlob(ctx: RunContext, raw: ResolvedRawInput, located: RawLocation, batches: Batch[]): Promise<void> {
  const memo = fileSpans.get(ctx) ?? new Map<string, FileSpan>();
  fileSpans.set(ctx, memo);
  const key = (f: RawFile) => `${f.local}\0${f.fingerprint}`;
  const unseen = located.files.filter((f) => !memo.has(key(f)));
  if (unseen.length) {
    await registerRawViews(ctx.session, raw, unseen, ctx.runtime.strict);
    const template = await loadTemplate(ctx.specs.version, 'raw_file_spans');
    const spans = await readingRaw(ctx.session, raw, unseen, () => ctx.session.all<FileSpan & { file: string }>(template.text));
    const byFile = new Map(spans.map((s) => [s.file, s]));
    for (const f of unseen) memo.set(key(f), byFile.get(f.local) ?? { lo: null, hi: null, unplaced: 0 });
  }
  const feeds = (f: RawFile, b: Batch) => {
    const s = memo.get(key(f))!;
    return s.unplaced > 0 || (s.lo !== null && s.lo <= b.start && b.start <= s.hi!);
  };
  located.filesByBatch = new Map(batches.map((b) => [b.start, located.files.filter((f) => feeds(f, b))]));
}

export async function buildFromRaw(ctx: RunContext, datasets: RawDataset[], batches: Batch[], globber?: Globber): Promise<BuildOutcome> {
  const raw = resolveRawInput(ctx.specs, ctx.runtime);
  const located = await locateRaw(ctx.session, raw, batches, globber ?? globberFor(ctx, raw.uri));
  if (located.mode === 'glob') await narrowGlob(ctx, raw, located, batches);
  const ready = batches.filter((b) => (located.filesByBatch.get(b.start) ?? []).length > 0);
  if (!ready.length) {
    throw new InputNotReadyError(
      `input not ready: no raw files match ${raw.uri} for ${batches.length === 1 ? isoZ(batches[0].start) : `${isoZ(batches[0].start)}..${isoZ(batchEnd(batches.at(-1)!))}`}`,
    );
  }
  const version = ctx.specs.version;
  const expectedFor = async (ds: RawDataset) => ({
    templates: await templateRefs(ctx, [...SHARED_TEMPLATES, ...DEFS[ds].via, DEFS[ds].template, ...(raw.presetTemplate ? [raw.presetTemplate] : [])]),
    jobspecSha256: jobspecHash(ctx, DEFS[ds].jobs),
  });
  const expected = Object.fromEntries(await Promise.all(datasets.map(async (d) => [d, await expectedFor(d)] as const))) as Record<
    RawDataset,
    Awaited<ReturnType<typeof expectedFor>>
  >;

  // Skip batches whose every requested partition is up to date.
  const partitionsOf = (b: Batch) => datasets.map((d) => batchPartition(d, version, b));
  const existing = await ctx.warehouse.readManifests(ready.flatMap(partitionsOf));
  const expectedOf = (d: RawDataset, b: Batch) => ({ ...expected[d], inputs: rawInputs(located.filesByBatch.get(b.start)!) });
  const stateOf = (d: RawDataset, b: Batch) => partitionState(existing.get(batchPartition(d, version, b)), expectedOf(d, b));
  const todo = ctx.force ? ready : ready.filter((b) => datasets.some((d) => stateOf(d, b) !== 'up_to_date'));
  const skipped = ready.filter((b) => !todo.includes(b)).flatMap(partitionsOf);
  const missingBatches = batches.filter((b) => !ready.includes(b));
  if (ctx.dryRun) {
    const planned: PlanEntry[] = datasets.flatMap((d) => [
      ...ready.map((b) => planEntry(batchPartition(d, version, b), existing.get(batchPartition(d, version, b)), expectedOf(d, b), ctx.force)),
      ...missingBatches.map((b) => ({ partition: batchPartition(d, version, b), state: 'no_input' as const })),
    ]);
    notePlanned(ctx, planned);
    return { committed: [], skipped, missing: missingBatches, planned };
  }
  if (!todo.length) return { committed: [], skipped, missing: missingBatches };

  const t0 = Date.now();
  const files = [...new Map(todo.flatMap((b) => located.filesByBatch.get(b.start)!).map((f) => [f.local, f])).values()];
  const views = await registerRawViews(ctx.session, raw, files, ctx.runtime.strict);
  await createParamTable(ctx.session, {
    name: 'p_batches',
    columns: { batch_start: 'TIMESTAMP' },
    rows: todo.map((b) => [isoZ(b.start)]),
  });
  await readingRaw(ctx.session, raw, files, () => prepareEvents(ctx));
  const dq = await dqCounters(ctx);
  const readMs = Date.now() - t0;

  // A plain glob cannot say which batches it covers: those outside the data's span are gaps.
  let commitBatches = todo;
  if (located.mode === 'glob') {
    const span = await ctx.session.one<{ lo: number | null; hi: number | null }>((await loadTemplate(version, 'raw_span')).text);
    commitBatches = span.lo === null ? [] : todo.filter((b) => b.start >= span.lo! && b.start <= span.hi!);
    missingBatches.push(...todo.filter((b) => !commitBatches.includes(b)));
    if (!commitBatches.length) {
      if (skipped.length) return { committed: [], skipped, missing: missingBatches };
      throw new InputNotReadyError(`input not ready: ${raw.uri} has no events in the requested batches`);
    }
  }

  const committed: Manifest[] = [];
  for (const ds of datasets) {
    const t1 = Date.now();
    const def = DEFS[ds];
    const out = `out_${ds}`;
    await materialize(ctx.session, version, def.template, out);
    await checkContract(ctx.session, out, def.columns(ctx), `sql/${version}/${def.template}.sql`);
    const plans = commitBatches.map((b) => {
      const f = formatBatch(b);
      return {
        partition: batchPartition(ds, version, b),
        values: [f.dt, f.hh, f.mm],
        inputs: rawInputs(located.filesByBatch.get(b.start)!),
        dq: dq.get(b.start) ?? NO_ROWS_DQ,
        notes: { raw_uri: raw.uri, run_dq_unplaced: dq.get(-1) ?? {} },
      };
    });
    committed.push(
      ...(await stageAndCommit({
        session: ctx.session,
        warehouse: ctx.warehouse,
        runId: ctx.runId,
        dataset: ds,
        relation: out,
        columns: def.columns(ctx),
        partitionBy: ['dt', 'hh', 'mm'],
        lowCardinality: LOW_CARDINALITY_COLUMNS,
        plans,
        templates: [...expected[ds].templates, ...views.templates.filter((t) => !expected[ds].templates.some((e) => e.name === t.name))],
        jobspecSha256: expected[ds].jobspecSha256,
        featureSpecVersion: version,
        missingOptionalFields: views.missingOptionalFields,
        engine: ctx.engine,
        timingsMs: { read_and_dq: readMs, transform: Date.now() - t1 },
      })),
    );
    await ctx.session.run(`DROP TABLE IF EXISTS ${out}`);
    ctx.log.debug('dataset_committed', { dataset: ds, partitions: plans.length, seconds: (Date.now() - t1) / 1000 });
  }
  if (views.missingOptionalFields.length) ctx.log.warn('missing_optional_fields', { fields: views.missingOptionalFields.join(',') });
  await ctx.warehouse.cleanupStaging(ctx.runId);
  return { committed, skipped, missing: missingBatches };
}

/**
 * events_dq (typed rows, DQ rules 1, 3, 4) -> ip_dim -> rule 2 applied in place -> events and
 * role_events, and the batches' labels; unparseable values are errors.
 */
async function prepareEvents(ctx: RunContext) {
  const s = ctx.session;
  const v = ctx.specs.version;
  await materialize(s, v, 'events', 'events_dq');
  // The raw files are read again only when a value failed to parse, to quote it.
  const { failed } = await s.one<{ failed: boolean }>('SELECT count(_parse_error) > 0 AS failed FROM events_dq');
  const bad = failed ? await s.all<{ col: string; val: string; file: string }>((await loadTemplate(v, 'raw_parse_errors')).text) : [];
  if (bad.length) {
    const { col, val, file } = bad[0];
    const rule = col.startsWith('event_') ? `timestamp_format ${resolveRawInput(ctx.specs, ctx.runtime).timestamp_format}` : 'numeric';
    throw new DataError({ file, column: col, rule }, `value ${JSON.stringify(val)} cannot be parsed`);
  }
  await materialize(s, v, 'ip_list_events', 'ip_list', undefined, 'VIEW');
  await materialize(s, v, 'ip_dim', 'ip_dim');
  await s.run((await loadTemplate(v, 'events_dq')).text);
  await materialize(s, v, 'events_kept', 'events', undefined, 'VIEW');
  await materialize(s, v, 'role_events', 'role_events', undefined, 'VIEW');
  await materialize(s, v, 'batch_labels', 'batch_labels');
}

/** batch start (ms) -> counters; key -1 holds rows no batch of this run could take. */
async function dqCounters(ctx: RunContext): Promise<Map<number, Record<string, number>>> {
  const rows = await ctx.session.all<Record<string, unknown>>((await loadTemplate(ctx.specs.version, 'dq_counts')).text);
  return new Map(
    rows.map(({ batch_start_ms: b, ...counts }) => [b === null ? -1 : (b as number), Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, Number(v)]))]),
  );
}
