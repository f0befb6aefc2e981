/**
 * `ndr-sql top`: the most anomalous hosts of a day (FEATURES.md §7.5), ranked
 * and explained by sql/<v>/top_hosts.sql; this module loads its inputs and
 * formats the result for people (table) or tools (json, csv).
 */
import { InputNotReadyError, UsageError } from '../errors/index.ts';
import { DAY_MS, isoZ } from '../engine/batches.ts';
import { materialize } from '../engine/execute.ts';
import type { RunContext } from '../pipeline/context.ts';
import { batchOfManifest, loadBatchInput, registerInput } from '../pipeline/inputs.ts';
import { baselinePartition } from '../storage/layout.ts';
import { fgAColumns, fgBColumns, fgCColumns } from '../transforms/columns.ts';
import { baselineMetrics, fgCMetrics } from '../transforms/jobspec-params.ts';

export interface Contributor {
  metric: string;
  z: number | null;
  value: number | null;
  baseline_median: number | null;
  baseline_mad: number | null;
}

export interface TopHost {
  rank: number;
  host_ip: string;
  max_strong_deviation_cnt: number;
  sum_strong_deviation_cnt: number;
  role: string;
  window_label: string;
  window_end_ts: Date;
  time_band: string;
  segment_id: string;
  strong_deviation_cnt: number;
  anomaly_score: number | null;
  anomaly_strength_core: number | null;
  beacon_suspicion_score: number | null;
  exfiltration_suspicion_score: number | null;
  lateral_movement_score: number | null;
  baseline_source: string;
  baseline_reference_date: string | null;
  top_contributors: string | null;
  contributors: Contributor[] | null;
}

export async function topHosts(ctx: RunContext, dayMs: number, horizon: string, limit: number): Promise<TopHost[]> {
  const v = ctx.specs.version;
  const inDay = (prefix: string) => loadBatchInput(ctx, prefix, dayMs, dayMs + DAY_MS);
  const partsC = await ctx.warehouse.listCommitted(`fg_c/feature_spec_version=${v}/baseline_horizon=${horizon}/dt=${isoZ(dayMs).slice(0, 10)}`);
  const fgC = [...(await ctx.warehouse.readManifests(partsC)).values()];
  if (!fgC.length) {
    const known = Object.keys(ctx.specs.fg_b_builder.horizons);
    // Building cannot help a horizon the JobSpecs do not define (a typo, or another JobSpec version).
    if (!known.includes(horizon)) throw new UsageError(`no fg_c partitions for horizon ${horizon}, which is not a horizon of the JobSpecs (${known.join(', ')})`);
    throw new InputNotReadyError(`input not ready: no fg_c partitions for ${isoZ(dayMs).slice(0, 10)} horizon ${horizon}; run ndr-sql build fg-c --date ${isoZ(dayMs).slice(0, 10)} --upstream`);
  }
  // An empty table alone would not say why: most often no address was in the host scope.
  if (fgC.every((m) => m.row_count === 0))
    ctx.log.warn('top_empty', {
      msg: `no rows in the fg_c partitions of ${isoZ(dayMs).slice(0, 10)} (horizon ${horizon}, ${fgC.length} committed): no host in scope was active; check internal_networks (--internal-networks)`,
    });
  const fgA = (await inDay('fg_a')).manifests.filter((m) => fgC.some((c) => batchOfManifest(c).start === batchOfManifest(m).start));
  const refs = [...new Set(fgC.map((m) => String(m.notes?.baseline ?? '')).filter((b) => b.startsWith(`${horizon}/`)).map((b) => b.split('/')[1]))];
  const metrics = baselineMetrics(ctx.specs);
  const baselines = async (table: 'host' | 'segment') =>
    [...(await ctx.warehouse.readManifests(refs.map((r) => baselinePartition(table, v, horizon, r)))).values()];
  await registerInput(ctx, 'fg_c_in', fgC, fgCColumns(ctx.specs, fgCMetrics(ctx.specs)));
  await registerInput(ctx, 'fg_a_in', fgA, fgAColumns(ctx.specs));
  await registerInput(ctx, 'fgb_host_in', await baselines('host'), fgBColumns('host', metrics));
  await registerInput(ctx, 'fgb_segment_in', await baselines('segment'), fgBColumns('segment', metrics));
  await materialize(ctx.session, v, 'top_hosts', 'out_top', { horizon, limit });
  return ctx.session.all<TopHost>('SELECT * FROM out_top ORDER BY rank');
}

