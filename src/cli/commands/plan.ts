/**
 * `ndr-sql plan build <dataset> ...` / `plan run nightly --date D` / `plan --graph mermaid|text`:
 * what would run and why (missing, stale, up to date, no input), with no writes.
 */
import type { Argv, CommandModule } from 'yargs';
import { UsageError } from '../../errors/index.ts';
import { openRunContext } from '../../pipeline/context.ts';
import type { PlanEntry, StepResult } from '../../pipeline/build.ts';
import '../../pipeline/builders.ts';
import { DAG, renderMermaid, renderText } from '../../pipeline/dag.ts';
import { openCommon, withCommonOptions } from '../common.ts';
import { buildTarget, runTarget, withSelection, type BuildFlags } from './build.ts';

interface PlanArgs extends BuildFlags {
  verb?: string;
  target?: string;
  graph?: 'mermaid' | 'text';
  verbose?: boolean;
}

export const planCommand: CommandModule<object, PlanArgs> = {
  command: 'plan [verb] [target]',
  describe: 'show what `build`/`run` would do and why, or the DAG (--graph); writes nothing',
  builder: (y) =>
    withCommonOptions(withSelection(y))
      .positional('verb', { choices: ['build', 'run'] as const })
      .positional('target', { type: 'string', describe: 'a dataset (build) or nightly|streaming (run)' })
      .option('graph', { choices: ['mermaid', 'text'] as const, describe: 'print the pipeline DAG' })
      .option('reference', { type: 'string' })
      .option('upstream', { type: 'boolean' })
      .option('force', { type: 'boolean' })
      .option('allow-missing-baseline', { type: 'boolean' })
      .option('verbose', { type: 'boolean', describe: 'list every partition' }) as unknown as Argv<PlanArgs>,
  handler: async (args) => {
    if (args.graph) {
      process.stdout.write((args.graph === 'mermaid' ? renderMermaid(DAG) : renderText(DAG)) + '\n');
      return;
    }
    if (!args.verb || !args.target) throw new UsageError('plan needs `build <dataset>` or `run nightly|streaming`, or --graph');
    const opened = await openCommon(args);
    const ctx = await openRunContext({ ...opened, force: args.force, dryRun: true });
    // Later steps plan against what earlier ones would write (an empty warehouse plans FG-A and FG-C as missing).
    ctx.plannedPartitions = new Map();
    try {
      let steps: StepResult[];
      if (args.verb === 'build') {
        steps = await runTarget(ctx, buildTarget(args.target, args), args.allowMissingBaseline);
      } else {
        const { planNightly } = await import('../../pipeline/nightly.ts');
        steps = await planNightly(ctx, args);
      }
      process.stdout.write(renderPlan(steps, Boolean(args.verbose)) + '\n');
    } finally {
      ctx.session.close();
    }
  },
};

const STATES: PlanEntry['state'][] = ['missing', 'stale', 'up_to_date', 'no_input'];
const STATE_WEIGHT: Record<PlanEntry['state'], number> = { missing: 3, stale: 3, no_input: 2, up_to_date: 1 };

export function renderPlan(steps: StepResult[], verbose: boolean): string {
  // Steps run in chunks (per day, per FG-C pass): one line per dataset, in first-seen order.
  // A partition planned by several steps (a look-back day for each day after it) counts once,
  // in the state that decides what the build does with it.
  const byDataset = new Map<string, Map<string, PlanEntry>>();
  for (const step of steps) {
    const entries = byDataset.get(step.dataset) ?? byDataset.set(step.dataset, new Map()).get(step.dataset)!;
    for (const e of step.planned ?? []) {
      const seen = entries.get(e.partition);
      if (!seen || STATE_WEIGHT[e.state] > STATE_WEIGHT[seen.state]) entries.set(e.partition, e);
    }
  }
  const width = Math.max(22, ...[...byDataset.keys()].map((d) => d.length + 2));
  const lines = [`${'step'.padEnd(width)}${STATES.map((s) => s.padStart(12)).join('')}`];
  for (const [dataset, entries] of byDataset) {
    const planned = [...entries.values()];
    const counts = STATES.map((s) => String(planned.filter((p) => p.state === s).length).padStart(12));
    lines.push(`${dataset.padEnd(width)}${counts.join('')}`);
    if (verbose) for (const p of planned) lines.push(`  ${p.state.padEnd(11)} ${p.partition}${p.reason ? `  (${p.reason})` : ''}`);
  }
  lines.push('', 'missing/stale partitions would be built; no_input: their input does not exist and no step of this plan builds it (a gap, or --upstream left out).');
  return lines.join('\n');
}
