/**
 * Nightly and streaming orchestration (ARCHITECTURE.md, Pipeline operation).
 *
 * `run streaming --batch ISO`: one batch through the streaming DAG:
 *   raw -> delta, delta_peers, pair_counts -> fg_a -> fg_c.
 * `run nightly --date D`: the whole day, set-based (one builder pass per
 * dataset for the 96 batches):
 *   raw stage -> fg_a -> fg_b (the JobSpec's scheduled reference of D) -> fg_c.
 * Every step runs through the Tracker (tracked.ts): locks, ledger, retries.
 * A batch without raw input is a gap: recorded as missing_input, listed,
 * exit 3; it is never committed as an empty success.
 */
import { InputNotReadyError, UsageError, oneLine } from '../errors/index.ts';
import { BATCH_MS, DAY_MS, alignedBatch, batchEnd, batchesInRange, batchesOfDay, isoZ, parseInstant, selectBatches, type Batch } from '../engine/batches.ts';
import { createDynamoClient } from '../aws/clients.ts';
import type { RuntimeConfig } from '../config/runtime.ts';
import { RunSummary, type Logger, type Progress } from '../log/index.ts';
import { baselinePartition, batchPartition, partitionValues } from '../storage/layout.ts';
import { isS3Uri } from '../storage/s3uri.ts';
import { FG_B_TABLES } from '../transforms/columns.ts';
import { buildRawStage, type Buildable, type StepResult } from './build.ts';
import { fgCChunks } from './builders.ts';
import './builders.ts';
import { RAW_DATASETS, type RawDataset } from './build-raw.ts';
import { buildFgA, incompleteLookbackDays } from './build-fg-a.ts';
import { buildFgB, horizonRanges, referenceDate } from './build-fg-b.ts';
import { buildFgC, scheduledReference } from './build-fg-c.ts';
import { withDryRun, type RunContext } from './context.ts';
import { normalizeDataset } from './dag.ts';
import { DynamoLedger } from './ledger-dynamo.ts';
import { LocalLedger } from './ledger-local.ts';
import type { Ledger } from './ledger.ts';
import { DEFAULT_LOCK_TABLE, DynamoLockManager } from './lock-dynamo.ts';
import { FileLockManager } from './lock-file.ts';
import type { LockManager, LockSpec } from './lock.ts';
import { Tracker, datasetOfPartition, type StepDef, type StepOutcome, type TrackerOptions } from './tracked.ts';

/** Steps after the raw stage that `--skip` may leave out (skipping one skips what depends on it). */
export const SKIPPABLE = ['fg_a', 'fg_b', 'fg_c'] as const;
export type Skippable = (typeof SKIPPABLE)[number];

export interface PipelineOptions {
  allowMissingBaseline?: boolean;
  /** Steps to leave out (`fg-b` or `fg_b` spelling); dependants are added (see parseSkip). */
  skip?: readonly string[];
}

const dayLabel = (dayMs: number) => isoZ(dayMs).slice(0, 10);
const floorDay = (ms: number) => Math.floor(ms / DAY_MS) * DAY_MS;

/** `--skip fg-b,fg_c` -> normalized, validated, with dependants added (fg_a -> fg_b, fg_c). */
export function parseSkip(values: readonly string[] | string | undefined): Skippable[] {
  const list = (Array.isArray(values) ? values : values === undefined ? [] : [values]).flatMap((v) => String(v).split(',')).map((v) => v.trim()).filter(Boolean);
  const out = new Set<Skippable>();
  for (const v of list) {
    const name = normalizeDataset(v);
    if (!(SKIPPABLE as readonly string[]).includes(name)) throw new UsageError(`--skip ${v}: expected one of ${SKIPPABLE.join(', ')} (fg-a spelling accepted)`);
    out.add(name as Skippable);
  }
  if (out.has('fg_a')) ['fg_b', 'fg_c'].forEach((d) => out.add(d as Skippable));
  return SKIPPABLE.filter((s) => out.has(s));
}

