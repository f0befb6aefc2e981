/**
 * The pipeline DAG, declared in code (ARCHITECTURE.md principle 4).
 *
 * Each step produces the dataset of the same name from its input datasets.
 * Source steps (`raw`, `ip_info`) are external: they are read, never built.
 * The built-in DAG is validated when this module loads, so a DAG with an
 * undefined input, a cycle or a duplicate step cannot ship (seed bug class 6).
 */
import { ConfigError, UsageError } from '../errors/index.ts';

export type StepPath = 'streaming' | 'baseline';
/** batch: one 15-minute batch; day: one UTC day; reference: one baseline reference date. */
export type StepGrain = 'batch' | 'day' | 'reference';

export interface DagStep {
  /** Step name = the dataset it produces (snake_case). */
  readonly name: string;
  /** Dataset names this step reads. */
  readonly inputs: readonly string[];
  readonly path: StepPath;
  readonly grain: StepGrain;
  /** External input: read, never built; has no inputs. */
  readonly source?: boolean;
  readonly description?: string;
}

const PATHS: readonly StepPath[] = ['streaming', 'baseline'];
const GRAINS: readonly StepGrain[] = ['batch', 'day', 'reference'];

export const DAG: readonly DagStep[] = Object.freeze([
  { name: 'raw', inputs: [], path: 'streaming', grain: 'batch', source: true, description: 'raw traffic logs (project_parameters.raw_input)' },
  { name: 'ip_info', inputs: [], path: 'streaming', grain: 'day', source: true, description: 'segment mapping and host inventory (project_parameters)' },
  { name: 'delta', inputs: ['raw'], path: 'streaming', grain: 'batch', description: 'per host/role batch aggregates' },
  { name: 'delta_peers', inputs: ['raw'], path: 'streaming', grain: 'batch', description: 'per host/role/peer batch aggregates' },
  { name: 'pair_counts', inputs: ['raw'], path: 'streaming', grain: 'batch', description: 'src/dst/port session counts' },
  { name: 'delta_peers_daily', inputs: ['delta_peers'], path: 'streaming', grain: 'day', description: 'daily compaction of delta_peers for the novelty look-back' },
  { name: 'fg_a', inputs: ['delta', 'delta_peers', 'delta_peers_daily'], path: 'streaming', grain: 'batch', description: 'windowed host features' },
  { name: 'fg_b', inputs: ['fg_a', 'pair_counts'], path: 'baseline', grain: 'reference', description: 'baselines over the horizons, per reference date' },
  { name: 'fg_c', inputs: ['fg_a', 'fg_b', 'delta_peers', 'ip_info'], path: 'streaming', grain: 'batch', description: 'features scored against the baselines' },
] satisfies DagStep[]);

/** `fg-c` and `fg_c`, `delta-peers` and `delta_peers` are the same dataset. */
export const normalizeDataset = (name: string) => name.trim().toLowerCase().replace(/-/g, '_');

/**
 * Throws ConfigError for: a duplicate step, a bad path/grain, a source with
 * inputs, an input that is not produced by any step (nor a source), a cycle.
 */
export function validateDag(steps: readonly DagStep[]): void {
  const byName = new Map<string, DagStep>();
  for (const s of steps) {
    if (!s.name || !/^[a-z][a-z0-9_]*$/.test(s.name)) throw new ConfigError(`pipeline DAG: invalid step name ${JSON.stringify(s.name)}`);
    if (byName.has(s.name)) throw new ConfigError(`pipeline DAG: duplicate step "${s.name}"`);
    if (!PATHS.includes(s.path)) throw new ConfigError(`pipeline DAG: step "${s.name}" has invalid path ${JSON.stringify(s.path)} (expected ${PATHS.join(' | ')})`);
    if (!GRAINS.includes(s.grain)) throw new ConfigError(`pipeline DAG: step "${s.name}" has invalid grain ${JSON.stringify(s.grain)} (expected ${GRAINS.join(' | ')})`);
    if (s.source && s.inputs.length) throw new ConfigError(`pipeline DAG: source step "${s.name}" must not have inputs (has ${s.inputs.join(', ')})`);
    if (!s.source && s.inputs.length === 0) throw new ConfigError(`pipeline DAG: step "${s.name}" has no inputs and is not a source`);
    byName.set(s.name, s);
  }
  const sources = steps.filter((s) => s.source).map((s) => s.name);
  for (const s of steps) {
    const seen = new Set<string>();
    for (const input of s.inputs) {
      if (seen.has(input)) throw new ConfigError(`pipeline DAG: step "${s.name}" lists input "${input}" twice`);
      seen.add(input);
      if (!byName.has(input)) {
        throw new ConfigError(
          `pipeline DAG: step "${s.name}" reads input "${input}", which is neither produced by an upstream step nor a source` +
            (sources.length ? ` (sources: ${sources.join(', ')})` : ''),
        );
      }
    }
  }
  const cycle = findCycle(steps, byName);
  if (cycle) throw new ConfigError(`pipeline DAG: cycle ${cycle.join(' -> ')}`);
}

