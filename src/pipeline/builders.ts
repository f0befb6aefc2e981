/**
 * Registers the builders of the derived datasets with `build` (imported for
 * its side effect), including what `--upstream` builds first.
 */
import { registerBuilder, buildRawStage, type StepResult } from './build.ts';
import { buildFgA } from './build-fg-a.ts';

registerBuilder('fg_a', async (ctx, batches, opts) => {
  const steps: StepResult[] = [];
  if (opts.upstream) steps.push(await buildRawStage(ctx, batches));
  return [...steps, ...(await buildFgA(ctx, batches))];
});
