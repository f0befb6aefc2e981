/**
 * `ndr-sql run nightly --date D|yesterday [--from D1 --to D2]` and
 * `ndr-sql run streaming --batch ISO`: the pipeline under locks, with the run
 * ledger, retries, a progress bar (TTY) or JSON lines (cron), and a summary.
 *
 * Exit codes: 0 everything committed or already up to date; 3 input not
 * ready (raw batches missing, listed; FG-B baseline missing) or another run
 * holds the lock; 1 failure; 2 usage.
 */
import type { Argv, CommandModule } from 'yargs';
import { EXIT, InputNotReadyError, UsageError, exitCodeOf, oneLine } from '../../errors/index.ts';
import { batchRuns, isoZ } from '../../engine/batches.ts';
import { emitSummary, startProgress, type Logger } from '../../log/index.ts';
import { openRunContext } from '../../pipeline/context.ts';
import {
  SKIPPABLE,
  Tracker,
  nightlyDays,
  nightlySteps,
  openCoordination,
  parseSkip,
  reportExitCode,
  runNightly,
  runStreaming,
  streamingBatch,
  streamingSteps,
  type LedgerKind,
  type RunReport,
} from '../../pipeline/nightly.ts';
import { openCommon, withCommonOptions, type CommonArgs } from '../common.ts';

interface RunArgs extends CommonArgs {
  target: string;
  date?: string;
  from?: string;
  to?: string;
  batch?: string;
  batchStart?: string;
  force?: boolean;
  allowMissingBaseline?: boolean;
  skip?: string[];
  lockWait?: number;
  ledger?: LedgerKind;
  maxAttempts?: number;
}

