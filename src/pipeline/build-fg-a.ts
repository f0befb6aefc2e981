/**
 * delta + delta_peers (+ the look-back) -> fg_a, set-based over the anchors of
 * the selection, in as few consecutive passes as memory allows (anchorPasses).
 * The look-back reads daily compactions for whole days and 15-minute rows only
 * for the partial days at its edges, so its cost does not grow with the number
 * of batches in it (FEATURES.md §4.3).
 */
import { BATCH_MS, DAY_MS, batchEnd, formatBatch, isoZ, type Batch } from '../engine/batches.ts';
import { checkContract, materialize, stageAndCommit } from '../engine/execute.ts';
import { createParamTable } from '../engine/params.ts';
import type { Manifest } from '../storage/manifest.ts';
import { batchPartition } from '../storage/layout.ts';
import { deltaColumns, deltaPeersColumns, deltaPeersDailyColumns, fgAColumns } from '../transforms/columns.ts';
import { jobspecHash, type RunContext } from './context.ts';
import { partitionState, planEntry, type Expected } from './freshness.ts';
import { batchOfManifest, dailyPartition, digestInput, floorDay, inheritedMissingFields, loadBatchInput, notePlanned, registerInput } from './inputs.ts';
import { templateRefs } from './build-raw.ts';
import { packInOrder } from './passes.ts';
import type { PlanEntry, StepResult } from './build.ts';

const FG_A_TEMPLATES = ['ip_list_peers', 'ip_dim', 'delta_to_fg_a', 'fg_a', 'delta_peers_daily'];

function dayRange(fromMs: number, toMs: number): number[] {
  const out: number[] = [];
  for (let d = floorDay(fromMs); d <= floorDay(toMs); d += DAY_MS) out.push(d);
  return out;
}

/**
 * The UTC days before `dayMs` whose delta_peers FG-A's novelty may read for the anchors of
 * that day (from the look-back of its earliest window to the day before). Empty when novelty
 * is disabled.
 */
export function lookbackDays(ctx: RunContext, dayMs: number): number[] {
  const spec = ctx.specs.fg_a_builder;
  if (!spec.novelty.enabled) return [];
  const maxW = Math.max(...Object.values(spec.windows)) * 60_000;
  const days: number[] = [];
  for (let d = floorDay(dayMs - maxW - spec.lookback_days * DAY_MS); d < dayMs; d += DAY_MS) days.push(d);
  return days;
}

/** Per run, the days already seen with every delta_peers batch committed (they stay so). */
const completeDays = new WeakMap<RunContext, Set<number>>();

/**
 * The look-back days of `dayMs` (lookbackDays) whose delta_peers are not all committed: one
 * listing per day, once per run for a complete day (an --upstream range asks for every day).
 */
export async function incompleteLookbackDays(ctx: RunContext, dayMs: number): Promise<number[]> {
  const complete = completeDays.get(ctx) ?? completeDays.set(ctx, new Set()).get(ctx)!;
  const out: number[] = [];
  for (const d of lookbackDays(ctx, dayMs)) {
    if (complete.has(d)) continue;
    const prefix = `delta_peers/feature_spec_version=${ctx.specs.version}/dt=${isoZ(d).slice(0, 10)}`;
    const present = new Set(await ctx.warehouse.listCommitted(prefix));
    // In a plan, the batches an earlier step would build count as there.
    for (const p of ctx.plannedPartitions?.keys() ?? []) if (p.startsWith(`${prefix}/`)) present.add(p);
    if (present.size < DAY_MS / BATCH_MS) out.push(d);
    else complete.add(d);
  }
  return out;
}

