/** Partition paths of the warehouse layout (ARCHITECTURE.md Storage, FEATURES.md §0 and §6.6). */
import { formatBatch, type Batch } from '../engine/batches.ts';

export function batchPartition(dataset: string, version: string, batch: Batch, horizon?: string): string {
  const { dt, hh, mm } = formatBatch(batch);
  const h = horizon ? `baseline_horizon=${horizon}/` : '';
  return `${dataset}/feature_spec_version=${version}/${h}dt=${dt}/hh=${hh}/mm=${mm}`;
}

export function baselinePartition(table: string, version: string, horizon: string, referenceDate: string): string {
  return `fg_b/${table}/feature_spec_version=${version}/baseline_horizon=${horizon}/reference_date=${referenceDate}`;
}

/** Parse `k=v` segments of a partition path into an object. */
export function partitionValues(partition: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const seg of partition.split('/')) {
    const i = seg.indexOf('=');
    if (i > 0) out[seg.slice(0, i)] = seg.slice(i + 1);
  }
  return out;
}
