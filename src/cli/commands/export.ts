/** `ndr-sql export fg-a-wide (--date D | --batch ISO | --from --to) --out FILE.parquet` */
import { statSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { ConfigError, InputNotReadyError } from '../../errors/index.ts';
import { selectBatches } from '../../engine/batches.ts';
import { materialize } from '../../engine/execute.ts';
import { inline, lit, sql } from '../../engine/sql.ts';
import { openRunContext } from '../../pipeline/context.ts';
import { loadBatchInput, registerInput } from '../../pipeline/inputs.ts';
import { fgAColumns } from '../../transforms/columns.ts';
import { datasetName, openCommon, withCommonOptions, type CommonArgs } from '../common.ts';
import { withSelection } from './build.ts';

interface ExportArgs extends CommonArgs {
  what: string;
  out: string;
  date?: string;
  batch?: string;
  from?: string;
  to?: string;
}

export const exportCommand: CommandModule<object, ExportArgs> = {
  command: 'export <what>',
  describe: 'export the wide, model-ready FG-A (fg-a-wide) to a Parquet file',
  builder: (y) =>
    withCommonOptions(withSelection(y))
      .positional('what', { type: 'string', describe: 'fg-a-wide', demandOption: true })
      .option('out', { type: 'string', demandOption: true, describe: 'output Parquet file' }) as unknown as Argv<ExportArgs>,
  handler: async (args) => {
    datasetName(args.what, ['fg_a_wide'] as const);
    const batches = selectBatches(args);
    const out = resolve(args.out);
    // Checked before any work: the file is written beside its target, so its directory must exist.
    if (!statSync(dirname(out), { throwIfNoEntry: false })?.isDirectory())
      throw new ConfigError(`export: cannot write --out ${args.out}: directory ${dirname(out)} does not exist`);
    const opened = await openCommon(args);
    const ctx = await openRunContext(opened);
    try {
      const fgA = await loadBatchInput(ctx, 'fg_a', batches[0].start, batches.at(-1)!.start + 1);
      if (!fgA.manifests.length) throw new InputNotReadyError(`input not ready: no committed fg_a partitions for the selection; run ndr-sql build fg-a first`);
      await registerInput(ctx, 'fg_a_in', fgA.manifests, fgAColumns(ctx.specs));
      await materialize(ctx.session, ctx.specs.version, 'fg_a_wide', 'out_fg_a_wide');
      // Written beside the target, then renamed: a reader never sees a half-written file.
      const tmp = `${out}.tmp-${ctx.runId}`;
      // COPY answers with the number of rows it wrote.
      const { Count: rows } = await ctx.session.one<{ Count: number }>(inline(sql`COPY out_fg_a_wide TO ${lit(tmp)} (FORMAT parquet, COMPRESSION zstd)`));
      await rename(tmp, out);
      ctx.log.info('exported', { dataset: 'fg_a_wide', rows, file: out, missing_partitions: fgA.missing.length });
    } finally {
      ctx.session.close();
    }
  },
};