// ---- step definitions ------------------------------------------------------

function rawStep(ctx: RunContext, batches: Batch[]): StepDef {
  const v = ctx.specs.version;
  const day = `dt=${dayLabel(batches[0].start)}`;
  return {
    name: RAW_DATASETS.join('+'),
    range: batches.length === 1 ? isoZ(batches[0].start) : day,
    locks: RAW_DATASETS.map((dataset) => ({ dataset, range: day })),
    expected: () => RAW_DATASETS.flatMap((d) => batches.map((b) => batchPartition(d, v, b))),
    fromMs: batches[0].start,
    toMs: batchEnd(batches.at(-1)!),
    run: async () => [await buildRawStage(ctx, batches)],
    rawBatches: batches,
  };
}

function fgAStep(ctx: RunContext, batches: Batch[]): StepDef {
  const v = ctx.specs.version;
  const day = `dt=${dayLabel(batches[0].start)}`;
  return {
    name: 'fg_a',
    range: batches.length === 1 ? isoZ(batches[0].start) : day,
    // The look-back compactions of earlier days are shared by every day's FG-A: one lock for them.
    locks: [
      { dataset: 'fg_a', range: day },
      { dataset: 'delta_peers_daily', range: 'all' },
    ],
    expected: () => batches.map((b) => batchPartition('fg_a', v, b)),
    fromMs: batches[0].start,
    toMs: batchEnd(batches.at(-1)!),
    run: () => buildFgA(ctx, batches),
  };
}

function fgBStep(ctx: RunContext, referenceMs: number): StepDef {
  const v = ctx.specs.version;
  const ref = referenceDate(referenceMs);
  const horizons = Object.keys(ctx.specs.fg_b_builder.horizons);
  return {
    name: 'fg_b',
    range: `reference_date=${ref}`,
    locks: [{ dataset: 'fg_b', range: `reference_date=${ref}` }],
    expected: () => FG_B_TABLES.flatMap((t) => horizons.map((h) => baselinePartition(t, v, h, ref))),
    fromMs: referenceMs,
    toMs: referenceMs + DAY_MS,
    run: async () => [await buildFgB(ctx, referenceMs)],
  };
}

function fgCStep(ctx: RunContext, batches: Batch[], allowMissingBaseline: boolean): StepDef {
  const v = ctx.specs.version;
  const day = `dt=${dayLabel(batches[0].start)}`;
  const horizons = Object.keys(ctx.specs.fg_b_builder.horizons);
  return {
    name: 'fg_c',
    range: batches.length === 1 ? isoZ(batches[0].start) : day,
    locks: [{ dataset: 'fg_c', range: day }],
    expected: () => batches.flatMap((b) => horizons.map((h) => batchPartition('fg_c', v, b, h))),
    fromMs: batches[0].start,
    toMs: batchEnd(batches.at(-1)!),
    // Passes sized by FG-A rows keep the wide FG-C under memory_limit.
    run: async () => {
      const out: StepResult[] = [];
      for (const chunk of await fgCChunks(ctx, batches)) out.push(await buildFgC(ctx, chunk, allowMissingBaseline));
      return out;
    },
  };
}

/** One streaming batch (or any batches of one day): raw -> fg_a -> fg_c. */
export function streamingSteps(ctx: RunContext, batches: Batch[], opts: PipelineOptions = {}): StepDef[] {
  const skip = new Set(parseSkip(opts.skip));
  const steps = [rawStep(ctx, batches)];
  if (!skip.has('fg_a')) steps.push(fgAStep(ctx, batches));
  if (!skip.has('fg_c')) steps.push(fgCStep(ctx, batches, Boolean(opts.allowMissingBaseline)));
  return steps;
}

