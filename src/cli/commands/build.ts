/**
 * `ndr-sql build <dataset> (--date D | --batch ISO | --from ISO --to ISO) [--upstream] [--force]`
 *
 * Takes the same partition locks as `run` (one per project, version, dataset
 * and day or reference date, upstream included) for the whole build; waits
 * `--lock-wait` seconds for a busy one, then exits 3 having written nothing.
 */
import type { Argv, CommandModule } from 'yargs';
import { EXIT, UsageError } from '../../errors/index.ts';
import { isoZ, parseDay, parseInstant, selectBatches } from '../../engine/batches.ts';
import type { Logger } from '../../log/index.ts';
import { openRunContext, type RunContext } from '../../pipeline/context.ts';
import { LEASE_MS, acquireAll, lockKey, releaseAll, type Lock, type LockManager, type LockSpec } from '../../pipeline/lock.ts';
import { buildLocks, lockOfPartition, openBuildLocks, type BuildTarget, type LockKind } from '../../pipeline/nightly.ts';
import { LockLostError } from '../../pipeline/tracked.ts';
import { BUILDABLE, build, buildRawStage, type StepResult } from '../../pipeline/build.ts';
import { RAW_DATASETS } from '../../pipeline/build-raw.ts';
import '../../pipeline/builders.ts';
import { datasetName, openCommon, withCommonOptions, type CommonArgs } from '../common.ts';

/** --date | --batch | --from/--to, shared by every command that selects batches. */
export interface SelectionArgs {
  date?: string;
  batch?: string;
  from?: string;
  to?: string;
}

/** What `build` and `plan build` share. */
export interface BuildFlags extends CommonArgs, SelectionArgs {
  reference?: string;
  upstream?: boolean;
  force?: boolean;
  allowMissingBaseline?: boolean;
}

interface BuildArgs extends BuildFlags {
  dataset: string;
  lockWait?: number;
  locks?: LockKind;
}

/** What `build <dataset>` (and `plan build <dataset>`) selects; `a,b,c` is the raw stage once for those datasets. */
export function buildTarget(spec: string, args: BuildFlags): BuildTarget {
  const rawDatasets = spec.includes(',') ? spec.split(',').map((d) => datasetName(d, RAW_DATASETS)) : undefined;
  const dataset = rawDatasets ? 'delta' : datasetName(spec, BUILDABLE);
  return {
    dataset,
    rawDatasets,
    batches: dataset === 'fg_b' ? [] : selectBatches(args),
    referenceMs: dataset === 'fg_b' ? referenceOf(args) : undefined,
    upstream: Boolean(args.upstream),
  };
}

export async function runTarget(ctx: RunContext, target: BuildTarget, allowMissingBaseline?: boolean): Promise<StepResult[]> {
  if (target.rawDatasets) return [await buildRawStage(ctx, target.batches, [...target.rawDatasets])];
  return build(ctx, target.dataset, target.batches, { upstream: target.upstream, allowMissingBaseline, referenceMs: target.referenceMs });
}

export function withSelection<T>(y: Argv<T>) {
  return y
    .option('date', { type: 'string', describe: 'a UTC day (YYYY-MM-DD, today, yesterday): its 96 batches' })
    .option('batch', { type: 'string', describe: 'one 15-minute batch by its ISO start' })
    .option('from', { type: 'string', describe: 'range start (ISO or YYYY-MM-DD)' })
    .option('to', { type: 'string', describe: 'range end (exclusive ISO, or an inclusive YYYY-MM-DD)' });
}