/** Build (or refresh) the daily look-back compactions of the given UTC days. */
export async function ensureDailyCompactions(
  ctx: RunContext,
  days: number[],
): Promise<{ manifests: Manifest[]; sources: Manifest[]; result: StepResult }> {
  const t0 = Date.now();
  const v = ctx.specs.version;
  const templates = await templateRefs(ctx, ['delta_peers_daily']);
  const jobspecSha256 = jobspecHash(ctx, ['project_parameters', 'delta_builder']);
  const sources = await Promise.all(days.map((d) => loadBatchInput(ctx, 'delta_peers', d, d + DAY_MS)));
  const existing = await ctx.warehouse.readManifests(days.map((d) => dailyPartition('delta_peers_daily', v, d)));
  const manifests: Manifest[] = [];
  const todo: { day: number; src: Manifest[]; expected: Expected }[] = [];
  days.forEach((day, i) => {
    const src = sources[i].manifests;
    if (!src.length) return; // no history that day: nothing to compact
    const expected = { templates, jobspecSha256, inputs: [digestInput('delta_peers', isoZ(day).slice(0, 10), src)] };
    const current = existing.get(dailyPartition('delta_peers_daily', v, day));
    if (!ctx.force && partitionState(current, expected) === 'up_to_date') manifests.push(current!);
    else todo.push({ day, src, expected });
  });
  const committed: Manifest[] = [];
  if (todo.length && !ctx.dryRun) {
    await registerInput(ctx, 'delta_peers_in', todo.flatMap((t) => t.src), deltaPeersColumns());
    await materialize(ctx.session, v, 'delta_peers_daily', 'out_delta_peers_daily');
    await checkContract(ctx.session, 'out_delta_peers_daily', deltaPeersDailyColumns(), `sql/${v}/delta_peers_daily.sql`);
    committed.push(
      ...(await stageAndCommit({
        session: ctx.session,
        warehouse: ctx.warehouse,
        runId: ctx.runId,
        dataset: 'delta_peers_daily',
        relation: 'out_delta_peers_daily',
        columns: deltaPeersDailyColumns(),
        partitionBy: ['dt'],
        plans: todo.map((t) => ({ partition: dailyPartition('delta_peers_daily', v, t.day), values: [isoZ(t.day).slice(0, 10)], inputs: t.expected.inputs })),
        templates,
        jobspecSha256,
        featureSpecVersion: v,
        engine: ctx.engine,
        timingsMs: {},
      })),
    );
    await ctx.session.run('DROP TABLE out_delta_peers_daily');
  }
  return {
    manifests: [...manifests, ...committed],
    sources: sources.flatMap((x) => x.manifests),
    result: {
      dataset: 'delta_peers_daily',
      committed,
      skipped: manifests.map((m) => m.partition),
      missing: [],
      seconds: (Date.now() - t0) / 1000,
      planned: [
        ...manifests.map((m) => ({ partition: m.partition, state: 'up_to_date' as const })),
        ...todo.map((t) => {
          const partition = dailyPartition('delta_peers_daily', v, t.day);
          return planEntry(partition, existing.get(partition), t.expected, ctx.force);
        }),
      ],
    },
  };
}