/** A whole day: raw -> fg_a -> fg_b (scheduled reference of the day) -> fg_c. */
export function nightlySteps(ctx: RunContext, dayMs: number, opts: PipelineOptions = {}): StepDef[] {
  const skip = new Set(parseSkip(opts.skip));
  const batches = batchesOfDay(dayMs);
  const steps = [rawStep(ctx, batches)];
  if (!skip.has('fg_a')) steps.push(fgAStep(ctx, batches));
  if (!skip.has('fg_b')) steps.push(fgBStep(ctx, scheduledReference(ctx, dayMs)));
  if (!skip.has('fg_c')) steps.push(fgCStep(ctx, batches, Boolean(opts.allowMissingBaseline)));
  return steps;
}

// ---- running ---------------------------------------------------------------

export interface RunReport {
  kind: 'nightly' | 'streaming';
  /** Days (nightly) or the batch (streaming) covered. */
  label: string;
  outcomes: StepOutcome[];
  /** Batches whose raw input does not exist (and that were never built). */
  gaps: Batch[];
  /** Steps not run: skipped by option, or not reached after a failure. */
  notRun: string[];
  /** The error that stopped the run (failure, lock busy or lost). */
  error?: unknown;
  summary: RunSummary;
  seconds: number;
}

/** 0 everything committed or up to date; 3 input not ready (gaps, missing baseline); 1 failure. Lock errors: see exitCodeOf. */
export function reportExitCode(r: RunReport): number {
  if (r.outcomes.some((o) => o.status === 'failed')) return 1;
  if (r.gaps.length || r.outcomes.some((o) => o.missingInput.length)) return 3;
  return 0;
}

async function runSteps(tracker: Tracker, groups: { lockRange: string; steps: StepDef[] }[], runLock: string, report: RunReport, log: Logger) {
  for (const [gi, g] of groups.entries()) {
    let locks;
    try {
      locks = await tracker.lock([{ dataset: runLock, range: g.lockRange }]);
    } catch (e) {
      // Another run of the same day/batch (LockBusyError, exit 3): nothing of ours was written.
      report.error = e;
      report.notRun.push(...groups.slice(gi).flatMap((x) => x.steps).map((s) => `${s.name} ${s.range}`));
      log.error('run_stopped', { partition: `${runLock} ${g.lockRange}`, error: e });
      return;
    }
    try {
      for (let i = 0; i < g.steps.length; i++) {
        const step = g.steps[i];
        try {
          const o = await tracker.step(step);
          report.outcomes.push(o);
          report.gaps.push(...o.missingBatches);
        } catch (e) {
          report.error = e;
          report.notRun.push(...[...g.steps.slice(i + 1), ...groups.slice(gi + 1).flatMap((x) => x.steps)].map((s) => `${s.name} ${s.range}`));
          const failed = tracker.lastOutcome;
          if (failed) report.outcomes.push(failed);
          log.error('run_stopped', { dataset: step.name, partition: step.range, error: e });
          return;
        }
      }
    } finally {
      await tracker.release(locks);
    }
  }
}

export interface RunOptions extends PipelineOptions {
  progress?: Progress;
}

function newReport(kind: RunReport['kind'], label: string, summary: RunSummary): RunReport {
  return { kind, label, outcomes: [], gaps: [], notRun: [], summary, seconds: 0 };
}