export const buildCommand: CommandModule<object, BuildArgs> = {
  command: 'build <dataset>',
  describe: 'build a dataset for a day, a batch or a range',
  builder: (y) =>
    withCommonOptions(withSelection(y))
      .positional('dataset', { type: 'string', describe: BUILDABLE.join(' | ') + ' (fg-a spelling accepted; delta,delta_peers,pair_counts builds them in one pass)', demandOption: true })
      .option('reference', { type: 'string', describe: 'fg_b: reference instant (ISO) instead of --date' })
      .option('upstream', { type: 'boolean', describe: 'first build missing or stale inputs' })
      .option('force', { type: 'boolean', describe: 'rebuild partitions that are up to date' })
      .option('allow-missing-baseline', { type: 'boolean', describe: "fg_c: emit baseline_source='none' rows when no FG-B exists" })
      .option('lock-wait', { type: 'number', default: 0, describe: 'seconds to wait for a busy partition lock before exiting 3' })
      .option('locks', {
        choices: ['auto', 'file', 'dynamodb', 'none'] as const,
        default: 'auto' as const,
        describe: 'auto: lock files for a local warehouse; DynamoDB for s3:// when NDR_LOCK_TABLE_NAME is set',
      })
      .check((a) => {
        if (a.lockWait != null && !(Number(a.lockWait) >= 0)) throw new UsageError('--lock-wait must be >= 0 seconds');
        return true;
      }) as unknown as Argv<BuildArgs>,
  handler: async (args) => {
    const target = buildTarget(args.dataset, args);
    const opened = await openCommon(args);
    const ctx = await openRunContext({ ...opened, force: args.force });
    let backend: ReturnType<typeof openBuildLocks> | undefined;
    let held: Lock[] = [];
    try {
      backend = openBuildLocks(opened.runtime, args.locks ?? 'auto', ctx.log);
      const locks = await buildLocks(ctx, target);
      if (backend.locks) held = await takeLocks(ctx, backend.locks, locks, args);
      const results = await runTarget(ctx, target, args.allowMissingBaseline);
      reportSteps(ctx.log, results);
      if (backend.locks) checkLockScope(ctx.log, locks, results);
      assertNotLost(held);
      if (results.some((r) => r.missing.length)) process.exitCode = EXIT.notReady;
    } finally {
      await releaseAll(held, (l, e) => ctx.log.warn('lock_release_failed', { lock: l.key, error: e }));
      backend?.close();
      ctx.session.close();
    }
  },
};

async function takeLocks(ctx: RunContext, manager: LockManager, locks: LockSpec[], args: BuildArgs): Promise<Lock[]> {
  const { project, version } = ctx.specs;
  const held = await acquireAll(
    manager,
    locks.map((l) => lockKey(project, version, l.dataset, l.range)),
    { waitMs: Math.round((args.lockWait ?? 0) * 1000), leaseMs: LEASE_MS, owner: `ndr-sql build ${args.dataset} (run ${ctx.runId})` },
  );
  ctx.log.debug('build_locks', { locks: held.length, msg: manager.description });
  return held;
}

/** A lease that lapsed mid-build (process stalled past it) may have let another run write the same partitions: fail, so the build is rerun. */
function assertNotLost(held: Lock[]) {
  const lost = held.filter((l) => l.lost).map((l) => l.key);
  if (lost.length) throw new LockLostError(`lock ${lost.join(', ')} was lost during the build (lease lapsed and taken over); another run may have written the same partitions: rerun the build`);
}

/** A committed partition outside the locks means buildLocks no longer follows the builders: say so loudly. */
function checkLockScope(log: Logger, locks: LockSpec[], results: StepResult[]) {
  const covered = new Set(locks.map((l) => `${l.dataset}#${l.range}`));
  const outside = results.flatMap((r) => r.committed.map((m) => m.partition)).filter((p) => {
    const l = lockOfPartition(p);
    return !covered.has(`${l.dataset}#${l.range}`);
  });
  if (outside.length) log.error('lock_scope', { partitions: outside.slice(0, 8), msg: `${outside.length} partition(s) were committed without their lock (buildLocks out of step with builders.ts)` });
}

function referenceOf(args: BuildFlags): number {
  if (args.reference) return parseInstant(args.reference);
  if (args.date) return parseDay(args.date);
  throw new UsageError('fg_b needs --date D (reference D 00:00 UTC) or --reference ISO');
}

export function reportSteps(log: Logger, results: StepResult[]) {
  for (const r of results) {
    const rows = r.committed.reduce((a, m) => a + m.row_count, 0);
    log.info('step', {
      dataset: r.dataset,
      status: r.missing.length ? 'partial' : 'ok',
      rows,
      seconds: r.seconds,
      committed: r.committed.length,
      skipped_up_to_date: r.skipped.length,
      missing_input: r.missing.length,
    });
    if (r.missing.length)
      log.warn('input_not_ready', { dataset: r.dataset, batches: r.missing.slice(0, 8).map((b) => isoZ(b.start)).join(',') + (r.missing.length > 8 ? ',...' : '') });
  }
}
