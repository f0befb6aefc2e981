/** Every CLI command, in the order `--help` lists them. */
import type { CommandModule } from 'yargs';
import { buildCommand } from './build.ts';
import { exportCommand } from './export.ts';
import { goldenCommand } from './golden.ts';
import { planCommand } from './plan.ts';
import { jobspecCommand } from './jobspec.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: CommandModule<any, any>[] = [buildCommand, planCommand, exportCommand, goldenCommand, jobspecCommand];
