/**
 * fg_a + pair_counts over each horizon -> fg_b (FEATURES.md §6), for one
 * reference time. Baselines only look backwards: the inputs are selected by
 * the horizon range [T_ref - days - tail, T_ref - head), nothing later is read.
 */
import { readFile } from 'node:fs/promises';
import { DataError, ConfigError } from '../errors/index.ts';
import { BATCH_MS, DAY_MS, isoZ } from '../engine/batches.ts';
import { checkContract, createRelation, materialize, stageAndCommit } from '../engine/execute.ts';
import { createParamTable, setVariables } from '../engine/params.ts';
import { sha256 } from '../config/jobspec-source.ts';
import { ident, inline, lit, litList, sql } from '../engine/sql.ts';
import type { Session } from '../engine/session.ts';
import type { Manifest, ManifestInput } from '../storage/manifest.ts';
import { baselinePartition } from '../storage/layout.ts';
import { FG_B_TABLES, fgAColumns, fgBColumns, pairCountsColumns, type FgBTable } from '../transforms/columns.ts';
import { baselineMetrics } from '../transforms/jobspec-params.ts';
import type { PlanEntry, StepResult } from './build.ts';
import { templateRefs } from './build-raw.ts';
import { jobspecHash, type RunContext } from './context.ts';
import { planEntry } from './freshness.ts';
import { digestInput, inheritedMissingFields, loadBatchInput, registerInput, type LoadedInput } from './inputs.ts';

/**
 * Templates in execution order: observations (capping, group ids, the observations table), the
 * statistics of both levels (in chunks of metrics), then one per table.
 */
export const FG_B_STEPS: { template: string; as: string; table?: FgBTable; view?: true; chunked?: true }[] = [
  { template: 'fg_b_run', as: 'fgb_run' },
  { template: 'fg_b_capped', as: 'fgb_capped' },
  { template: 'fg_b_groups', as: 'fgb_groups' },
  { template: 'fg_b_obs', as: 'fgb_obs' },
  // Host and segment statistics, long, one execution per chunk of metrics appended to one table.
  { template: 'fg_b_stats', as: 'fgb_stats_long', chunked: true },
  // Each level's group keys (a view fgb_keys), through which fg_b_widen (the contract's shape,
  // shared by both levels) selects and names that level's statistics.
  { template: 'fg_b_host', as: 'fgb_keys', view: true },
  { template: 'fg_b_widen', as: 'fgb_host', table: 'host' },
  { template: 'fg_b_segment', as: 'fgb_keys', view: true },
  { template: 'fg_b_widen', as: 'fgb_segment', table: 'segment' },
  { template: 'fg_b_ip_metadata', as: 'fgb_ip_metadata', table: 'ip_metadata' },
  // Pair rarity at both levels in one scan of pair_counts; the two tables select their level.
  { template: 'fg_b_pairs', as: 'fgb_pairs' },
  { template: 'fg_b_pair_host', as: 'fgb_pair_host', table: 'pair_host' },
  { template: 'fg_b_pair_segment', as: 'fgb_pair_segment', table: 'pair_segment' },
];

/**
 * Memory plan. Exact quantiles and MADs hold every value of a group.
 *   - fg_b_capped computes its medians and MADs as window aggregates: DuckDB's window operator
 *     partitions the observations itself and spills them past memory_limit.
 *   - fg_b_obs is a temp table, which DuckDB also spills past memory_limit.
 *   - fg_b_stats is a hash aggregation, whose quantile and MAD states live outside DuckDB's
 *     memory accounting: two copies of every value per level, in vectors that grow by doubling
 *     (measured: ~100 bytes per observation and metric for both levels). They get STATES_SHARE
 *     of memory_limit and DuckDB the rest while fg_b_stats runs, and a horizon with more
 *     (observation, metric) values than fit runs it once per chunk of metrics (variable
 *     fgb_metrics). A chunk scans the observations table (only its columns), so more chunks
 *     cost little: two metrics per chunk at 2,000 hosts x 9 days and memory_limit=2GB.
 */
