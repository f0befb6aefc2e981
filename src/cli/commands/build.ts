/** `ndr-sql build <dataset> (--date D | --batch ISO | --from ISO --to ISO) [--upstream] [--force]` */
import type { Argv, CommandModule } from 'yargs';
import { EXIT, UsageError } from '../../errors/index.ts';
import { isoZ, parseDay, parseInstant, selectBatches } from '../../engine/batches.ts';
import type { Logger } from '../../log/index.ts';
import { openRunContext } from '../../pipeline/context.ts';
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
      .option('allow-missing-baseline', { type: 'boolean', describe: "fg_c: emit baseline_source='none' rows when no FG-B exists" }) as unknown as Argv<BuildArgs>,
  handler: async (args) => {
    // `delta,delta_peers,pair_counts` builds the raw stage once for all three (one read of the raw input).
    const rawStage = args.dataset.includes(',') ? args.dataset.split(',').map((d) => datasetName(d, RAW_DATASETS)) : undefined;
    const dataset = rawStage ? 'delta' : datasetName(args.dataset, BUILDABLE);
    const opened = await openCommon(args);
    const batches = dataset === 'fg_b' ? [] : selectBatches(args);
    const ctx = await openRunContext({ ...opened, force: args.force });
    try {
      const results = rawStage ? [await buildRawStage(ctx, batches, rawStage)] : await build(ctx, dataset, batches, {
        upstream: Boolean(args.upstream),
        allowMissingBaseline: args.allowMissingBaseline,
        referenceMs: dataset === 'fg_b' ? referenceOf(args) : undefined,
      });
      reportSteps(ctx.log, results);
      if (results.some((r) => r.missing.length)) process.exitCode = EXIT.notReady;
    } finally {
      ctx.session.close();
    }
  },
};

function referenceOf(args: BuildArgs): number {
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
