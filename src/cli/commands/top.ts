/** `ndr-sql top --date D [--limit 20] [--horizon 7d] [--format table|json|csv]` */
import type { Argv, CommandModule } from 'yargs';
import { UsageError } from '../../errors/index.ts';
import { parseDay } from '../../engine/batches.ts';
import { openRunContext } from '../../pipeline/context.ts';
import { renderTop, topHosts } from '../../report/top.ts';
import { openCommon, withCommonOptions, type CommonArgs } from '../common.ts';

interface TopArgs extends CommonArgs {
  date: string;
  limit: number;
  horizon: string;
  format: 'table' | 'json' | 'csv';
}

export const topCommand: CommandModule<object, TopArgs> = {
  command: 'top',
  describe: "the day's most anomalous hosts, with the metrics that explain them",
  builder: (y) =>
    withCommonOptions(y)
      .option('date', { type: 'string', demandOption: true, describe: 'UTC day (YYYY-MM-DD, yesterday, today)' })
      .option('limit', { type: 'number', default: 20 })
      .option('horizon', { type: 'string', default: '7d' })
      .option('format', { choices: ['table', 'json', 'csv'] as const, default: 'table' as const })
      .check((a) => {
        if (!(Number.isInteger(a.limit) && a.limit >= 1)) throw new UsageError(`--limit must be a whole number of hosts >= 1, got ${a.limit}`);
        return true;
      }) as unknown as Argv<TopArgs>,
  handler: async (args) => {
    const ctx = await openRunContext(await openCommon(args));
    try {
      const rows = await topHosts(ctx, parseDay(args.date), args.horizon, args.limit);
      process.stdout.write(renderTop(rows, args.format) + '\n');
    } finally {
      ctx.session.close();
    }
  },
};