const STATES_SHARE = 0.6;
const STATE_BYTES_PER_VALUE = 100;

/**
 * The FG-A rows of the horizons being built are loaded once into a temp table (only the
 * columns FG-B reads) when they fit this budget, so that several horizons (7d and 30d share
 * days) read the small 15-minute files once.
 */
const LOAD_BYTES_PER_VALUE = 64;

/** Columns of fg_a that FG-B reads besides the metrics. */
const FG_B_KEY_COLUMNS = ['host_ip', 'role', 'window_label', 'window_end_ts', 'segment_id', 'time_band'];

/** `items` split into at most `n` consecutive chunks of nearly equal size (never an empty chunk). */
function chunks<T>(items: T[], n: number): T[][] {
  const size = Math.ceil(items.length / Math.max(1, Math.min(n, items.length)));
  return Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));
}

/** `SET VARIABLE name = [list]`, or RESET for an empty list (the templates then read every metric column). */
async function setListVariable(session: Session, name: string, values: string[]) {
  await session.run(
    values.length ? inline(sql`SET VARIABLE ${ident(name)} = ${litList(values)}`) : inline(sql`RESET VARIABLE ${ident(name)}`),
  );
}

/**
 * fg_b_stats once per chunk of metrics, appended to one table. DuckDB gets what the aggregate
 * states leave of memory_limit meanwhile (see STATES_SHARE); if it cannot free that much right
 * now, it keeps the whole limit.
 */
async function materializeStatsChunks(ctx: RunContext, template: string, as: string, metricChunks: string[][], duckdbBytes: number) {
  await ctx.session.run(`SET memory_limit = '${Math.floor(duckdbBytes)}B'`).catch(() => undefined);
  try {
    for (const [i, chunk] of metricChunks.entries()) {
      await setListVariable(ctx.session, 'fgb_metrics', chunk);
      await materialize(ctx.session, ctx.specs.version, template, as, undefined, i === 0 ? 'TABLE' : 'APPEND');
    }
  } finally {
    await ctx.session.run(inline(sql`SET memory_limit = ${lit(ctx.runtime.memoryLimit)}`));
  }
}

export interface HorizonRange {
  horizon: string;
  startMs: number;
  endMs: number;
}

export function horizonRanges(ctx: RunContext, referenceMs: number): HorizonRange[] {
  return Object.entries(ctx.specs.fg_b_builder.horizons).map(([horizon, h]) => ({
    horizon,
    startMs: referenceMs - (h.days + h.tail) * DAY_MS,
    endMs: referenceMs - h.head * DAY_MS,
  }));
}

export const referenceDate = (ms: number) => isoZ(ms).slice(0, 10);

/** The publication record: written after every table of a horizon is committed. */
export interface Publication {
  feature_spec_version: string;
  baseline_horizon: string;
  reference_date: string;
  reference_ts: string;
  baseline_start_ts: string;
  baseline_end_ts: string;
  row_counts: Record<string, number>;
  input_coverage: { fg_a_batches_found: number; fg_a_batches_expected: number; missing_examples: string[] };
  run_id: string;
  inputs: ManifestInput[];
  created_at: string;
}

export const publicationPath = (version: string, horizon: string, refDate: string) =>
  `fg_b/_publication/feature_spec_version=${version}/baseline_horizon=${horizon}/reference_date=${refDate}.json`;

/**
 * The optional inventory file as the table p_inventory (ip, machine_name, as read), or an
 * empty one. Read once per run, so the fingerprint matches what the baselines used.
 */
