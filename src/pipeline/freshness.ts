/**
 * Is a committed partition up to date? Yes when the same templates, the same
 * JobSpecs and the same input fingerprints would produce it again.
 */
import type { Manifest, ManifestInput } from '../storage/manifest.ts';
import type { TemplateRef } from '../engine/execute.ts';
import type { PlanEntry } from './build.ts';

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

/** A partition's plan entry: its state and, when it would be rebuilt over a manifest, why. */
export function planEntry(partition: string, manifest: Manifest | undefined, expected: Expected, force: boolean): PlanEntry {
  const state = partitionState(manifest, expected);
  if (state === 'stale') return { partition, state, reason: staleReason(manifest!, expected) };
  if (state === 'up_to_date' && force) return { partition, state: 'stale', reason: '--force' };
  return { partition, state };
}

/** What differs between a manifest and what a build would record now (`plan --verbose`). */
export function staleReason(manifest: Manifest, expected: Expected): string {
  const reasons: string[] = [];
  const was = new Map(manifest.template.map((t) => [t.name, t.sha256]));
  const now = new Map(expected.templates.map((t) => [t.name, t.sha256]));
  const changed = [...now].filter(([n, sha]) => was.has(n) && was.get(n) !== sha).map(([n]) => n);
  const added = [...now.keys()].filter((n) => !was.has(n));
  const dropped = [...was.keys()].filter((n) => !now.has(n));
  if (changed.length) reasons.push(`template ${changed.join(', ')} changed`);
  if (added.length) reasons.push(`template ${added.join(', ')} added`);
  if (dropped.length) reasons.push(`template ${dropped.join(', ')} no longer used`);
  if (manifest.jobspec_sha256 !== expected.jobspecSha256) reasons.push('JobSpecs (or --internal-networks) changed');
  const before = new Map(manifest.inputs.map((i) => [`${i.dataset} ${i.partition}`, i.fingerprint]));
  const after = new Map(expected.inputs.map((i) => [`${i.dataset} ${i.partition}`, i.fingerprint]));
  const inputs = {
    changed: [...after].filter(([k, fp]) => before.has(k) && before.get(k) !== fp).map(([k]) => k),
    new: [...after.keys()].filter((k) => !before.has(k)),
    gone: [...before.keys()].filter((k) => !after.has(k)),
  };
  for (const [what, keys] of Object.entries(inputs))
    if (keys.length) reasons.push(`${keys.length} input${keys.length > 1 ? 's' : ''} ${what} (${keys[0]}${keys.length > 1 ? ', ...' : ''})`);
  return reasons.join('; ');
}

/** The fingerprint of an upstream partition is its manifest's run id: a rerun changes it. */
export const upstreamInput = (m: Manifest): ManifestInput => ({ dataset: m.dataset, partition: m.partition, fingerprint: m.run_id });