/** `passBudget`: expanded rows per pass (see anchorPasses); by default from memory_limit. */
export async function buildFgA(ctx: RunContext, anchors: Batch[], passBudget?: number): Promise<StepResult[]> {
  const t0 = Date.now();
  const v = ctx.specs.version;
  const spec = ctx.specs.fg_a_builder;
  const maxW = Math.max(...Object.values(spec.windows)) * 60_000;
  const lookback = spec.lookback_days * DAY_MS;
  const tMin = batchEnd(anchors[0]);
  const tMax = batchEnd(anchors.at(-1)!);

  const [delta, peers] = await Promise.all([
    loadBatchInput(ctx, 'delta', tMin - maxW, tMax),
    loadBatchInput(ctx, 'delta_peers', tMin - maxW, tMax),
  ]);
  const have = (ms: Manifest[]) => new Set(ms.map((m) => batchOfManifest(m).start));
  const deltaAt = have(delta.manifests);
  const peersAt = have(peers.manifests);
  const ready = anchors.filter((a) => deltaAt.has(a.start) && peersAt.has(a.start));
  const missing = anchors.filter((a) => !ready.includes(a));

  // Look-back: window_start = T - w; L = [window_start - lookback, window_start).
  const lStartMin = tMin - maxW - lookback;
  const lStartMax = tMax - BATCH_MS - lookback;
  const lEndMin = tMin - maxW;
  const lEndMax = tMax - BATCH_MS;
  const edgeDays = spec.novelty.enabled ? [...new Set([...dayRange(lStartMin, lStartMax), ...dayRange(lEndMin, lEndMax)])] : [];
  const wholeDays = spec.novelty.enabled ? dayRange(lStartMin, lEndMax).filter((d) => !edgeDays.includes(d)) : [];
  const steps: StepResult[] = [];
  const daily = await ensureDailyCompactions(ctx, wholeDays);
  if (wholeDays.length) steps.push(daily.result);
  const edges = (await Promise.all(edgeDays.map((d) => loadBatchInput(ctx, 'delta_peers', d, d + DAY_MS)))).flatMap((x) => x.manifests);

  const templates = await templateRefs(ctx, FG_A_TEMPLATES);
  const jobspecSha256 = jobspecHash(ctx, ['project_parameters', 'delta_builder', 'fg_a_builder']);
  const expectedFor = (a: Batch): Expected => {
    const T = batchEnd(a);
    const inWindow = (m: Manifest) => batchOfManifest(m).start >= T - maxW && batchOfManifest(m).start < T;
    // The look-back is identified by the delta_peers batches of its days, however this run
    // reads them (a day's compaction or its batches depends on the selection's span), so the
    // same anchor is up to date or stale whatever the selection; compactions are derived from
    // those batches (their template is among FG_A_TEMPLATES).
    const historyFrom = floorDay(T - maxW - lookback);
    const inHistory = (m: Manifest) => batchOfManifest(m).start >= historyFrom && batchOfManifest(m).start < T;
    return {
      templates,
      jobspecSha256,
      inputs: [
        digestInput('delta', `window of ${isoZ(T)}`, delta.manifests.filter(inWindow)),
        digestInput('delta_peers', `window of ${isoZ(T)}`, peers.manifests.filter(inWindow)),
        digestInput('lookback', `look-back of ${isoZ(T)}`, [...daily.sources, ...edges].filter(inHistory)),
      ],
    };
  };
  const existing = await ctx.warehouse.readManifests(ready.map((a) => batchPartition('fg_a', v, a)));
  const expected = new Map(ready.map((a) => [a.start, expectedFor(a)]));
  const todo = ready.filter((a) => ctx.force || partitionState(existing.get(batchPartition('fg_a', v, a)), expected.get(a.start)!) !== 'up_to_date');
  const skipped = ready.filter((a) => !todo.includes(a)).map((a) => batchPartition('fg_a', v, a));
  if (ctx.dryRun) {
    const planned: PlanEntry[] = [
      ...ready.map((a) => planEntry(batchPartition('fg_a', v, a), existing.get(batchPartition('fg_a', v, a)), expected.get(a.start)!, ctx.force)),
      ...missing.map((a) => ({ partition: batchPartition('fg_a', v, a), state: 'no_input' as const })),
    ];
    notePlanned(ctx, planned);
    return [...steps, { dataset: 'fg_a', committed: [], skipped, missing, seconds: (Date.now() - t0) / 1000, planned }];
  }
  if (!todo.length) return [...steps, { dataset: 'fg_a', committed: [], skipped, missing, seconds: (Date.now() - t0) / 1000 }];

  await registerInput(ctx, 'peer_history_daily', daily.manifests, deltaPeersDailyColumns());
  await registerInput(ctx, 'peer_history_batches', edges, deltaPeersColumns());
  const windowsMs = Object.values(spec.windows).map((m) => m * 60_000);
  const budget = passBudget ?? Math.min(EXPANSION_ROWS_PER_GB * ((await ctx.session.memoryLimitBytes()) / 1e9), MAX_EXPANSION_ROWS);
  const passes = anchorPasses(todo, peerRowsBySliceEnd(peers.manifests), windowsMs, budget);
  if (passes.length > 1) ctx.log.debug('fg_a_passes', { anchors: todo.length, passes: passes.length, budget_rows: Math.round(budget) });
  const inputsOf = async (anchorsOfPass: Batch[]) => {
    const first = batchEnd(anchorsOfPass[0]) - maxW;
    const last = batchEnd(anchorsOfPass.at(-1)!);
    const inRange = (m: Manifest) => batchOfManifest(m).start >= first && batchOfManifest(m).start < last;
    await registerInput(ctx, 'delta_in', delta.manifests.filter(inRange), deltaColumns(ctx.specs));
    await registerInput(ctx, 'delta_peers_in', peers.manifests.filter(inRange), deltaPeersColumns());
    return delta.manifests.filter(inRange);
  };
  // The IP table of every pass's addresses at once (a pass joins only its own).
  await inputsOf(todo);
  await materialize(ctx.session, v, 'ip_list_peers', 'ip_list', undefined, 'VIEW');
  await materialize(ctx.session, v, 'ip_dim', 'ip_dim');
  const committed: Manifest[] = [];
  for (const pass of passes) {
    const passDelta = await inputsOf(pass);
    await createParamTable(ctx.session, { name: 'p_anchors', columns: { anchor_ts: 'TIMESTAMP' }, rows: pass.map((a) => [isoZ(batchEnd(a))]) });
    await materialize(ctx.session, v, 'delta_to_fg_a', 'delta_mapped', undefined, 'VIEW');
    // A view: the COPY in stageAndCommit runs the template straight into the Parquet writer
    // (its stage_and_commit timing includes the template).
    await materialize(ctx.session, v, 'fg_a', 'out_fg_a', undefined, 'VIEW');
    await checkContract(ctx.session, 'out_fg_a', fgAColumns(ctx.specs), `sql/${v}/fg_a.sql`);
    committed.push(
      ...(await stageAndCommit({
        session: ctx.session,
        warehouse: ctx.warehouse,
        runId: ctx.runId,
        dataset: 'fg_a',
        relation: 'out_fg_a',
        columns: fgAColumns(ctx.specs),
        missingOptionalFields: inheritedMissingFields(passDelta),
        partitionBy: ['dt', 'hh', 'mm'],
        plans: pass.map((a) => {
          const f = formatBatch(a);
          return {
            partition: batchPartition('fg_a', v, a),
            values: [f.dt, f.hh, f.mm],
            inputs: expected.get(a.start)!.inputs,
            notes: { novelty: spec.novelty.enabled ? 'enabled' : 'disabled' },
          };
        }),
        templates,
        jobspecSha256,
        featureSpecVersion: v,
        engine: ctx.engine,
        timingsMs: {},
      })),
    );
    await ctx.session.run('DROP VIEW out_fg_a');
  }
  return [...steps, { dataset: 'fg_a', committed, skipped, missing, seconds: (Date.now() - t0) / 1000 }];
}