async function loadInventory(ctx: RunContext): Promise<{ input?: ManifestInput }> {
  const file = ctx.specs.fg_b_builder.inventory_file;
  const table = 'p_inventory';
  if (!file) {
    await createParamTable(ctx.session, { name: table, columns: { ip: 'VARCHAR', machine_name: 'VARCHAR' }, rows: [] });
    return {};
  }
  const key = `${ctx.specs.project}/fg_b_builder#${ctx.specs.version}.inventory_file`;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new DataError({ file, rule: 'inventory readable', jobspecKey: key }, (e as NodeJS.ErrnoException).code ?? String(e));
  }
  const format = /\.parquet$/i.test(file) ? 'parquet' : /\.(json|ndjson|jsonl)(\.gz)?$/i.test(file) ? 'json' : 'csv';
  const reader = {
    parquet: sql`read_parquet(${lit(file)})`,
    json: sql`read_json(${lit(file)}, format = 'auto')`,
    csv: sql`read_csv(${lit(file)}, header = true, all_varchar = true)`,
  }[format];
  let cols: string[];
  try {
    await createRelation(ctx.session, table, reader, 'TABLE');
    cols = (await ctx.session.describe(table)).map((c) => c.name);
  } catch (e) {
    // DuckDB's reader errors can span many lines (a CSV sniffer dump): keep the first.
    throw new DataError({ file, rule: `inventory readable as ${format} (by its extension)`, jobspecKey: key }, String((e as Error).message).split('\n')[0]);
  }
  for (const need of ['ip', 'machine_name'])
    if (!cols.includes(need)) throw new DataError({ file, column: need, rule: 'inventory has columns ip, machine_name', jobspecKey: key }, `found ${cols.join(', ')}`);
  return { input: { dataset: 'inventory', partition: file, fingerprint: sha256(text) } };
}