/** `run nightly`: each day in order, each day set-based. The tracker's run lock is `nightly` per day. */
export async function runNightly(ctx: RunContext, tracker: Tracker, days: number[], opts: RunOptions = {}): Promise<RunReport> {
  const t0 = Date.now();
  const report = newReport('nightly', days.map(dayLabel).join(','), tracker.summary);
  const skip = parseSkip(opts.skip);
  report.notRun.push(...skip.map((s) => `${s} (--skip)`));
  for (const day of days) {
    const ref = scheduledReference(ctx, day);
    if (!skip.includes('fg_b'))
      ctx.log.info('fg_b_schedule', {
        partition: `reference_date=${referenceDate(ref)}`,
        msg: `baseline_schedule ${ctx.specs.project_parameters.baseline_schedule}: FG-B reference ${referenceDate(ref)} for ${dayLabel(day)}${ref === day ? ' (due today)' : ' (rebuilt only if missing or stale)'}`,
      });
  }
  await runSteps(
    tracker,
    days.map((d) => ({ lockRange: `dt=${dayLabel(d)}`, steps: nightlySteps(ctx, d, opts) })),
    'nightly',
    report,
    ctx.log,
  );
  report.seconds = (Date.now() - t0) / 1000;
  return report;
}

/** `run streaming`: one batch through raw -> fg_a -> fg_c. */
export async function runStreaming(ctx: RunContext, tracker: Tracker, batch: Batch, opts: RunOptions = {}): Promise<RunReport> {
  const t0 = Date.now();
  const report = newReport('streaming', isoZ(batch.start), tracker.summary);
  report.notRun.push(...parseSkip(opts.skip).filter((s) => s !== 'fg_b').map((s) => `${s} (--skip)`));
  await runSteps(tracker, [{ lockRange: `batch=${isoZ(batch.start)}`, steps: streamingSteps(ctx, [batch], opts) }], 'streaming', report, ctx.log);
  report.seconds = (Date.now() - t0) / 1000;
  return report;
}

/** Days of `--date D` or `--from D1 --to D2` (inclusive days). */
export function nightlyDays(sel: { date?: string; from?: string; to?: string }, now = Date.now()): number[] {
  if (!sel.date && !sel.from && !sel.to) throw new UsageError('run nightly needs --date D (YYYY-MM-DD or yesterday) or --from D1 --to D2');
  const batches = selectBatches({ date: sel.date, from: sel.from, to: sel.to }, now);
  return [...new Set(batches.map((b) => floorDay(b.start)))];
}

export function streamingBatch(sel: { batch?: string; batchStart?: string }): Batch {
  const text = sel.batch ?? sel.batchStart;
  if (!text) throw new UsageError('run streaming needs --batch ISO (the batch start, e.g. 2026-11-24T12:15:00Z)');
  return alignedBatch(parseInstant(text), '--batch');
}

// ---- plan ------------------------------------------------------------------

/**
 * `ndr-sql plan run nightly --date D` / `plan run streaming --batch ISO`: the
 * same steps in dry-run mode (ctx.dryRun), each as it looks now. Steps after
 * the raw stage see today's upstream state (not yet-to-be-built partitions).
 */
export async function planNightly(
  ctx: RunContext,
  args: { target?: string; date?: string; batch?: string; from?: string; to?: string; allowMissingBaseline?: boolean; skip?: readonly string[] | string },
): Promise<StepResult[]> {
  const opts: PipelineOptions = { allowMissingBaseline: args.allowMissingBaseline, skip: parseSkip(args.skip) };
  const target = args.target ?? 'nightly';
  let steps: StepDef[];
  if (target === 'streaming') steps = streamingSteps(ctx, [streamingBatch(args)], opts);
  else if (target === 'nightly') steps = nightlyDays(args).flatMap((d) => nightlySteps(ctx, d, opts));
  else throw new UsageError(`plan run ${target}: expected nightly or streaming`);
  const out: StepResult[] = [];
  await withDryRun(ctx, async () => {
    for (const s of steps) {
      const t0 = Date.now();
      try {
        const results = await s.run();
        // A builder that found none of its input says so only through `missing` (e.g. fg_c without fg_a).
        for (const r of results)
          if (!r.planned && r.missing.length && !r.committed.length && !r.skipped.length) r.planned = s.expected().map((partition) => ({ partition, state: 'no_input' as const }));
        out.push(...results);
      } catch (e) {
        if (!(e instanceof InputNotReadyError)) ctx.log.warn('plan_step_failed', { dataset: s.name, partition: s.range, error: e });
        else ctx.log.info('plan_input_not_ready', { dataset: s.name, partition: s.range, msg: oneLine(e) });
        out.push({
          dataset: s.name,
          committed: [],
          skipped: [],
          missing: [],
          seconds: (Date.now() - t0) / 1000,
          planned: e instanceof InputNotReadyError ? s.expected().map((partition) => ({ partition, state: 'no_input' as const })) : [],
        });
      }
    }
  });
  return out;
}

