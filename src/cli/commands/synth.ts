/** `ndr-sql synth --hosts N --days D --start YYYY-MM-DD --seed S --out DIR [--format parquet|ndjson]` */
import type { Argv, CommandModule } from 'yargs';
import { UsageError } from '../../errors/index.ts';
import { synthesize } from '../../synth/index.ts';

interface SynthArgs {
  hosts: number;
  days: number;
  start: string;
  seed: number;
  out: string;
  format: 'parquet' | 'ndjson';
  eventsPerHost?: number;
}

export const synthCommand: CommandModule<object, SynthArgs> = {
  command: 'synth',
  describe: 'generate synthetic enterprise traffic with injected attacks on the last day',
  builder: (y) =>
    y
      .option('hosts', { type: 'number', default: 60 })
      .option('days', { type: 'number', default: 10 })
      .option('start', { type: 'string', demandOption: true, describe: 'first day (UTC), YYYY-MM-DD' })
      .option('seed', { type: 'number', default: 1 })
      .option('out', { type: 'string', demandOption: true })
      .option('format', { choices: ['parquet', 'ndjson'] as const, default: 'parquet' as const })
      .option('events-per-host', { type: 'number', describe: 'scale knob: events per workstation per working day' }) as unknown as Argv<SynthArgs>,
  handler: async (args) => {
    try {
      const r = await synthesize({ hosts: args.hosts, days: args.days, start: args.start, seed: args.seed, out: args.out, format: args.format, eventsPerHostPerDay: args.eventsPerHost });
      process.stdout.write(
        `wrote ${r.events} events in ${r.files.length} files under ${args.out}/raw; ground truth: ${r.groundTruthFile}\n` +
          r.groundTruth.attackers.map((a) => `  ${a.kind.padEnd(17)} ${a.host_ip}`).join('\n') +
          '\n',
      );
    } catch (e) {
      if ((e as Error).message.startsWith('synth:')) throw new UsageError((e as Error).message);
      throw e;
    }
  },
};
