/**
 * Running pipeline steps the way a nightly job must (ARCHITECTURE.md,
 * Pipeline operation): under a lock, with a ledger record per partition, and
 * with transient errors retried.
 *
 * One step = one set-based builder call (e.g. the raw stage for a whole day).
 * For each step the Tracker:
 *   1. checks that no lock held by this run was lost (taken over);
 *   2. takes the step's locks: one per (project, version, dataset, range);
 *   3. asks the builder what it would do (the same call with ctx.dryRun, as
 *      `ndr-sql plan` does): missing/stale partitions are marked `running`
 *      in the ledger; when nothing is missing or stale the real call is skipped;
 *   4. runs the builder under withRetry (transient errors only);
 *   5. records `committed` (with the manifest pointer) per committed
 *      partition, `missing_input` per partition whose input does not exist,
 *      `failed` (with the error) when the step failed.
 * Ledger writes are queued in order and overlap with the next step's work;
 * `close()` waits for them.
 */
import pLimit from 'p-limit';
import { InputNotReadyError, LockBusyError, NdrError, oneLine } from '../errors/index.ts';
import { isoZ, type Batch } from '../engine/batches.ts';
import { RunSummary, type Progress } from '../log/index.ts';
import type { Manifest } from '../storage/manifest.ts';
import { batchPartition } from '../storage/layout.ts';
import type { PlanEntry, StepResult } from './build.ts';
import { withDryRun, type RunContext } from './context.ts';
import { LEASE_MS, acquireAll, lockKey, releaseAll, type Lock, type LockManager, type LockSpec } from './lock.ts';
import type { Ledger, LedgerEntry, LedgerRecordInput } from './ledger.ts';
import { withRetry, type RetryOptions } from './retry.ts';

/** One set-based step of a run. */
export interface StepDef {
  /** Display name: `raw` (delta+delta_peers+pair_counts), `fg_a`, `fg_b`, `fg_c`. */
  name: string;
  /** The partition range, for logs and lock keys: `dt=2026-11-24` or `reference_date=2026-11-01`. */
  range: string;
  /** Lock keys' dataset and range parts: the partitions this step may write. */
  locks: LockSpec[];
  /** Partitions the step is responsible for; used when the builder cannot say (input not ready, failure). */
  expected: () => string[];
  /** Data-time window of `expected` (ledger look-ups). */
  fromMs: number;
  toMs: number;
  /** The builder call; honours ctx.dryRun. */
  run: () => Promise<StepResult[]>;
  /** Raw stage only: the batches whose raw input it reads (a batch without raw input and without output is a gap). */
  rawBatches?: Batch[];
}

export type StepStatus = 'committed' | 'up_to_date' | 'missing_input' | 'partial' | 'failed';

export interface StepOutcome {
  name: string;
  range: string;
  status: StepStatus;
  committed: Manifest[];
  /** Up-to-date partitions left as they were. */
  upToDate: string[];
  /** Partitions whose input does not exist (gaps), recorded as missing_input. */
  missingInput: string[];
  /** Batches the builders reported as missing (for the raw stage: raw input absent). */
  missingBatches: Batch[];
  failed: string[];
  error?: unknown;
  rows: number;
  seconds: number;
  attempts: number;
}

export interface TrackerOptions {
  ledger: Ledger;
  locks: LockManager;
  /** How long to wait for a busy lock (0: fail at once with LockBusyError, exit 3). */
  lockWaitMs: number;
  /** Lock lease; renewed every leaseMs/3 (default 2 min). */
  leaseMs?: number;
  /** Shown to a waiting run, e.g. `ndr-sql run nightly dt=2026-11-24`. */
  owner: string;
  /** Retries of transient errors: total attempts (default 3) and backoff. */
  retry?: Partial<Pick<RetryOptions, 'attempts' | 'baseMs' | 'maxMs' | 'sleep'>>;
  summary?: RunSummary;
  progress?: Progress;
}

const LEDGER_CONCURRENCY = 16;

/** A ledger that can upsert many records in one call (e.g. one transaction); used when present. */
export interface BulkLedger extends Ledger {
  recordMany(entries: LedgerRecordInput[]): Promise<LedgerEntry[]>;
}

/** `delta/feature_spec_version=v1/dt=...` -> `delta`; `fg_b/host/feature_spec_version=...` -> `fg_b/host`. */
export function datasetOfPartition(partition: string): string {
  const i = partition.indexOf('/feature_spec_version=');
  return i > 0 ? partition.slice(0, i) : partition.split('/')[0];
}

/** Lock lost (taken over by another run after our lease lapsed): stop, another run may be writing. */
export class LockLostError extends NdrError {}