/**
 * FG-A expands each delta_peers row into every (anchor, window) whose window holds it and sums
 * per (anchor, window, pair): for a day of 2,000 hosts, 108M rows into 28.9M groups. In one
 * pass that took 77–80 s at memory_limit 1GB (spilling) and 56.9 s at 4GB; in passes of 64M,
 * 32M, 16M and 8M expanded rows it took 49.3, 41.8, 39.6 and 41.0 s, with the same rows. So
 * the anchors run in consecutive passes whose expansion, estimated from the manifests' row
 * counts, stays within EXPANSION_ROWS_PER_GB of memory_limit and MAX_EXPANSION_ROWS (a bigger
 * pass is slower per row even in memory). A small selection (the demo's days) is one pass,
 * and each pass is set-based over its anchors.
 */
const EXPANSION_ROWS_PER_GB = 24e6;
const MAX_EXPANSION_ROWS = 32e6;

/** delta_peers rows per batch, keyed by the batch's slice_end_ts (ms). */
export function peerRowsBySliceEnd(manifests: Manifest[]): Map<number, number> {
  return new Map(manifests.map((m) => [batchEnd(batchOfManifest(m)), m.row_count]));
}

/** Consecutive runs of anchors whose estimated expansion fits `budget` (at least one anchor each). */
export function anchorPasses(anchors: Batch[], rowsBySliceEnd: Map<number, number>, windowsMs: number[], budget: number): Batch[][] {
  const expansion = (a: Batch) => {
    const T = batchEnd(a);
    let rows = 0;
    for (const [end, n] of rowsBySliceEnd) for (const w of windowsMs) if (end > T - w && end <= T) rows += n;
    return rows;
  };
  return packInOrder(anchors, expansion, budget);
}
