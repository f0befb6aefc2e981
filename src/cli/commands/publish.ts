/**
 * `ndr-sql publish <fg_a_wide|fg_c> (--date D | --batch ISO | --from --to) --target offline|online --feature-group NAME`
 * One publish per warehouse partition, so batch ids (and offline file names)
 * are stable and a rerun replaces exactly that batch.
 */
import { join } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { ConfigError, EXIT, InputNotReadyError } from '../../errors/index.ts';
import { formatBatch, selectBatches } from '../../engine/batches.ts';
import { materialize } from '../../engine/execute.ts';
import { inline, lit, sql } from '../../engine/sql.ts';
import { createS3Client } from '../../aws/clients.ts';
import { openRunContext, type RunContext } from '../../pipeline/context.ts';
import { loadBatchInput, registerInput, batchOfManifest } from '../../pipeline/inputs.ts';
import { formatPublishSummary, publish, publishExitCode } from '../../publish/index.ts';
import { publishSpecFor, type PublishTarget } from '../../publish/spec.ts';
import { fgAColumns } from '../../transforms/columns.ts';
import { datasetName, openCommon, withCommonOptions, type CommonArgs } from '../common.ts';
import { withSelection } from './build.ts';

interface PublishArgs extends CommonArgs {
  dataset: string;
  target: PublishTarget;
  featureGroup?: string;
  horizon?: string;
  date?: string;
  batch?: string;
  from?: string;
  to?: string;
}

/** Local Parquet files to publish for one batch, and a stable batch id. */
async function sourcesFor(ctx: RunContext, dataset: 'fg_a_wide' | 'fg_c', horizon: string | undefined, workDir: string) {
  const v = ctx.specs.version;
  if (dataset === 'fg_c') {
    const parts = await ctx.warehouse.listCommitted(`fg_c/feature_spec_version=${v}`);
    const manifests = [...(await ctx.warehouse.readManifests(parts)).values()].filter((m) => !horizon || m.partition_values.baseline_horizon === horizon);
    return Promise.all(
      manifests.map(async (m) => ({
        start: batchOfManifest(m).start,
        batchId: `fg_c-${m.partition_values.baseline_horizon}-${formatBatch(batchOfManifest(m)).miniBatchId}`,
        files: await ctx.warehouse.localDataFiles(m),
      })),
    );
  }
  return async (start: number) => {
    const fgA = await loadBatchInput(ctx, 'fg_a', start, start + 1);
    if (!fgA.manifests.length) return undefined;
    await registerInput(ctx, 'fg_a_in', fgA.manifests, fgAColumns(ctx.specs));
    await materialize(ctx.session, v, 'fg_a_wide', 'out_fg_a_wide');
    const file = join(workDir, `fg_a_wide-${start}.parquet`);
    await ctx.session.run(inline(sql`COPY out_fg_a_wide TO ${lit(file)} (FORMAT parquet)`));
    return { start, batchId: `fg_a_wide-${formatBatch({ start }).miniBatchId}`, files: [file] };
  };
}

export const publishCommand: CommandModule<object, PublishArgs> = {
  command: 'publish <dataset>',
  describe: 'feature-store ingestion: offline (S3 Parquet, default) or online (PutRecord)',
  builder: (y) =>
    withCommonOptions(withSelection(y))
      .positional('dataset', { type: 'string', describe: 'fg_a_wide | fg_c', demandOption: true })
      .option('target', { choices: ['offline', 'online'] as const, default: 'offline' as const })
      .option('feature-group', { type: 'string' })
      .option('horizon', { type: 'string', describe: 'fg_c: only this baseline horizon' }) as unknown as Argv<PublishArgs>,
  handler: async (args) => {
    const dataset = datasetName(args.dataset, ['fg_a_wide', 'fg_c'] as const);
    const batches = selectBatches(args);
    const opened = await openCommon(args);
    const ctx = await openRunContext(opened);
    const spec = publishSpecFor(dataset, ctx.specs.project_parameters.publish[dataset]);
    if (!spec.feature_group && !args.featureGroup)
      throw new ConfigError(`no feature group: pass --feature-group or set project_parameters.publish.${dataset}.feature_group`);
    const workDir = await ctx.warehouse.stagingDir(ctx.runId);
    const wanted = new Set(batches.map((b) => b.start));
    try {
      const src = await sourcesFor(ctx, dataset, args.horizon, workDir);
      const items = Array.isArray(src)
        ? src.filter((s) => wanted.has(s.start))
        : (await Promise.all(batches.map((b) => src(b.start)))).filter((s): s is NonNullable<typeof s> => Boolean(s));
      if (!items.length) throw new InputNotReadyError(`input not ready: no committed ${dataset === 'fg_c' ? 'fg_c' : 'fg_a'} partitions for the selection`);
      const s3 = createS3Client(ctx.runtime);
      let code: number = EXIT.ok;
      for (const item of items) {
        const summary = await publish({ target: args.target, session: ctx.session, files: item.files, spec, featureGroup: args.featureGroup, batchId: item.batchId, workDir, s3 });
        ctx.log.info('published', { dataset, partition: item.batchId, rows: summary.records, status: publishExitCode(summary) ? 'failed' : 'ok', msg: formatPublishSummary(summary) });
        code = Math.max(code, publishExitCode(summary));
      }
      if (code) process.exitCode = code;
    } finally {
      ctx.session.close();
      await ctx.warehouse.cleanupStaging(ctx.runId);
    }
  },
};