export class Tracker {
  readonly summary: RunSummary;
  /** The outcome of the last step (also when `step` threw). */
  lastOutcome: StepOutcome | undefined;
  private readonly held = new Map<string, Lock>();
  /** Ledger writes in flight, in enqueue order per partition (see recordAll). */
  private pending: Promise<unknown>[] = [];
  private ledgerErrors: unknown[] = [];
  private readonly limit = pLimit(LEDGER_CONCURRENCY);

  constructor(
    private readonly ctx: RunContext,
    private readonly opts: TrackerOptions,
  ) {
    this.summary = opts.summary ?? new RunSummary();
  }

  private key(dataset: string, range: string) {
    return lockKey(this.ctx.specs.project, this.ctx.specs.version, dataset, range);
  }

  /**
   * Take locks (sorted, so runs needing overlapping sets cannot deadlock) and
   * keep them until `release`/`close`. Throws LockBusyError (exit 3) when one
   * stays busy longer than lockWaitMs; locks taken by this call are released then.
   */
  async lock(specs: LockSpec[]): Promise<Lock[]> {
    const keys = specs.map((s) => this.key(s.dataset, s.range)).filter((k) => !this.held.has(k));
    const taken = await acquireAll(this.opts.locks, keys, { waitMs: this.opts.lockWaitMs, leaseMs: this.opts.leaseMs ?? LEASE_MS, owner: this.opts.owner });
    for (const l of taken) this.held.set(l.key, l);
    return taken;
  }

  async release(locks: Lock[]): Promise<void> {
    for (const l of locks) this.held.delete(l.key);
    await releaseAll(locks, (l, e) => this.ctx.log.warn('lock_release_failed', { lock: l.key, error: e }));
  }

  /** Throws LockLostError if any lock this run holds was taken over. */
  assertLocks(before: string): void {
    const lost = [...this.held.values()].filter((l) => l.lost);
    if (lost.length)
      throw new LockLostError(`lock ${lost.map((l) => l.key).join(', ')} was lost (lease lapsed and taken over by another run); stopped before ${before}`);
  }

  /**
   * Queue ledger records. Records of one partition must be queued in order:
   * callers await the previous batch first. A ledger with `recordMany` (one
   * transaction for many records) gets them in one call.
   */
  private recordAll(inputs: Omit<LedgerRecordInput, 'project' | 'version'>[]): Promise<unknown> {
    const { project, version } = this.ctx.specs;
    const full = inputs.map((i) => ({ project, version, ...i }));
    const failed = (e: unknown, i?: LedgerRecordInput) => {
      this.ledgerErrors.push(e);
      this.ctx.log.error('ledger_write_failed', { dataset: i?.dataset, partition: i?.partition, status: i?.status, records: i ? 1 : full.length, error: e });
    };
    const bulk = (this.opts.ledger as Partial<BulkLedger>).recordMany;
    const p = bulk
      ? bulk.call(this.opts.ledger, full).catch((e) => failed(e))
      : Promise.all(full.map((i) => this.limit(() => this.opts.ledger.record(i).catch((e) => failed(e, i)))));
    this.pending.push(p);
    return p;
  }

  private async ledgerEntries(def: StepDef): Promise<Map<string, LedgerEntry>> {
    try {
      const entries = await this.opts.ledger.list({ project: this.ctx.specs.project, version: this.ctx.specs.version, fromMs: def.fromMs, toMs: def.toMs });
      return new Map(entries.map((e) => [e.partition, e]));
    } catch (e) {
      this.ctx.log.warn('ledger_read_failed', { msg: oneLine(e) });
      return new Map();
    }
  }

  /** The builder call with ctx.dryRun set: what it would build. */
  private dryRun(def: StepDef): Promise<StepResult[]> {
    return withDryRun(this.ctx, () => def.run());
  }