// ---- build locks -----------------------------------------------------------

/** What one `ndr-sql build` command writes. */
export interface BuildTarget {
  /** The dataset built (`delta` for a raw-stage list). */
  dataset: Buildable;
  /** Raw stage: the raw datasets built in one pass (`delta,delta_peers,pair_counts`). */
  rawDatasets?: readonly RawDataset[];
  batches: Batch[];
  /** fg_b: the reference instant. */
  referenceMs?: number;
  upstream: boolean;
}

function groupByDay(batches: Batch[]): Batch[][] {
  const days = new Map<number, Batch[]>();
  for (const b of batches) days.set(floorDay(b.start), [...(days.get(floorDay(b.start)) ?? []), b]);
  return [...days.values()];
}

/**
 * The locks `build` takes: the keys of `run`'s steps (rawStep, fgAStep, ...)
 * for every partition the build may write, upstream included, so a build and
 * a run (or two builds) never write the same partitions at once. The upstream
 * part follows builders.ts (fgAWithUpstream, fgBWithUpstream); `lockOfPartition`
 * lets the caller check that what was committed was covered.
 */
export async function buildLocks(ctx: RunContext, t: BuildTarget): Promise<LockSpec[]> {
  const out: LockSpec[] = [];
  const maxW = Math.max(...Object.values(ctx.specs.fg_a_builder.windows)) * 60_000;
  const fgA = async (batches: Batch[], upstream: boolean) => {
    for (const day of groupByDay(batches)) {
      if (upstream) {
        // The look-back history FG-A's novelty reads (the days not complete yet, which
        // --upstream builds: see lookbackHistory in builders.ts) and the previous day's deltas
        // the first anchors' long windows read.
        for (const d of await incompleteLookbackDays(ctx, floorDay(day[0].start))) out.push(...rawStep(ctx, batchesInRange(d, d + DAY_MS)).locks);
        for (const lead of groupByDay(batchesInRange(day[0].start + BATCH_MS - maxW, day[0].start))) out.push(...rawStep(ctx, lead).locks);
        out.push(...rawStep(ctx, day).locks);
      }
      out.push(...fgAStep(ctx, day).locks);
    }
  };
  const fgB = async (referenceMs: number, upstream: boolean) => {
    if (upstream) {
      const ranges = horizonRanges(ctx, referenceMs);
      await fgA(batchesInRange(Math.min(...ranges.map((r) => r.startMs)) - BATCH_MS, Math.max(...ranges.map((r) => r.endMs)) - BATCH_MS), true);
    }
    out.push(...fgBStep(ctx, referenceMs).locks);
  };
  switch (t.dataset) {
    case 'delta':
    case 'delta_peers':
    case 'pair_counts': {
      const written = new Set<string>(t.rawDatasets ?? [t.dataset]);
      for (const day of groupByDay(t.batches)) out.push(...rawStep(ctx, day).locks.filter((l) => written.has(l.dataset)));
      break;
    }
    case 'delta_peers_daily':
      out.push(...fgAStep(ctx, t.batches).locks.filter((l) => l.dataset === 'delta_peers_daily'));
      break;
    case 'fg_a':
      await fgA(t.batches, t.upstream);
      break;
    case 'fg_b':
      if (t.referenceMs === undefined) throw new UsageError('fg_b needs a reference date');
      await fgB(t.referenceMs, t.upstream);
      break;
    case 'fg_c':
      if (t.upstream) {
        await fgA(t.batches, true);
        for (const ref of new Set(t.batches.map((b) => scheduledReference(ctx, floorDay(b.start))))) await fgB(ref, true);
      }
      for (const day of groupByDay(t.batches)) out.push(...fgCStep(ctx, day, false).locks);
      break;
  }
  return [...new Map(out.map((l) => [`${l.dataset}#${l.range}`, l])).values()];
}