export const runCommand: CommandModule<object, RunArgs> = {
  command: 'run <target>',
  describe: 'run the pipeline: `nightly` (a whole day, set-based) or `streaming` (one 15-minute batch)',
  builder: (y) =>
    withCommonOptions(y)
      .positional('target', { choices: ['nightly', 'streaming'] as const, demandOption: true })
      .option('date', { type: 'string', describe: 'nightly: the UTC day (YYYY-MM-DD, yesterday, today)' })
      .option('from', { type: 'string', describe: 'nightly: first day of a range (YYYY-MM-DD)' })
      .option('to', { type: 'string', describe: 'nightly: last day of a range, inclusive (YYYY-MM-DD)' })
      .option('batch', { type: 'string', alias: 'batch-start', describe: 'streaming: the batch start (ISO, :00/:15/:30/:45 UTC)' })
      .option('force', { type: 'boolean', describe: 'rebuild partitions that are up to date' })
      .option('allow-missing-baseline', { type: 'boolean', describe: "fg_c: emit baseline_source='none' rows when no FG-B exists" })
      .option('skip', { type: 'string', array: true, describe: `leave out steps (and what depends on them): ${SKIPPABLE.join(', ')}` })
      .option('lock-wait', { type: 'number', default: 0, describe: 'seconds to wait for a busy lock before exiting 3' })
      .option('ledger', { choices: ['auto', 'local', 'dynamodb'] as const, default: 'auto' as const, describe: 'auto: local for a local warehouse, dynamodb for s3://' })
      .option('max-attempts', { type: 'number', default: 3, describe: 'attempts per step for transient errors (throttling, 5xx, timeouts)' })
      .check((a) => {
        if (a.target === 'streaming' && !(a.batch ?? a.batchStart)) throw new UsageError('run streaming needs --batch ISO');
        if (a.target === 'nightly' && !a.date && !a.from) throw new UsageError('run nightly needs --date D or --from D1 --to D2');
        if (a.target === 'nightly' && a.batch) throw new UsageError('run nightly takes --date, not --batch');
        if (a.target === 'streaming' && (a.date || a.from || a.to)) throw new UsageError('run streaming takes --batch, not --date/--from/--to');
        if (a.lockWait != null && !(Number(a.lockWait) >= 0)) throw new UsageError('--lock-wait must be >= 0 seconds');
        if (a.maxAttempts != null && !(Number.isInteger(a.maxAttempts) && Number(a.maxAttempts) >= 1)) throw new UsageError('--max-attempts must be an integer >= 1');
        return true;
      }) as unknown as Argv<RunArgs>,
  handler: async (args) => {
    const skip = parseSkip(args.skip);
    const days = args.target === 'nightly' ? nightlyDays(args) : [];
    const batch = args.target === 'streaming' ? streamingBatch(args) : undefined;
    const opened = await openCommon(args);
    const ctx = await openRunContext({ ...opened, force: args.force });
    let coord: ReturnType<typeof openCoordination>;
    try {
      coord = openCoordination(opened.runtime, args.ledger ?? 'auto', opened.log);
    } catch (e) {
      ctx.session.close();
      throw e;
    }
    ctx.log = ctx.log.child({ run_id: ctx.runId });
    const opts = { allowMissingBaseline: args.allowMissingBaseline, skip };
    const label = batch ? isoZ(batch.start) : days.map((d) => isoZ(d).slice(0, 10)).join(',');
    const totalSteps = batch ? streamingSteps(ctx, [batch], opts).length : days.reduce((n, d) => n + nightlySteps(ctx, d, opts).length, 0);
    const progress = startProgress(ctx.log, totalSteps, args.target === 'nightly' ? `nightly ${days.length === 1 ? label : `${days.length} days`}` : 'streaming');
    const tracker = new Tracker(ctx, {
      ledger: coord.ledger,
      locks: coord.locks,
      lockWaitMs: Math.round((args.lockWait ?? 0) * 1000),
      owner: `ndr-sql run ${args.target} ${label} (run ${ctx.runId})`,
      retry: { attempts: args.maxAttempts ?? 3 },
      progress,
    });
    let report: RunReport;
    let ledgerOk = true;
    try {
      ctx.log.info('run_started', { status: 'running', msg: `${args.target} ${label}`, ledger: coord.ledger.description, locks: coord.locks.description });
      report = batch ? await runStreaming(ctx, tracker, batch, opts) : await runNightly(ctx, tracker, days, opts);
    } finally {
      progress.stop();
      ledgerOk = await tracker.close().catch(() => false);
      ctx.session.close();
      await coord.close().catch(() => undefined);
    }
    finishRun(ctx.log, report, ledgerOk);
  },
};

/** Summary, gap list, final event, exit code (a stopping error is rethrown: main prints it and maps its exit code). */
export function finishRun(log: Logger, report: RunReport, ledgerOk: boolean): void {
  emitSummary(log, report.summary);
  if (report.gaps.length) {
    const batches = report.gaps.map((b) => isoZ(b.start));
    log.warn('gaps', { status: 'missing_input', batches, msg: `${batches.length} batch(es) have no raw input (not built, exit 3): ${batchRuns(report.gaps).join(', ')}` });
  }
  for (const o of report.outcomes)
    if (o.error instanceof InputNotReadyError) log.warn('input_not_ready', { dataset: o.name, partition: o.range, msg: oneLine(o.error) });
  if (report.notRun.length) log.info('not_run', { msg: report.notRun.join(', ') });
  if (!ledgerOk) log.error('ledger_incomplete', { msg: 'some ledger records could not be written; manifests are authoritative, `ndr-sql status` reconciles' });
  const exit = report.error ? exitCodeOf(report.error) : !ledgerOk ? EXIT.failure : reportExitCode(report);
  const status = exit === EXIT.ok ? 'ok' : exit === EXIT.notReady ? (report.error ? 'lock_busy' : 'input_not_ready') : 'failed';
  log.info('run_finished', { status, seconds: Math.round(report.seconds * 1000) / 1000, exit_code: exit });
  // A stopping error: main prints it on one line and exits with its code.
  if (report.error) throw report.error;
  process.exitCode = exit;
}