  async step(def: StepDef): Promise<StepOutcome> {
    const t0 = Date.now();
    const log = this.ctx.log;
    this.lastOutcome = undefined;
    const outcome: StepOutcome = {
      name: def.name,
      range: def.range,
      status: 'up_to_date',
      committed: [],
      upToDate: [],
      missingInput: [],
      missingBatches: [],
      failed: [],
      rows: 0,
      seconds: 0,
      attempts: 0,
    };
    const ledgerBefore = this.ledgerEntries(def);
    let running: string[] = [];
    let runningRecorded: Promise<unknown> = Promise.resolve();
    const lastError = new Map<string, string>();
    let stepLocks: Lock[] = [];
    try {
      this.assertLocks(`step ${def.name} ${def.range}`);
      stepLocks = await this.lock(def.locks);

      const plan = await this.dryRun(def);
      const planned = plan.flatMap((r) => r.planned ?? []);
      const complete = plan.every((r) => r.planned !== undefined);
      const build = planned.filter((p) => p.state === 'missing' || p.state === 'stale').map((p) => p.partition);
      let results: StepResult[];
      if (!build.length && complete) {
        results = plan;
      } else {
        running = build;
        const markRunning = () => {
          const prev = runningRecorded;
          runningRecorded = prev.then(() =>
            this.recordAll(running.map((partition) => ({ dataset: datasetOfPartition(partition), partition, status: 'running' as const }))),
          );
        };
        markRunning();
        this.assertLocks(`committing ${def.name} ${def.range}`);
        results = await withRetry(
          async (attempt) => {
            outcome.attempts = attempt;
            if (attempt > 1) markRunning();
            return def.run();
          },
          {
            attempts: this.opts.retry?.attempts ?? 3,
            baseMs: this.opts.retry?.baseMs ?? 2_000,
            maxMs: this.opts.retry?.maxMs ?? 30_000,
            sleep: this.opts.retry?.sleep,
            onRetry: (err, attempt, delayMs) =>
              log.warn('step_retry', { dataset: def.name, partition: def.range, attempt, delay_ms: delayMs, error: err }),
          },
        );
        this.assertLocks(`recording ${def.name} ${def.range}`);
      }
      outcome.committed = results.flatMap((r) => r.committed);
      outcome.upToDate = [...new Set(results.flatMap((r) => r.skipped))];
      const committed = new Set(outcome.committed.map((m) => m.partition));
      outcome.missingInput = [
        ...new Set([
          ...planned.filter((p) => p.state === 'no_input').flatMap((p) => this.expandWildcard(p.partition)),
          ...results.flatMap((r) => missingPartitions(this.ctx, r)),
        ]),
      ].filter((p) => !committed.has(p));
    } catch (err) {
      outcome.error = err;
      if (err instanceof LockBusyError || err instanceof LockLostError) {
        // Nothing of this step was written by us (busy), or we must not touch the ledger for partitions another run owns now.
        outcome.status = 'failed';
        outcome.seconds = (Date.now() - t0) / 1000;
        await this.release(stepLocks);
        this.finishStep(outcome);
        throw err;
      }
      const candidates = running.length ? running : def.expected();
      // Partitions this run committed before the failure stay committed.
      const manifests = await this.ctx.warehouse.readManifests(candidates).catch(() => new Map<string, Manifest>());
      outcome.committed = [...manifests.values()].filter((m) => m.run_id === this.ctx.runId);
      const rest = candidates.filter((p) => !outcome.committed.some((m) => m.partition === p));
      if (err instanceof InputNotReadyError) {
        // Committed earlier (the input may have been removed since): still what readers see.
        outcome.upToDate = rest.filter((p) => manifests.has(p));
        outcome.missingInput = rest.filter((p) => !manifests.has(p));
        for (const p of outcome.missingInput) lastError.set(p, oneLine(err));
      } else {
        outcome.failed = rest;
        for (const p of rest) lastError.set(p, oneLine(err));
      }
    }
    await this.release(stepLocks);

    // A partition without input but with a manifest was committed earlier (e.g. raw removed by retention): not a gap.
    if (outcome.missingInput.length && !outcome.error) {
      const have = await this.ctx.warehouse.readManifests(outcome.missingInput).catch(() => new Map<string, Manifest>());
      outcome.upToDate.push(...outcome.missingInput.filter((p) => have.has(p)));
      outcome.missingInput = outcome.missingInput.filter((p) => !have.has(p));
    }
    if (def.rawBatches) {
      const gap = new Set(outcome.missingInput);
      outcome.missingBatches = def.rawBatches.filter((b) => gap.has(batchPartition('delta', this.ctx.specs.version, b)));
    }

    // Ledger: after the `running` records of the same partitions.
    const stepSeconds = (Date.now() - t0) / 1000;
    const share = outcome.committed.length ? stepSeconds / outcome.committed.length : 0;
    const known = await ledgerBefore;
    const committedSet = new Set(outcome.committed.map((m) => m.partition));
    const accounted = new Set([...committedSet, ...outcome.missingInput, ...outcome.failed, ...outcome.upToDate]);
    // Marked running but neither committed nor reported: the builder decided otherwise; say so.
    const unaccounted = running.filter((p) => !accounted.has(p));
    if (unaccounted.length) {
      outcome.failed.push(...unaccounted);
      for (const p of unaccounted) lastError.set(p, 'the step finished without committing this partition');
    }
    await runningRecorded;
    const runningSet = new Set(running);
    const upToDateSet = new Set(outcome.upToDate);
    const records: Omit<LedgerRecordInput, 'project' | 'version'>[] = [
      ...outcome.committed.map((m) => ({
        dataset: datasetOfPartition(m.partition),
        partition: m.partition,
        status: 'committed' as const,
        manifest: { partition: m.partition, run_id: m.run_id },
        rows: m.row_count,
        seconds: share,
      })),
      ...outcome.missingInput
        .filter((p) => {
          // A gap already recorded is not rewritten on every rerun.
          const e = known.get(p);
          return !(e && e.status === 'missing_input' && !runningSet.has(p) && (!lastError.has(p) || lastError.get(p) === e.last_error));
        })
        .map((p) => ({ dataset: datasetOfPartition(p), partition: p, status: 'missing_input' as const, ...(lastError.has(p) ? { last_error: lastError.get(p) } : {}) })),
      ...outcome.failed.map((p) => ({ dataset: datasetOfPartition(p), partition: p, status: 'failed' as const, last_error: lastError.get(p) ?? 'failed' })),
      // Marked running, then found up to date (e.g. a concurrent run built it meanwhile): back to committed.
      ...running
        .filter((p) => upToDateSet.has(p))
        .map((p) => ({ dataset: datasetOfPartition(p), partition: p, status: 'committed' as const })),
    ];
    if (records.length) this.recordAll(records);

    outcome.rows = outcome.committed.reduce((a, m) => a + m.row_count, 0);
    outcome.seconds = stepSeconds;
    outcome.status = outcome.failed.length
      ? 'failed'
      : outcome.missingInput.length
        ? outcome.committed.length
          ? 'partial'
          : 'missing_input'
        : outcome.committed.length
          ? 'committed'
          : 'up_to_date';
    this.finishStep(outcome);
    if (outcome.error && !(outcome.error instanceof InputNotReadyError)) throw outcome.error;
    return outcome;
  }

