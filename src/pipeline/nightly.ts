/** Nightly orchestration (placeholder until wired): see run command. */
import type { RunContext } from './context.ts';
import type { StepResult } from './build.ts';

export async function planNightly(_ctx: RunContext, _args: { date?: string }): Promise<StepResult[]> {
  return [];
}