/** A cycle as a path from a step back to itself, following input -> consumer edges; undefined if acyclic. */
function findCycle(steps: readonly DagStep[], byName: Map<string, DagStep>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (name: string): string[] | undefined => {
    const st = state.get(name);
    if (st === 'done') return undefined;
    if (st === 'visiting') {
      // stack holds the chain of consumers -> inputs; print it in data-flow order
      const loop = stack.slice(stack.indexOf(name));
      return [...loop, name].reverse();
    }
    state.set(name, 'visiting');
    stack.push(name);
    for (const input of byName.get(name)?.inputs ?? []) {
      const found = visit(input);
      if (found) return found;
    }
    stack.pop();
    state.set(name, 'done');
    return undefined;
  };
  for (const s of steps) {
    const found = visit(s.name);
    if (found) return found;
  }
  return undefined;
}

/**
 * The steps needed to build `targets` (the targets and all their ancestors),
 * in dependency order; ties keep declaration order. Sources are omitted unless
 * `includeSources`. Unknown targets are a UsageError listing the known ones.
 */
export function topoOrder(steps: readonly DagStep[], targets: readonly string[], opts: { includeSources?: boolean } = {}): DagStep[] {
  const byName = new Map(steps.map((s) => [s.name, s]));
  const needed = new Set<string>();
  const add = (name: string) => {
    if (needed.has(name)) return;
    needed.add(name);
    for (const i of byName.get(name)?.inputs ?? []) add(i);
  };
  for (const t of targets) {
    const name = normalizeDataset(t);
    if (!byName.has(name)) throw new UsageError(`unknown dataset ${JSON.stringify(t)}; known: ${steps.filter((s) => !s.source).map((s) => s.name).join(', ')}`);
    add(name);
  }
  // Kahn's algorithm over the needed sub-graph, picking the earliest-declared ready step.
  const out: DagStep[] = [];
  const done = new Set<string>();
  const pending = steps.filter((s) => needed.has(s.name));
  while (pending.length) {
    const i = pending.findIndex((s) => s.inputs.every((x) => done.has(x)));
    if (i < 0) throw new ConfigError(`pipeline DAG: cycle among ${pending.map((s) => s.name).join(', ')}`);
    const [s] = pending.splice(i, 1);
    done.add(s.name);
    if (opts.includeSources || !s.source) out.push(s);
  }
  return out;
}

/** Steps that read `name` directly. */
export const consumersOf = (steps: readonly DagStep[], name: string) => steps.filter((s) => s.inputs.includes(normalizeDataset(name)));

export function getStep(name: string, steps: readonly DagStep[] = DAG): DagStep {
  const s = steps.find((x) => x.name === normalizeDataset(name));
  if (!s) throw new UsageError(`unknown dataset ${JSON.stringify(name)}; known: ${steps.filter((x) => !x.source).map((x) => x.name).join(', ')}`);
  return s;
}

const GRAIN_LABEL: Record<StepGrain, string> = { batch: 'per batch', day: 'per day', reference: 'per reference date' };

/** Mermaid flowchart: one subgraph per path, sources as cylinders, edges input --> step. */
export function renderMermaid(steps: readonly DagStep[] = DAG): string {
  const order = topoOrder(steps, steps.map((s) => s.name), { includeSources: true });
  const lines = ['flowchart LR'];
  const node = (s: DagStep) => (s.source ? `${s.name}[("${s.name}")]` : `${s.name}["${s.name}<br/>${GRAIN_LABEL[s.grain]}"]`);
  const sources = order.filter((s) => s.source);
  if (sources.length) {
    lines.push('  subgraph sources');
    for (const s of sources) lines.push(`    ${node(s)}`);
    lines.push('  end');
  }
  for (const p of PATHS) {
    const members = order.filter((s) => !s.source && s.path === p);
    if (!members.length) continue;
    lines.push(`  subgraph ${p}`);
    for (const s of members) lines.push(`    ${node(s)}`);
    lines.push('  end');
  }
  for (const s of order) for (const i of s.inputs) lines.push(`  ${i} --> ${s.name}`);
  return lines.join('\n') + '\n';
}

/** Plain text, in dependency order: `name  [path, grain]  <- inputs`. */
export function renderText(steps: readonly DagStep[] = DAG): string {
  const order = topoOrder(steps, steps.map((s) => s.name), { includeSources: true });
  const w = Math.max(...order.map((s) => s.name.length));
  const lines: string[] = [];
  for (const s of order) {
    const tag = s.source ? 'source' : `${s.path}, ${GRAIN_LABEL[s.grain]}`;
    const from = s.source ? '' : `  <- ${s.inputs.join(', ')}`;
    lines.push(`${s.name.padEnd(w)}  [${tag}]${from}`);
  }
  return lines.join('\n') + '\n';
}

validateDag(DAG);