/** The lock that covers a committed partition (the inverse of the step locks above). */
export function lockOfPartition(partition: string): LockSpec {
  const dataset = datasetOfPartition(partition).split('/')[0];
  const v = partitionValues(partition);
  if (dataset === 'delta_peers_daily') return { dataset, range: 'all' };
  if (v.reference_date) return { dataset, range: `reference_date=${v.reference_date}` };
  return { dataset, range: v.dt ? `dt=${v.dt}` : partition };
}

export type LockKind = 'auto' | 'file' | 'dynamodb' | 'none';

/**
 * The lock manager of `build` (undefined: unlocked). Lock files beside a local
 * warehouse; for an s3:// warehouse the DynamoDB lock table, which `auto` uses
 * only when NDR_LOCK_TABLE_NAME names it: builds on S3 never needed DynamoDB,
 * and guessing the default table would make them fail (or wait on AWS) where
 * it does not exist.
 */
export function openBuildLocks(runtime: RuntimeConfig, kind: LockKind, log: Logger): { locks?: LockManager; close(): void } {
  const s3 = isS3Uri(runtime.warehouse);
  if (kind === 'none') return { close: () => {} };
  if (kind === 'file' || (kind === 'auto' && !s3)) return { locks: new FileLockManager(runtime.warehouse, { logger: log }), close: () => {} };
  if (kind === 'auto' && !process.env.NDR_LOCK_TABLE_NAME) {
    log.warn('build_unlocked', { msg: `${runtime.warehouse}: no lock table (set NDR_LOCK_TABLE_NAME, or --locks dynamodb for ${DEFAULT_LOCK_TABLE}); a concurrent build or run of the same partitions is not excluded` });
    return { close: () => {} };
  }
  const client = createDynamoClient(runtime);
  return { locks: new DynamoLockManager({ client, logger: log }), close: () => client.destroy() };
}

// ---- ledger and locks ------------------------------------------------------

export type LedgerKind = 'auto' | 'local' | 'dynamodb';

export interface Coordination {
  ledger: Ledger;
  locks: LockManager;
  close(): Promise<void>;
}

/**
 * The ledger and lock manager for a warehouse: a local warehouse keeps both
 * beside the data (`_ledger.duckdb`, `_locks/`); an s3:// warehouse (or
 * `--ledger dynamodb`) uses the DynamoDB tables (NDR_LEDGER_TABLE_NAME,
 * NDR_LOCK_TABLE_NAME), which must exist.
 */
export function openCoordination(runtime: RuntimeConfig, kind: LedgerKind = 'auto', log?: Logger): Coordination {
  const dynamo = kind === 'dynamodb' || (kind === 'auto' && isS3Uri(runtime.warehouse));
  if (!dynamo) {
    if (isS3Uri(runtime.warehouse)) throw new UsageError(`--ledger local needs a local warehouse, got ${runtime.warehouse}`);
    const ledger = LocalLedger.forWarehouse(runtime.warehouse);
    return { ledger, locks: new FileLockManager(runtime.warehouse, { logger: log }), close: () => ledger.close() };
  }
  const client = createDynamoClient(runtime);
  const ledger = new DynamoLedger({ client });
  const locks = new DynamoLockManager({ client, logger: log });
  return {
    ledger,
    locks,
    close: async () => {
      await ledger.close();
      client.destroy();
    },
  };
}

export { Tracker, type TrackerOptions, type StepOutcome };
