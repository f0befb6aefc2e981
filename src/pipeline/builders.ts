/**
 * Registers the builders of the derived datasets with `build` (imported for
 * its side effect), including what `--upstream` builds first:
 *   fg_a  <- raw stage (delta, delta_peers, pair_counts) of the same batches
 *   fg_b  <- fg_a (and its raw stage) of every batch in the horizon ranges
 *   fg_c  <- fg_a of the batches, and fg_b of each day's scheduled reference date
 */
import { InputNotReadyError } from '../errors/index.ts';
import { BATCH_MS, DAY_MS, batchesInRange, isoZ, type Batch } from '../engine/batches.ts';
import { registerBuilder, buildRawStage, type StepResult } from './build.ts';
import { buildFgA, ensureDailyCompactions, incompleteLookbackDays } from './build-fg-a.ts';
import { buildFgB, horizonRanges } from './build-fg-b.ts';
import { buildFgC, scheduledReference } from './build-fg-c.ts';
import type { RunContext } from './context.ts';
import { batchOfManifest, loadBatchInput } from './inputs.ts';
import { packInOrder } from './passes.ts';

/**
 * FG-C is wide (~480 columns), and both its size and the number of partitions it writes
 * bound a pass's memory:
 *   - rows: the template's lists and the output (FG-A rows from the manifests x horizons);
 *   - partitions (batches x horizons): a partitioned COPY buffers every partition's rows in
 *     per-column vectors per thread (~16 MB per partition at 480 columns on 2 threads);
 *     ~40 night partitions of a 1-horizon demo ran out of memory_limit=1GB (48 a pass did too).
 * Each pass also has a fixed cost (~0.8 s: it reads the 24 hours of delta_peers before its
 * anchors and the baselines again), so passes are as large as memory allows: 12 partitions a
 * pass made the demo's attack day 21-27 s instead of 14-16.5 s (docs/performance.md, item 20).
 * A day of 2,000 hosts with one horizon (1.12M rows) took 74.3 s in passes of 24,000 rows,
 * 49.5 s in passes of 60,000 (peak RSS 1.46 GB at memory_limit 1GB) and 46.3 s in passes of
 * 120,000 (1.81 GB): the row budget is FG_C_ROWS_PER_GB per GB of memory_limit.
 */
const FG_C_ROWS_PER_GB = 60_000;
const FG_C_PARTITIONS_PER_PASS = 24;

export async function fgCChunks(ctx: RunContext, batches: Batch[]): Promise<Batch[][]> {
  if (!batches.length) return [];
  const fgA = await loadBatchInput(ctx, 'fg_a', batches[0].start, batches.at(-1)!.start + 1);
  const rowsAt = new Map(fgA.manifests.map((m) => [batchOfManifest(m).start, m.row_count]));
  const horizons = Object.keys(ctx.specs.fg_b_builder.horizons).length;
  const rowBudget = FG_C_ROWS_PER_GB * ((await ctx.session.memoryLimitBytes()) / 1e9);
  return packInOrder(batches, (b) => (rowsAt.get(b.start) ?? 0) * horizons, rowBudget, Math.floor(FG_C_PARTITIONS_PER_PASS / horizons));
}

/** Work is chunked per UTC day: one set-based pass per day keeps memory bounded on long ranges. */
export function byDay(batches: Batch[]): Batch[][] {
  const days = new Map<number, Batch[]>();
  for (const b of batches) {
    const d = Math.floor(b.start / DAY_MS) * DAY_MS;
    days.set(d, [...(days.get(d) ?? []), b]);
  }
  return [...days.values()];
}

/**
 * The raw stage of the look-back days (lookbackDays) whose delta_peers are not all committed,
 * gap-tolerant: FG-A's novelty reads their history, so with --upstream it must exist before
 * FG-A runs, or new/rare counts would be computed against a history completed only later (and
 * the next run would find FG-A stale). A complete day costs one listing per run, no manifest reads.
 */
async function lookbackHistory(ctx: RunContext, dayMs: number): Promise<StepResult[]> {
  const steps: StepResult[] = [];
  const noRaw: string[] = [];
  for (const d of await incompleteLookbackDays(ctx, dayMs)) {
    const day = isoZ(d).slice(0, 10);
    steps.push(...(await gapTolerant(ctx, () => buildRawStage(ctx, batchesInRange(d, d + DAY_MS)).then((r) => [r]), () => noRaw.push(day))));
  }
  // One line for the whole look-back, not one per day.
  if (noRaw.length)
    ctx.log.warn('lookback_gap', { before: isoZ(dayMs).slice(0, 10), days_without_raw: noRaw.length, first: noRaw[0], last: noRaw.at(-1)!, msg: 'novelty counts against the history that exists' });
  return steps;
}

