/**
 * Is a committed partition up to date? Yes when the same templates, the same
 * JobSpecs and the same input fingerprints would produce it again.
 */
import type { Manifest, ManifestInput } from '../storage/manifest.ts';
import type { TemplateRef } from '../engine/execute.ts';

export type PartitionState = 'missing' | 'stale' | 'up_to_date';

export interface Expected {
  templates: TemplateRef[];
  jobspecSha256: string;
  inputs: ManifestInput[];
}

const inputKey = (i: ManifestInput) => `${i.dataset}|${i.partition}|${i.fingerprint}`;
const sameSet = (a: string[], b: string[]) => a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');

export function partitionState(manifest: Manifest | undefined, expected: Expected): PartitionState {
  if (!manifest) return 'missing';
  const sameTemplates = sameSet(
    manifest.template.map((t) => `${t.name}:${t.sha256}`),
    expected.templates.map((t) => `${t.name}:${t.sha256}`),
  );
  const sameInputs = sameSet(manifest.inputs.map(inputKey), expected.inputs.map(inputKey));
  return sameTemplates && sameInputs && manifest.jobspec_sha256 === expected.jobspecSha256 ? 'up_to_date' : 'stale';
}

/** The fingerprint of an upstream partition is its manifest's run id: a rerun changes it. */
export const upstreamInput = (m: Manifest): ManifestInput => ({ dataset: m.dataset, partition: m.partition, fingerprint: m.run_id });
