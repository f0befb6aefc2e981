/**
 * FG-A runs its anchors in consecutive passes sized by their estimated expansion
 * (src/pipeline/build-fg-a.ts, anchorPasses): the split is computed from the
 * delta_peers row counts as hand-counted here, and a day built in several
 * passes holds the same rows as the day built in one. packInOrder, which FG-C's
 * passes use too, also caps the items of a pass.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS, batchesOfDay, parseDay, type Batch } from '../src/engine/batches.ts';
import { build } from '../src/pipeline/build.ts';
import '../src/pipeline/builders.ts';
import { anchorPasses, buildFgA, peerRowsBySliceEnd } from '../src/pipeline/build-fg-a.ts';
import { packInOrder } from '../src/pipeline/passes.ts';
import { loadBatchInput } from '../src/pipeline/inputs.ts';
import type { RunContext } from '../src/pipeline/context.ts';
import { synthesize } from '../src/synth/index.ts';
import { readDataset, tempDir, testContext } from './support/context.ts';

const Q = 15 * 60_000;
const batch = (i: number): Batch => ({ start: i * Q }) as Batch;

describe('anchorPasses', () => {
  // delta_peers rows by slice_end: the slices ending at 1Q, 2Q, 3Q, 4Q hold 10, 20, 30, 40 rows.
  const rows = new Map([[1 * Q, 10], [2 * Q, 20], [3 * Q, 30], [4 * Q, 40]]);
  // Anchors are the batches starting at 0..3Q, so T = 1Q..4Q. Windows of 15 and 30 minutes:
  // T = 1Q: 10 + 10 = 20; 2Q: 20 + (10 + 20) = 50; 3Q: 30 + 50 = 80; 4Q: 40 + 70 = 110.
  const anchors = [0, 1, 2, 3].map(batch);
  const windows = [Q, 2 * Q];
  const starts = (passes: Batch[][]) => passes.map((p) => p.map((a) => a.start / Q));

  it('keeps every anchor in one pass when the budget holds their whole expansion (260 rows)', () => {
    expect(starts(anchorPasses(anchors, rows, windows, 260))).toEqual([[0, 1, 2, 3]]);
  });

  it('starts a new pass when the next anchor would exceed the budget, in order', () => {
    expect(starts(anchorPasses(anchors, rows, windows, 150))).toEqual([[0, 1, 2], [3]]); // 20 + 50 + 80 = 150
    expect(starts(anchorPasses(anchors, rows, windows, 100))).toEqual([[0, 1], [2], [3]]);
  });

  it('gives an anchor bigger than the budget a pass of its own rather than none', () => {
    expect(starts(anchorPasses(anchors, rows, windows, 1))).toEqual([[0], [1], [2], [3]]);
  });
});

describe('packInOrder', () => {
  it('closes a pass at the item cap even under the budget, and keeps the order', () => {
    expect(packInOrder([1, 1, 1, 1, 1], (x) => x, 100, 2)).toEqual([[1, 1], [1, 1], [1]]);
    expect(packInOrder([3, 1, 2, 4], (x) => x, 4)).toEqual([[3, 1], [2], [4]]);
    expect(packInOrder([], (x: number) => x, 4)).toEqual([]);
  });
});

describe('FG-A of a day in several passes', () => {
  const tmp = tempDir('ndr-fga-passes-');
  const DAY = '2026-11-21';
  let ctx: RunContext;
  let onePass: Record<string, unknown>[];

  beforeAll(async () => {
    await synthesize({ hosts: 20, days: 2, start: '2026-11-20', seed: 5, out: join(tmp.dir, 'synth'), format: 'parquet', eventsPerHostPerDay: 40 });
    const raw = join(tmp.dir, 'synth', 'raw', 'dt={dt}', 'hh={hh}', '*.parquet');
    ctx = await testContext({ warehouse: join(tmp.dir, 'wh'), raw, rawFormat: 'parquet' }, () => {}, true);
    await build(ctx, 'fg_a', batchesOfDay(parseDay(DAY)), { upstream: true });
    onePass = await readDataset(ctx, 'fg_a', 'record_id');
  }, 300_000);
  afterAll(() => {
    ctx.session.close();
    tmp.cleanup();
  });

  it('commits the same 96 partitions with the same rows (doubles to 1e-9 relative)', async () => {
    expect(onePass.length).toBeGreaterThan(1000);
    // A budget of a quarter of the day's expansion (its windows reach into the day before),
    // counted here from the delta_peers manifests: sum over anchors T and windows w of the rows
    // of the slices ending in (T - w, T].
    const anchors = batchesOfDay(parseDay(DAY));
    const peers = await loadBatchInput(ctx, 'delta_peers', parseDay(DAY) - DAY_MS, parseDay(DAY) + DAY_MS);
    const rows = peerRowsBySliceEnd(peers.manifests);
    const windows = Object.values(ctx.specs.fg_a_builder.windows).map((m) => m * 60_000);
    let expansion = 0;
    for (const a of anchors)
      for (const w of windows) for (const [end, n] of rows) if (end > a.start + Q - w && end <= a.start + Q) expansion += n;
    const plan = anchorPasses(anchors, rows, windows, expansion / 4);
    expect(plan.length).toBeGreaterThanOrEqual(4);
    expect(plan.length).toBeLessThanOrEqual(5);
    expect(plan.flat()).toEqual(anchors);
    const budget = expansion / 4;
    const [step] = (await buildFgA(ctx, anchors, budget)).filter((s) => s.dataset === 'fg_a');
    expect(step.committed).toHaveLength(96);
    expect(new Set(step.committed.map((m) => m.run_id)).size).toBe(1);
    const passes = await readDataset(ctx, 'fg_a', 'record_id');
    expect(passes.map((r) => r.record_id)).toEqual(onePass.map((r) => r.record_id));
    for (const [i, r] of passes.entries()) {
      for (const [col, v] of Object.entries(onePass[i])) {
        if (typeof v === 'number' && !Number.isInteger(v)) expect(Math.abs((r[col] as number) - v), `${r.record_id} ${col}`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(v)));
        else expect(r[col], `${r.record_id} ${col}`).toEqual(v);
      }
    }
  });
});