async function fgAWithUpstream(ctx: RunContext, batches: Batch[], upstream: boolean): Promise<StepResult[]> {
  const steps: StepResult[] = [];
  const maxW = Math.max(...Object.values(ctx.specs.fg_a_builder.windows)) * 60_000;
  for (const day of byDay(batches)) {
    if (upstream) {
      // The day's own raw stage first: a day without raw input stops here, before its
      // look-back and lead are listed and built for nothing.
      const own = await buildRawStage(ctx, day);
      steps.push(...(await lookbackHistory(ctx, Math.floor(day[0].start / DAY_MS) * DAY_MS)));
      // The first anchors' long windows reach back into the previous day: its deltas are inputs too.
      const lead = batchesInRange(day[0].start + BATCH_MS - maxW, day[0].start);
      if (lead.length) steps.push(...(await gapTolerant(ctx, () => buildRawStage(ctx, lead).then((r) => [r]))));
      steps.push(own);
    }
    steps.push(...(await buildFgA(ctx, day)));
  }
  return steps;
}

/** Upstream input that does not exist yet is a gap, reported (by default one warning each), not a failure. */
async function gapTolerant(
  ctx: RunContext,
  fn: () => Promise<StepResult[]>,
  onGap: (msg: string) => void = (msg) => ctx.log.warn('upstream_gap', { dataset: 'raw', msg }),
): Promise<StepResult[]> {
  try {
    return await fn();
  } catch (e) {
    if (!(e instanceof InputNotReadyError)) throw e;
    onGap((e as Error).message);
    return [];
  }
}

/** Day by day, so memory stays bounded; days without raw input are gaps (one warning), not a failure. */
async function fgAForRange(ctx: RunContext, fromMs: number, toMs: number): Promise<StepResult[]> {
  const steps: StepResult[] = [];
  const noRaw: string[] = [];
  for (let day = Math.floor(fromMs / DAY_MS) * DAY_MS; day < toMs; day += DAY_MS) {
    const batches = batchesInRange(Math.max(day, fromMs), Math.min(day + DAY_MS, toMs));
    if (batches.length) steps.push(...(await gapTolerant(ctx, () => fgAWithUpstream(ctx, batches, true), () => noRaw.push(isoZ(day).slice(0, 10)))));
  }
  if (noRaw.length)
    ctx.log.warn('upstream_gap', {
      dataset: 'raw',
      days_without_raw: noRaw.length,
      first: noRaw[0],
      last: noRaw.at(-1)!,
      msg: `no raw input for ${noRaw.length} of the days in ${isoZ(fromMs)}..${isoZ(toMs)}: their FG-A is missing, a gap in the baseline, not quiet time`,
    });
  return steps;
}

async function fgBWithUpstream(ctx: RunContext, referenceMs: number, upstream: boolean): Promise<StepResult[]> {
  const steps: StepResult[] = [];
  if (upstream) {
    const ranges = horizonRanges(ctx, referenceMs);
    const from = Math.min(...ranges.map((r) => r.startMs)) - BATCH_MS;
    const to = Math.max(...ranges.map((r) => r.endMs)) - BATCH_MS;
    steps.push(...(await fgAForRange(ctx, from, to)));
  }
  steps.push(await buildFgB(ctx, referenceMs));
  return steps;
}

registerBuilder('delta_peers_daily', async (ctx, batches) => {
  const days = [...new Set(batches.map((b) => Math.floor(b.start / DAY_MS) * DAY_MS))];
  return [(await ensureDailyCompactions(ctx, days)).result];
});

registerBuilder('fg_a', (ctx, batches, opts) => fgAWithUpstream(ctx, batches, opts.upstream));

registerBuilder('fg_b', (ctx, _batches, opts) => fgBWithUpstream(ctx, opts.referenceMs!, opts.upstream));

registerBuilder('fg_c', async (ctx, batches, opts) => {
  const steps: StepResult[] = [];
  if (opts.upstream) {
    steps.push(...(await fgAWithUpstream(ctx, batches, true)));
    const refs = [...new Set(batches.map((b) => scheduledReference(ctx, Math.floor(b.start / DAY_MS) * DAY_MS)))];
    for (const ref of refs) steps.push(...(await fgBWithUpstream(ctx, ref, true)));
  }
  for (const chunk of await fgCChunks(ctx, batches)) steps.push(await buildFgC(ctx, chunk, Boolean(opts.allowMissingBaseline)));
  return steps;
});