const num = (x: number | null | undefined, digits = 2) => (x === null || x === undefined ? '-' : Number.isInteger(x) ? String(x) : x.toFixed(digits));
const hhmm = (d: Date) => d.toISOString().slice(11, 16);
/** The time band in four letters: which baseline group (working or off hours) the row was compared with. */
const band = (b: string) => (b === 'working_hours' ? 'work' : b === 'off_hours' ? 'off' : b);

function explain(c: Contributor): string {
  return `${c.metric} z=${num(c.z)} now=${num(c.value)} med=${num(c.baseline_median)} mad=${num(c.baseline_mad)}`;
}

/** The CSV's fixed columns, then metric, z, value, baseline median and MAD of up to three contributors. */
const CSV_COLUMNS = [
  'rank', 'host_ip', 'max_strong_deviation_cnt', 'sum_strong_deviation_cnt', 'role', 'window_label', 'window_end_ts', 'time_band', 'anomaly_score',
  'anomaly_strength_core', 'beacon_suspicion_score', 'exfiltration_suspicion_score', 'lateral_movement_score', 'baseline_source', 'top_contributors',
] as const;
const CONTRIBUTOR_FIELDS = ['metric', 'z', 'value', 'baseline_median', 'baseline_mad'] as const;

function renderCsv(rows: TopHost[]): string {
  const cell = (x: unknown) => (x === null || x === undefined ? '' : x instanceof Date ? x.toISOString() : typeof x === 'string' && /[",\n]/.test(x) ? `"${x.replaceAll('"', '""')}"` : String(x));
  const slots = [1, 2, 3];
  const head = [...CSV_COLUMNS, ...slots.flatMap((k) => CONTRIBUTOR_FIELDS.map((f) => `contributor_${k}_${f}`))];
  const line = (r: TopHost) => [...CSV_COLUMNS.map((c) => r[c]), ...slots.flatMap((k) => CONTRIBUTOR_FIELDS.map((f) => r.contributors?.[k - 1]?.[f]))].map(cell).join(',');
  return [head.join(','), ...rows.map(line)].join('\n');
}

export function renderTop(rows: TopHost[], format: 'table' | 'json' | 'csv', marks: Map<string, string> = new Map()): string {
  if (format === 'json') return rows.map((r) => JSON.stringify({ ...r, ...(marks.has(r.host_ip) ? { ground_truth: marks.get(r.host_ip) } : {}) })).join('\n');
  if (format === 'csv') return renderCsv(rows);
  const lines = [`${'#'.padStart(3)} ${'host'.padEnd(16)} ${'strong'.padStart(6)} ${'sum'.padStart(5)} ${'role'.padEnd(8)} ${'window'.padEnd(6)} ${'end UTC'.padEnd(7)} ${'band'.padEnd(4)} ${'score'.padStart(5)} ${'core'.padStart(5)} ${'beacon'.padStart(6)} ${'exfil'.padStart(5)} ${'lateral'.padStart(7)} ${'base'.padEnd(7)} truth`];
  for (const r of rows) {
    lines.push(
      `${String(r.rank).padStart(3)} ${r.host_ip.padEnd(16)} ${String(r.max_strong_deviation_cnt).padStart(6)} ${String(r.sum_strong_deviation_cnt).padStart(5)} ${r.role.padEnd(8)} ${r.window_label.padEnd(6)} ${hhmm(r.window_end_ts).padEnd(7)} ${band(r.time_band).padEnd(4)} ${num(r.anomaly_score).padStart(5)} ${num(r.anomaly_strength_core).padStart(5)} ${num(r.beacon_suspicion_score).padStart(6)} ${num(r.exfiltration_suspicion_score).padStart(5)} ${num(r.lateral_movement_score).padStart(7)} ${r.baseline_source.padEnd(7)} ${marks.get(r.host_ip) ?? ''}`,
    );
    for (const c of r.contributors ?? []) lines.push(`      ${explain(c)}`);
  }
  return lines.map((l) => l.trimEnd()).join('\n');
}
