/**
 * Reading upstream datasets: which partitions a step needs, their manifests,
 * and a compact fingerprint of them for freshness checks.
 */
import { createHash } from 'node:crypto';
import { BATCH_MS, DAY_MS, batchesInRange, isoZ, type Batch } from '../engine/batches.ts';
import { registerInputView } from '../engine/execute.ts';
import type { Manifest, ManifestInput } from '../storage/manifest.ts';
import { batchPartition, partitionValues } from '../storage/layout.ts';
import type { Column } from '../transforms/columns.ts';
import type { PlanEntry } from './build.ts';
import type { RunContext } from './context.ts';

export interface LoadedInput {
  dataset: string;
  manifests: Manifest[];
  /** Partitions that were expected but are not committed (gaps upstream). */
  missing: string[];
}

/** Manifests of a per-batch dataset for batches with start in [fromMs, toMs). */
export async function loadBatchInput(ctx: RunContext, dataset: string, fromMs: number, toMs: number): Promise<LoadedInput> {
  const parts = batchesInRange(fromMs, toMs).map((b) => batchPartition(dataset, ctx.specs.version, b));
  const found = await ctx.warehouse.readManifests(parts);
  // In a plan, what an earlier step would (re)write stands in for what is there now.
  for (const p of parts) if (ctx.plannedPartitions?.has(p)) found.set(p, ctx.plannedPartitions.get(p)!);
  return { dataset, manifests: parts.flatMap((p) => (found.has(p) ? [found.get(p)!] : [])), missing: parts.filter((p) => !found.has(p)) };
}

/**
 * In `ndr-sql plan`, remember the partitions a step would build (missing or stale) for the
 * steps after it; see RunContext.plannedPartitions. A no-op outside `plan`.
 */
export function notePlanned(ctx: RunContext, entries: PlanEntry[]): void {
  if (!ctx.plannedPartitions) return;
  for (const e of entries) if (e.state === 'missing' || e.state === 'stale') ctx.plannedPartitions.set(e.partition, standIn(ctx, e.partition));
}

/** A manifest for a partition that does not exist yet: its path, its values, no rows. */
function standIn(ctx: RunContext, partition: string): Manifest {
  const segments = partition.split('/');
  return {
    dataset: segments.slice(0, segments.findIndex((x) => x.includes('='))).join('/'),
    partition,
    partition_values: partitionValues(partition),
    feature_spec_version: ctx.specs.version,
    run_id: 'planned',
    created_at: '',
    files: [],
    row_count: 0,
    columns: [],
    template: [],
    jobspec_sha256: '',
    inputs: [],
    dq: {},
    missing_optional_fields: [],
    engine: ctx.engine,
    timings_ms: {},
  };
}

export const dailyPartition = (dataset: string, version: string, dayMs: number) =>
  `${dataset}/feature_spec_version=${version}/dt=${isoZ(dayMs).slice(0, 10)}`;

/**
 * One ManifestInput standing for many partitions: their paths and run ids
 * hashed together, so that a manifest stays small yet any upstream rerun
 * makes it stale.
 */
export function digestInput(dataset: string, label: string, manifests: Manifest[]): ManifestInput {
  const h = createHash('sha256');
  for (const m of [...manifests].sort((a, b) => (a.partition < b.partition ? -1 : 1))) h.update(`${m.partition}@${m.run_id}\n`);
  return { dataset, partition: `${label} (${manifests.length} partitions)`, fingerprint: h.digest('hex') };
}

export async function registerInput(ctx: RunContext, view: string, manifests: Manifest[], columns: Column[]) {
  await registerInputView(ctx.session, ctx.warehouse, view, manifests, columns);
}

export const manifestsWithin = (input: LoadedInput, fromMs: number, toMs: number) =>
  input.manifests.filter((m) => {
    const start = Date.parse(`${m.partition_values.dt}T${m.partition_values.hh}:${m.partition_values.mm}:00Z`);
    return start >= fromMs && start < toMs;
  });

export const batchOfManifest = (m: Manifest): Batch => ({
  start: Date.parse(`${m.partition_values.dt}T${m.partition_values.hh}:${m.partition_values.mm}:00Z`),
});

/** Optional raw fields missing upstream, carried into a derived dataset's manifest (sorted, once each). */
export const inheritedMissingFields = (manifests: Manifest[]): string[] =>
  [...new Set(manifests.flatMap((m) => m.missing_optional_fields ?? []))].sort();

export const floorDay = (ms: number) => Math.floor(ms / DAY_MS) * DAY_MS;
export { BATCH_MS };