  /** FG-C reports a batch without FG-A as `fg_c/.../baseline_horizon=*` : one partition per horizon. */
  private expandWildcard(partition: string): string[] {
    if (!partition.includes('baseline_horizon=*/')) return [partition];
    return Object.keys(this.ctx.specs.fg_b_builder.horizons).map((h) => partition.replace('baseline_horizon=*/', `baseline_horizon=${h}/`));
  }

  private finishStep(o: StepOutcome) {
    this.lastOutcome = o;
    const s = this.summary;
    const share = o.committed.length ? o.seconds / o.committed.length : 0;
    for (const m of o.committed) s.add({ dataset: datasetOfPartition(m.partition), status: 'committed', rows: m.row_count, seconds: share });
    for (const p of o.upToDate) s.add({ dataset: datasetOfPartition(p), status: 'up_to_date' });
    for (const p of o.missingInput) s.add({ dataset: datasetOfPartition(p), status: 'missing_input' });
    for (const p of o.failed) s.add({ dataset: datasetOfPartition(p), status: 'failed' });
    const fields = {
      dataset: o.name,
      partition: o.range,
      rows: o.rows,
      seconds: Math.round(o.seconds * 1000) / 1000,
      status: o.status,
      committed: o.committed.length,
      up_to_date: o.upToDate.length,
      missing_input: o.missingInput.length,
      failed: o.failed.length,
      ...(o.attempts > 1 ? { attempts: o.attempts } : {}),
      ...(o.error ? { error: o.error } : {}),
    };
    if (o.status === 'failed') this.ctx.log.error('step', fields);
    else if (o.status === 'missing_input' || o.status === 'partial') this.ctx.log.warn('step', fields);
    else this.ctx.log.info('step', fields);
    this.opts.progress?.tick(1, `${o.name} ${o.range} ${o.status}`);
  }

  /** Wait for queued ledger writes; true if all succeeded. */
  async flush(): Promise<boolean> {
    while (this.pending.length) {
      const batch = this.pending;
      this.pending = [];
      await Promise.all(batch);
    }
    return this.ledgerErrors.length === 0;
  }

  /** Flush the ledger and release every lock still held. */
  async close(): Promise<boolean> {
    const ok = await this.flush();
    await this.release([...this.held.values()]);
    return ok;
  }
}

/** Partitions of a step result's missing batches (`delta+delta_peers+pair_counts` names several datasets). */
function missingPartitions(ctx: RunContext, r: StepResult): string[] {
  const v = ctx.specs.version;
  const horizons = Object.keys(ctx.specs.fg_b_builder.horizons);
  return r.dataset.split('+').flatMap((ds) =>
    r.missing.flatMap((b) => (ds === 'fg_c' ? horizons.map((h) => batchPartition('fg_c', v, b, h)) : ds === 'delta_peers_daily' ? [] : [batchPartition(ds, v, b)])),
  );
}

/** ISO starts of batches, for messages. */
export const batchList = (bs: Batch[]) => bs.map((b) => isoZ(b.start));

export type { PlanEntry };
