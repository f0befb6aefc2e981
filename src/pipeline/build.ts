/**
 * `ndr-sql build <dataset>`: one dataset for a set of batches, optionally
 * building what it needs first (--upstream). Every step is set-based over
 * the whole selection.
 */
import { UsageError } from '../errors/index.ts';
import type { Batch } from '../engine/batches.ts';
import type { Manifest } from '../storage/manifest.ts';
import type { RunContext } from './context.ts';
import { buildFromRaw, RAW_DATASETS, type RawDataset } from './build-raw.ts';

export const BUILDABLE = ['delta', 'delta_peers', 'pair_counts', 'delta_peers_daily', 'fg_a', 'fg_b', 'fg_c'] as const;
export type Buildable = (typeof BUILDABLE)[number];

export interface PlanEntry {
  partition: string;
  state: 'missing' | 'stale' | 'up_to_date' | 'no_input';
  /** Why a stale partition would be rebuilt (what changed since its manifest, or --force). */
  reason?: string;
}

export interface StepResult {
  dataset: string;
  committed: Manifest[];
  skipped: string[];
  missing: Batch[];
  seconds: number;
  /** Filled in dry runs (`ndr-sql plan`): what would be built and why. */
  planned?: PlanEntry[];
}

export interface BuildOptions {
  upstream: boolean;
  allowMissingBaseline?: boolean;
  referenceMs?: number;
}

type Builder = (ctx: RunContext, batches: Batch[], opts: BuildOptions) => Promise<StepResult[]>;

const builders = new Map<Buildable, Builder>();

export function registerBuilder(dataset: Buildable, builder: Builder) {
  builders.set(dataset, builder);
}

export async function timed(dataset: string, fn: () => Promise<Omit<StepResult, 'dataset' | 'seconds'>>): Promise<StepResult> {
  const t0 = Date.now();
  const r = await fn();
  return { dataset, ...r, seconds: (Date.now() - t0) / 1000 };
}

for (const ds of RAW_DATASETS) {
  registerBuilder(ds, async (ctx, batches) => [await timed(ds, () => buildFromRaw(ctx, [ds as RawDataset], batches))]);
}

/** Raw datasets built together share one read of the raw input. */
export async function buildRawStage(ctx: RunContext, batches: Batch[], datasets: RawDataset[] = [...RAW_DATASETS]): Promise<StepResult> {
  return timed(datasets.join('+'), () => buildFromRaw(ctx, datasets, batches));
}

export async function build(ctx: RunContext, dataset: Buildable, batches: Batch[], opts: BuildOptions): Promise<StepResult[]> {
  const builder = builders.get(dataset);
  if (!builder) throw new UsageError(`building ${dataset} is not supported`);
  return builder(ctx, batches, opts);
}
