/** `ndr-sql golden check|update [--case NAME]`: golden files over fixture input. */
import { join } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { EXIT } from '../../errors/index.ts';
import { loadGoldenCases } from '../../golden/cases.ts';
import { runGoldenCase } from '../../golden/compare.ts';
import { openCommon, withCommonOptions, type CommonArgs } from '../common.ts';

interface GoldenArgs extends CommonArgs {
  action: 'check' | 'update';
  case?: string;
  dir: string;
}

export const goldenCommand: CommandModule<object, GoldenArgs> = {
  command: 'golden <action>',
  describe: 'compare fixture builds with golden files (check), or rewrite them (update: review the diff!)',
  builder: (y) =>
    withCommonOptions(y)
      .positional('action', { choices: ['check', 'update'] as const, demandOption: true })
      .option('case', { type: 'string', describe: 'only this case' })
      .option('dir', { type: 'string', default: join('fixtures', 'golden'), describe: 'golden cases directory' }) as unknown as Argv<GoldenArgs>,
  handler: async (args) => {
    const { specs, runtime, log } = await openCommon(args);
    const cases = await loadGoldenCases(args.dir, args.case);
    let failed = 0;
    for (const c of cases) {
      const mismatches = await runGoldenCase(c, { specs, runtime, log }, args.action);
      if (args.action === 'update') log.info('golden_updated', { case: c.name, msg: 'review with git diff before committing' });
      else if (mismatches.length) {
        failed++;
        for (const m of mismatches) log.error('golden_mismatch', { case: c.name, dataset: m.dataset, msg: m.detail });
      } else log.info('golden_ok', { case: c.name, datasets: Object.keys(c.datasets).join(',') });
    }
    if (failed) process.exitCode = EXIT.failure;
  },
};
