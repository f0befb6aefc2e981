/** Every CLI command, in the order `--help` lists them. */
import type { CommandModule } from 'yargs';
import { buildCommand } from './build.ts';
import { exportCommand } from './export.ts';
import { goldenCommand } from './golden.ts';
import { planCommand } from './plan.ts';
import { jobspecCommand } from './jobspec.ts';
import { topCommand } from './top.ts';
import { synthCommand } from './synth.ts';
import { demoCommand } from './demo.ts';
import { publishCommand } from './publish.ts';
import { runCommand } from './run.ts';
import { statusCommand } from './status.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: CommandModule<any, any>[] = [demoCommand, buildCommand, runCommand, statusCommand, planCommand, topCommand, exportCommand, publishCommand, goldenCommand, jobspecCommand, synthCommand];