export async function buildFgB(ctx: RunContext, referenceMs: number): Promise<StepResult> {
  const t0 = Date.now();
  const v = ctx.specs.version;
  const refDate = referenceDate(referenceMs);
  const metrics = baselineMetrics(ctx.specs);
  const fgAMetrics = new Set(fgAColumns(ctx.specs).map((c) => c.name));
  for (const m of [...ctx.specs.fg_b_builder.anomaly_capping.key_metrics, ...ctx.specs.fg_b_builder.baseline_required_metrics])
    if (!fgAMetrics.has(m)) throw new ConfigError(`JobSpec ${ctx.specs.project}/fg_b_builder#${v}: FG-A has no metric ${m}`);
  const templates = await templateRefs(ctx, [...new Set(FG_B_STEPS.map((s) => s.template))]);
  const jobspecSha256 = jobspecHash(ctx, ['project_parameters', 'delta_builder', 'fg_a_builder', 'fg_b_builder']);
  const inventory = await loadInventory(ctx);
  const committed: Manifest[] = [];
  const skipped: string[] = [];
  const planned: PlanEntry[] = [];

  const keyMetrics = [...new Set(ctx.specs.fg_b_builder.anomaly_capping.key_metrics)];
  const needed = [...new Set([...metrics, ...keyMetrics])];
  const todo: { range: HorizonRange; fgA: LoadedInput; pairs: LoadedInput; inputs: ManifestInput[] }[] = [];
  for (const range of horizonRanges(ctx, referenceMs)) {
    // FG-A rows with window_end_ts in the range come from batches starting 15 minutes earlier.
    const fgA = await loadBatchInput(ctx, 'fg_a', range.startMs - BATCH_MS, range.endMs - BATCH_MS);
    const pairs = await loadBatchInput(ctx, 'pair_counts', range.startMs, range.endMs);
    const inputs = [
      digestInput('fg_a', `${isoZ(range.startMs)}..${isoZ(range.endMs)}`, fgA.manifests),
      digestInput('pair_counts', `${isoZ(range.startMs)}..${isoZ(range.endMs)}`, pairs.manifests),
      ...(inventory.input ? [inventory.input] : []),
    ];
    const parts = FG_B_TABLES.map((t) => baselinePartition(t, v, range.horizon, refDate));
    const existing = await ctx.warehouse.readManifests(parts);
    const publication = await ctx.warehouse.readJson<Publication>(publicationPath(v, range.horizon, refDate));
    // Without its publication record a horizon's tables are not published, whatever they hold.
    const entries = parts.map((p): PlanEntry => (publication ? planEntry(p, existing.get(p), { templates, jobspecSha256, inputs }, ctx.force) : { partition: p, state: 'missing' }));
    planned.push(...entries);
    if (entries.every((e) => e.state === 'up_to_date')) {
      skipped.push(...parts);
      continue;
    }
    if (ctx.dryRun)
      ctx.plannedBaselines.push({ horizon: range.horizon, reference_date: refDate, reference_ts: isoZ(referenceMs), baseline_start_ts: isoZ(range.startMs), baseline_end_ts: isoZ(range.endMs) });
    else todo.push({ range, fgA, pairs, inputs });
  }
  if (!todo.length) return { dataset: 'fg_b', committed, skipped, missing: [], seconds: (Date.now() - t0) / 1000, planned };

  // FG-A of every horizon to build, each file once (horizons overlap: 7d and 30d share days).
  const manifests = [...new Map(todo.flatMap((h) => h.fgA.manifests).map((m) => [m.partition, m])).values()];
  await registerInput(ctx, 'fgb_fg_a', manifests, fgAColumns(ctx.specs));
  const memBytes = await ctx.session.memoryLimitBytes();
  const loaded = manifests.reduce((n, m) => n + m.row_count, 0) * needed.length * LOAD_BYTES_PER_VALUE <= memBytes;
  if (loaded) {
    const first = Math.min(...todo.map((h) => h.range.startMs));
    const last = Math.max(...todo.map((h) => h.range.endMs));
    await ctx.session.run(
      inline(sql`CREATE OR REPLACE TEMP TABLE fgb_fg_a_rows AS
                 SELECT ${sql.join([...FG_B_KEY_COLUMNS, ...needed].map(ident))} FROM fgb_fg_a
                 WHERE window_end_ts >= ${lit(isoZ(first))}::TIMESTAMP AND window_end_ts < ${lit(isoZ(last))}::TIMESTAMP`),
    );
  }
  // FG-B's own eps and z_max (FEATURES.md §0, §6.1); FG-C installs its own before it runs.
  await setVariables(ctx.session, { eps: ctx.specs.fg_b_builder.eps, z_max: ctx.specs.fg_b_builder.anomaly_capping.z_max });
  // The templates read only these metric columns (and compute statistics only for these).
  await setListVariable(ctx.session, 'fgb_key_metrics', keyMetrics);
  try {
    for (const { range, fgA, pairs, inputs } of todo) {
      const expected = (range.endMs - range.startMs) / BATCH_MS;
      if (fgA.missing.length)
        ctx.log.warn('fg_b_input_gaps', {
          horizon: range.horizon,
          reference_date: refDate,
          msg: `${fgA.missing.length} of ${expected} FG-A batches in ${isoZ(range.startMs)}..${isoZ(range.endMs)} are not committed; they are gaps, not quiet time`,
        });
      // fg_a_in: this horizon's FG-A rows (the templates filter on the range themselves too).
      const rangeFilter = sql`window_end_ts >= ${lit(isoZ(range.startMs))}::TIMESTAMP AND window_end_ts < ${lit(isoZ(range.endMs))}::TIMESTAMP`;
      const source = ident(loaded ? 'fgb_fg_a_rows' : 'fgb_fg_a');
      await ctx.session.run(inline(sql`CREATE OR REPLACE TEMP VIEW fg_a_in AS SELECT * FROM ${source} WHERE ${rangeFilter}`));
      await registerInput(ctx, 'pair_counts_in', pairs.manifests, pairCountsColumns());
      const params = { horizon: range.horizon, range_start: isoZ(range.startMs), range_end: isoZ(range.endMs), reference_date: refDate };
      const rows = fgA.manifests.reduce((n, m) => n + m.row_count, 0);
      const statsChunks = chunks(metrics, Math.ceil((rows * metrics.length * STATE_BYTES_PER_VALUE) / (memBytes * STATES_SHARE)));
      const statesBytes = Math.min(memBytes * STATES_SHARE, rows * statsChunks[0].length * STATE_BYTES_PER_VALUE);
      ctx.log.debug('fg_b_plan', { horizon: range.horizon, fg_a_rows: rows, loaded, stats_metric_chunks: statsChunks.length });
      const rowCounts: Record<string, number> = {};
      const timings: Record<string, number> = {};
      for (const step of FG_B_STEPS) {
        const t = Date.now();
        // The observations keep every baseline metric; each statistics chunk reads its own.
        if (step.as === 'fgb_obs') await setListVariable(ctx.session, 'fgb_metrics', metrics);
        if (step.chunked) {
          await materializeStatsChunks(ctx, step.template, step.as, statsChunks, memBytes - statesBytes);
          // The observations (the largest table of the run) are no longer needed.
          await ctx.session.run('DROP TABLE fgb_obs');
        } else if (step.view) await materialize(ctx.session, v, step.template, step.as, undefined, 'VIEW');
        else await materialize(ctx.session, v, step.template, step.as, params);
        // Keyed by dataset (fg_b_host covers its keys view and fg_b_widen, which reads it).
        const key = step.table ? `fg_b_${step.table}` : step.template;
        timings[key] = (timings[key] ?? 0) + Date.now() - t;
        if (step.table) await checkContract(ctx.session, step.as, fgBColumns(step.table, metrics), `sql/${v}/${step.template}.sql`);
      }
      for (const { table, as } of FG_B_STEPS.filter((s): s is { template: string; as: string; table: FgBTable } => Boolean(s.table))) {
        const [m] = await stageAndCommit({
          session: ctx.session,
          warehouse: ctx.warehouse,
          runId: ctx.runId,
          dataset: `fg_b/${table}`,
          relation: as,
          columns: fgBColumns(table, metrics),
          missingOptionalFields: inheritedMissingFields(fgA.manifests),
          partitionBy: ['baseline_horizon', 'reference_date'],
          plans: [{ partition: baselinePartition(table, v, range.horizon, refDate), values: [range.horizon, refDate], inputs }],
          templates,
          jobspecSha256,
          featureSpecVersion: v,
          engine: ctx.engine,
          timingsMs: timings,
        });
        rowCounts[table] = m.row_count;
        committed.push(m);
      }
      await ctx.warehouse.writeJson(publicationPath(v, range.horizon, refDate), {
        feature_spec_version: v,
        baseline_horizon: range.horizon,
        reference_date: refDate,
        reference_ts: isoZ(referenceMs),
        baseline_start_ts: isoZ(range.startMs),
        baseline_end_ts: isoZ(range.endMs),
        row_counts: rowCounts,
        input_coverage: { fg_a_batches_found: fgA.manifests.length, fg_a_batches_expected: expected, missing_examples: fgA.missing.slice(0, 5) },
        run_id: ctx.runId,
        inputs,
        created_at: new Date().toISOString(),
      } satisfies Publication);
    }
  } finally {
    // The next FG-B or FG-C run of this session must not inherit FG-B's column selection or rows.
    await ctx.session.run(
      'RESET VARIABLE fgb_key_metrics; RESET VARIABLE fgb_metrics; DROP TABLE IF EXISTS fgb_fg_a_rows; DROP TABLE IF EXISTS fgb_obs; DROP TABLE IF EXISTS fgb_stats_long',
    );
  }
  return { dataset: 'fg_b', committed, skipped, missing: [], seconds: (Date.now() - t0) / 1000, planned };
}

/** Reference dates with a publication for a horizon, ascending. */
export async function publishedReferences(ctx: RunContext, horizon: string): Promise<string[]> {
  const prefix = `fg_b/_publication/feature_spec_version=${ctx.specs.version}/baseline_horizon=${horizon}`;
  const docs = await ctx.warehouse.listJson(prefix);
  return docs
    .map((p) => /reference_date=(\d{4}-\d{2}-\d{2})\.json$/.exec(p)?.[1])
    .filter((d): d is string => Boolean(d))
    .sort();
}
