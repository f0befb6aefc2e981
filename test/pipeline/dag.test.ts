import { describe, expect, it } from 'vitest';
import { ConfigError, UsageError } from '../../src/errors/index.ts';
import { DAG, getStep, normalizeDataset, renderMermaid, renderText, topoOrder, validateDag, type DagStep } from '../../src/pipeline/dag.ts';

const names = (steps: DagStep[]) => steps.map((s) => s.name);
const step = (name: string, inputs: string[], extra: Partial<DagStep> = {}): DagStep => ({ name, inputs, path: 'streaming', grain: 'batch', ...extra });
const raw = step('raw', [], { source: true });

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

describe('built-in DAG', () => {
  it('validates and has the documented steps and inputs', () => {
    expect(() => validateDag(DAG)).not.toThrow();
    expect(names([...DAG])).toEqual(['raw', 'ip_info', 'delta', 'delta_peers', 'pair_counts', 'delta_peers_daily', 'fg_a', 'fg_b', 'fg_c']);
    expect(getStep('fg-a').inputs).toEqual(['delta', 'delta_peers', 'delta_peers_daily']);
    expect(getStep('fg_b')).toMatchObject({ inputs: ['fg_a', 'pair_counts'], path: 'baseline', grain: 'reference' });
    expect(getStep('FG-C').inputs).toEqual(['fg_a', 'fg_b', 'delta_peers', 'ip_info']);
    expect(getStep('delta-peers-daily')).toMatchObject({ inputs: ['delta_peers'], grain: 'day' });
    expect(getStep('raw').source).toBe(true);
    expect(normalizeDataset('delta-peers')).toBe('delta_peers');
  });

  it('topoOrder gives exactly the needed steps in dependency order', () => {
    expect(names(topoOrder(DAG, ['fg_a']))).toEqual(['delta', 'delta_peers', 'delta_peers_daily', 'fg_a']);
    expect(names(topoOrder(DAG, ['fg-b']))).toEqual(['delta', 'delta_peers', 'pair_counts', 'delta_peers_daily', 'fg_a', 'fg_b']);
    expect(names(topoOrder(DAG, ['pair_counts'], { includeSources: true }))).toEqual(['raw', 'pair_counts']);
    const all = names(topoOrder(DAG, ['fg_c']));
    expect(all).toEqual(['delta', 'delta_peers', 'pair_counts', 'delta_peers_daily', 'fg_a', 'fg_b', 'fg_c']);
    // every step comes after all of its inputs
    for (const s of DAG) for (const i of s.inputs) if (all.includes(s.name) && all.includes(i)) expect(all.indexOf(i)).toBeLessThan(all.indexOf(s.name));
    // several targets: union without duplicates
    expect(names(topoOrder(DAG, ['delta', 'pair_counts', 'delta']))).toEqual(['delta', 'pair_counts']);
  });

  it('topoOrder rejects an unknown target as a usage error listing the datasets', () => {
    const e = errorOf(() => topoOrder(DAG, ['fg_z']));
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toContain('"fg_z"');
    expect(e.message).toContain('fg_c');
  });

  it('renders Mermaid with every edge and text with every step', () => {
    const m = renderMermaid(DAG);
    expect(m.startsWith('flowchart LR\n')).toBe(true);
    for (const s of DAG) for (const i of s.inputs) expect(m).toContain(`  ${i} --> ${s.name}\n`);
    expect(m.match(/-->/g)).toHaveLength(DAG.reduce((n, s) => n + s.inputs.length, 0));
    expect(m).toContain('subgraph baseline');
    expect(m).toContain('raw[("raw")]');
    const t = renderText(DAG);
    expect(t).toMatch(/^fg_b\s+\[baseline, per reference date\]\s+<- fg_a, pair_counts$/m);
    expect(t).toMatch(/^fg_c\s+\[streaming, per batch\]\s+<- fg_a, fg_b, delta_peers, ip_info$/m);
    expect(t).toMatch(/^raw\s+\[source\]$/m);
  });
});

describe('validateDag (seed bug class 6)', () => {
  it('rejects an undefined input, naming the step and the input', () => {
    // the seed bug: a streaming pipeline wired to an fg_c step that was never defined
    const steps = [raw, step('delta', ['raw']), step('fg_a', ['delta', 'delta_peers'])];
    const e = errorOf(() => validateDag(steps));
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.message).toBe(
      'pipeline DAG: step "fg_a" reads input "delta_peers", which is neither produced by an upstream step nor a source (sources: raw)',
    );
  });

  it('rejects a cycle, naming the cycle path', () => {
    const steps = [raw, step('a', ['raw', 'c']), step('b', ['a']), step('c', ['b'])];
    const e = errorOf(() => validateDag(steps));
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.message).toBe('pipeline DAG: cycle a -> b -> c -> a');
  });

  it('rejects a self-loop', () => {
    expect(() => validateDag([raw, step('a', ['raw', 'a'])])).toThrow('pipeline DAG: cycle a -> a');
  });

  it('rejects a duplicate step, a source with inputs, a non-source without inputs and a bad grain', () => {
    expect(() => validateDag([raw, step('delta', ['raw']), step('delta', ['raw'])])).toThrow('pipeline DAG: duplicate step "delta"');
    expect(() => validateDag([step('raw', ['x'], { source: true })])).toThrow('source step "raw" must not have inputs');
    expect(() => validateDag([raw, step('orphan', [])])).toThrow('step "orphan" has no inputs and is not a source');
    expect(() => validateDag([raw, step('d', ['raw'], { grain: 'hour' as never })])).toThrow('step "d" has invalid grain "hour"');
  });

  it('the built-in DAG with one input removed or a back edge added fails', () => {
    const noDaily = DAG.filter((s) => s.name !== 'delta_peers_daily');
    expect(() => validateDag(noDaily)).toThrow('step "fg_a" reads input "delta_peers_daily"');
    const backEdge = DAG.map((s) => (s.name === 'delta' ? { ...s, inputs: ['raw', 'fg_c'] } : s));
    expect(() => validateDag(backEdge)).toThrow(/cycle (delta -> fg_a -> fg_c -> delta|delta -> fg_a -> fg_b -> fg_c -> delta)/);
  });
});
