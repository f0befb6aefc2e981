/**
 * `ndr-sql demo`: synthesize an enterprise with injected attacks, build every
 * dataset with the bundled JobSpecs, and rank the attack day's hosts.
 * Needs no AWS: everything lives under ./ndr-demo.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { LocalJobSpecSource, loadJobSpecs } from '../../config/jobspec-source.ts';
import type { JobSpecs } from '../../config/jobspec-schemas.ts';
import { UsageError } from '../../errors/index.ts';
import { BUNDLED_JOBSPECS, resolveRuntime } from '../../config/runtime.ts';
import { DAY_MS, batchesOfDay, isoZ, parseDay } from '../../engine/batches.ts';
import { createLogger } from '../../log/index.ts';
import { build } from '../../pipeline/build.ts';
import '../../pipeline/builders.ts';
import { openRunContext } from '../../pipeline/context.ts';
import { renderTop, topHosts } from '../../report/top.ts';
import { LocalWarehouse } from '../../storage/local.ts';
import { synthesize, type GroundTruth } from '../../synth/index.ts';

interface DemoArgs {
  out: string;
  hosts: number;
  days: number;
  attackDay: string;
  seed: number;
  jobspecs: string;
  logFormat?: 'text' | 'json';
  debug?: boolean;
}


/**
 * A horizon whose range [T - days - tail, T - head) starts before the synthetic history
 * would be a baseline of a few days under a 30-day name: the demo skips it and says so
 * (with the default 10 days, 30d would hold 2 days; --days 38 fills it).
 */
function keepHorizonsWithHistory(specs: JobSpecs, attackDay: number, historyStart: number, say: (s: string) => void): void {
  const horizons = specs.fg_b_builder.horizons;
  for (const [name, h] of Object.entries(horizons)) {
    const rangeStart = attackDay - (h.days + h.tail) * DAY_MS;
    if (rangeStart >= historyStart) continue;
    const needed = (attackDay - rangeStart) / DAY_MS + 1;
    say(`ndr-demo: skipping the ${name} baseline: its range starts ${isoZ(rangeStart).slice(0, 10)}, before the synthetic history (--days ${needed} covers it)`);
    delete horizons[name];
  }
  if (!Object.keys(horizons).length) throw new UsageError('demo: no FG-B horizon fits in the synthetic history; raise --days');
}

/** A path as the user would type it from here: relative when under the working directory. */
function shortPath(p: string): string {
  const r = relative(process.cwd(), p);
  return r && !r.startsWith('..') && !isAbsolute(r) ? r : p;
}

/** e.g. "fg_a 41.2 s, fg_b 9.8 s": where the demo's time went, summed over its steps. */
function secondsPerDataset(steps: { dataset: string; seconds: number }[]): string {
  const total = new Map<string, number>();
  for (const s of steps) total.set(s.dataset, (total.get(s.dataset) ?? 0) + s.seconds);
  return [...total].map(([d, s]) => `${d} ${s.toFixed(1)} s`).join(', ');
}

export const demoCommand: CommandModule<object, DemoArgs> = {
  command: 'demo',
  describe: 'synthetic enterprise -> every dataset -> the attack day\'s most anomalous hosts (no AWS needed)',
  builder: (y) =>
    y
      .option('out', { type: 'string', default: 'ndr-demo' })
      .option('hosts', { type: 'number', default: 60 })
      .option('days', { type: 'number', default: 10, describe: 'days of traffic; the last one has the attacks (>= 10 fills the 7d horizon)' })
      .option('attack-day', { type: 'string', default: '2026-11-24' })
      .option('seed', { type: 'number', default: 7 })
      .option('jobspecs', { type: 'string', default: BUNDLED_JOBSPECS, describe: 'JobSpec directory with a project "demo"' })
      .option('log-format', { choices: ['text', 'json'] as const })
      .option('debug', { type: 'boolean' }) as unknown as Argv<DemoArgs>,
  handler: async (args) => {
    const t0 = Date.now();
    const out = resolve(args.out);
    const attackDay = parseDay(args.attackDay);
    const start = isoZ(attackDay - (args.days - 1) * DAY_MS).slice(0, 10);
    const say = (s: string) => process.stderr.write(s + '\n');
    say(`ndr-demo: synthesizing ${args.hosts} hosts x ${args.days} days (${start} .. ${args.attackDay}) into ${out}`);
    const synth = await synthesize({ hosts: args.hosts, days: args.days, start, seed: args.seed, out, format: 'parquet' });
    say(`ndr-demo: ${synth.events} events; building delta, delta_peers, pair_counts, fg_a, fg_b and fg_c ...`);

    const runtime = resolveRuntime({
      jobspecs: resolve(args.jobspecs),
      project: 'demo',
      warehouse: join(out, 'warehouse'),
      raw: join(out, 'raw', 'dt={dt}', 'hh={hh}', '*.parquet'),
      rawFormat: 'parquet',
      preset: 'paloalto',
      cacheDir: join(out, '.cache'),
      logFormat: args.logFormat,
      debug: args.debug,
    });
    const specs = await loadJobSpecs(new LocalJobSpecSource(runtime.jobspecs), 'demo', 'v1');
    keepHorizonsWithHistory(specs, attackDay, Date.parse(`${start}T00:00:00Z`), say);
    // The demo's own story is the table; step logs only with --debug.
    const log = createLogger({ logFormat: runtime.logFormat ?? 'text', debug: runtime.debug });
    const quiet = args.debug ? log : createLogger({ logFormat: 'json', stdout: { write: () => true } });
    const ctx = await openRunContext({ specs, runtime, warehouse: new LocalWarehouse(runtime.warehouse), log: quiet });
    try {
      const steps = await build(ctx, 'fg_c', batchesOfDay(attackDay), { upstream: true });
      const built = steps.reduce((n, s) => n + s.committed.length, 0);
      say(`ndr-demo: committed ${built} partitions in ${((Date.now() - t0) / 1000).toFixed(1)} s (${secondsPerDataset(steps)})`);
      const truth: GroundTruth = JSON.parse(readFileSync(synth.groundTruthFile, 'utf8'));
      const marks = new Map(truth.attackers.map((a) => [a.host_ip, `<= injected ${a.kind}`]));
      // FEATURES.md §7.5 ranks on 7d by default; a JobSpec directory without it ranks on its first horizon.
      const horizon = '7d' in specs.fg_b_builder.horizons ? '7d' : Object.keys(specs.fg_b_builder.horizons)[0];
      const rows = await topHosts(ctx, attackDay, horizon, 10);
      process.stdout.write(`\nTop anomalous hosts on ${args.attackDay} (horizon ${horizon}, ranked by FEATURES.md §7.5):\n\n`);
      process.stdout.write(renderTop(rows, 'table', marks) + '\n\n');
      const found = truth.attackers.filter((a) => rows.some((r) => r.host_ip === a.host_ip));
      process.stdout.write(`${found.length} of ${truth.attackers.length} injected attackers are in the top 10. Total ${((Date.now() - t0) / 1000).toFixed(1)} s.\n`);
      process.stdout.write(`Explore: ndr-sql top --date ${args.attackDay}${horizon === '7d' ? '' : ` --horizon ${horizon}`} --warehouse ${shortPath(runtime.warehouse)} --jobspecs ${shortPath(runtime.jobspecs)} --format json\n`);
      // The count is the demo's honest result, not a failure of the run: the exit code stays 0.
    } finally {
      ctx.session.close();
    }
  },
};
