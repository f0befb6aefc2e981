/**
 * FG-B and FG-C through the engine, end to end on synthetic traffic:
 * --upstream builds the whole chain, baselines only look backwards, gaps are
 * reported in the publication record, and FG-C files follow the contract.
 * (Values of every formula are checked by hand in the template tests.)
 */
import { cpSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobSpecs } from '../src/config/jobspec-schemas.ts';
import { batchesOfDay, parseDay } from '../src/engine/batches.ts';
import { build } from '../src/pipeline/build.ts';
import '../src/pipeline/builders.ts';
import { publicationPath, type Publication } from '../src/pipeline/build-fg-b.ts';
import type { RunContext } from '../src/pipeline/context.ts';
import { synthesize } from '../src/synth/index.ts';
import { fgCColumns } from '../src/transforms/columns.ts';
import { fgCMetrics } from '../src/transforms/jobspec-params.ts';
import { readDataset, tempDir, testContext } from './support/context.ts';

const tmp = tempDir('ndr-fgpipe-');
const START = '2026-11-20';
const REF = '2026-11-25'; // the last synthetic day
const RAW = join(tmp.dir, 'synth', 'raw', 'dt={dt}', 'hh={hh}', '*.parquet');
/** A short horizon keeps the suite fast: range [REF-4d, REF-1d). */
const shortHorizon = (s: JobSpecs) => {
  s.fg_b_builder.horizons = { '3d': { days: 3, tail: 1, head: 1 } };
  s.fg_b_builder.support_min = 5;
  s.project_parameters.baseline_schedule = 'daily';
};
const open = (wh: string, force = false) => testContext({ warehouse: wh, raw: RAW, rawFormat: 'parquet' }, shortHorizon, force);

let ctx: RunContext;
beforeAll(async () => {
  await synthesize({ hosts: 20, days: 6, start: START, seed: 3, out: join(tmp.dir, 'synth'), format: 'parquet', eventsPerHostPerDay: 60 });
  ctx = await open(join(tmp.dir, 'wh'));
  // Two hours of FG-C keep the suite fast; --upstream still builds every upstream day.
  await build(ctx, 'fg_c', batchesOfDay(parseDay(REF)).slice(40, 48), { upstream: true });
}, 400_000);
afterAll(() => {
  ctx.session.close();
  tmp.cleanup();
});

describe('FG-B and FG-C through the engine', () => {
  it('--upstream built the chain and FG-C files hold the contract columns in order', async () => {
    const parts = await ctx.warehouse.listCommitted('fg_c');
    expect(parts).toHaveLength(8);
    const m = (await ctx.warehouse.readManifest(parts[3]))!;
    const expected = fgCColumns(ctx.specs, fgCMetrics(ctx.specs)).map((c) => c.name);
    expect(m.columns.map((c) => c.name)).toEqual(expected);
    const file = (await ctx.warehouse.localDataFiles(m))[0];
    const schema = await ctx.session.all<{ name: string }>(`SELECT name FROM parquet_schema('${file}') WHERE name <> 'duckdb_schema'`);
    expect(schema.map((s) => s.name)).toEqual(expected);
    const rows = await readDataset(ctx, 'fg_c', 'host_ip, role, window_label, window_end_ts');
    expect(new Set(rows.map((r) => r.baseline_source))).toEqual(new Set(['host', 'segment']));
    expect(rows.every((r) => r.baseline_reference_date === REF)).toBe(true);
  });

  it('the publication record reports input coverage', async () => {
    const pub = (await ctx.warehouse.readJson<Publication>(publicationPath('v1', '3d', REF)))!;
    expect(pub.baseline_start_ts).toBe('2026-11-21T00:00:00Z');
    expect(pub.baseline_end_ts).toBe('2026-11-24T00:00:00Z');
    expect(pub.input_coverage).toMatchObject({ fg_a_batches_found: 288, fg_a_batches_expected: 288 });
    expect(pub.row_counts.host).toBeGreaterThan(0);
  });

  it('baselines only look backwards: changing data at or after T - head leaves FG-B unchanged', async () => {
    const before = await readDataset(ctx, 'fg_b/host', 'host_ip, role, time_band, window_label');
    // Replace the raw input of REF-1d (= T - head) and REF with another day's traffic, rebuild FG-A there.
    const synth = join(tmp.dir, 'synth', 'raw');
    for (const d of ['2026-11-24', '2026-11-25']) {
      rmSync(join(synth, `dt=${d}`), { recursive: true });
      cpSync(join(synth, 'dt=2026-11-21'), join(synth, `dt=${d}`), { recursive: true });
    }
    const forced = await open(join(tmp.dir, 'wh'), true);
    try {
      await build(forced, 'fg_a', [...batchesOfDay(parseDay('2026-11-24')), ...batchesOfDay(parseDay(REF))], { upstream: true });
      await build(forced, 'fg_b', [], { upstream: false, referenceMs: parseDay(REF) });
      const after = await readDataset(forced, 'fg_b/host', 'host_ip, role, time_band, window_label');
      expect(after.length).toBe(before.length);
      expect(after).toEqual(before.map((r) => ({ ...r })));
    } finally {
      forced.session.close();
    }
  });

  it('FG-A partitions missing inside a horizon are reported, not treated as quiet time', async () => {
    const dayDir = join(tmp.dir, 'wh', 'fg_a', 'feature_spec_version=v1', 'dt=2026-11-22');
    renameSync(dayDir, `${dayDir}.moved`);
    const c = await open(join(tmp.dir, 'wh'), true);
    try {
      await build(c, 'fg_b', [], { upstream: false, referenceMs: parseDay(REF) });
      const pub = (await c.warehouse.readJson<Publication>(publicationPath('v1', '3d', REF)))!;
      expect(pub.input_coverage.fg_a_batches_found).toBe(192);
      expect(pub.input_coverage.fg_a_batches_expected).toBe(288);
      expect(pub.input_coverage.missing_examples[0]).toContain('dt=2026-11-22/hh=00/mm=00');
    } finally {
      c.session.close();
      renameSync(`${dayDir}.moved`, dayDir);
    }
  });

  it('no baseline: exit 3 naming the horizon and the command; --allow-missing-baseline routes to none', async () => {
    const c = await open(join(tmp.dir, 'wh-nobase'));
    try {
      const day = batchesOfDay(parseDay('2026-11-21')).slice(0, 2);
      await build(c, 'fg_a', day, { upstream: true });
      await expect(build(c, 'fg_c', day, { upstream: false })).rejects.toThrow(/horizon 3d .*ndr-sql build fg-b --date 2026-11-21/);
      await build(c, 'fg_c', day, { upstream: false, allowMissingBaseline: true });
      const rows = await readDataset(c, 'fg_c', 'host_ip');
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.every((r) => r.baseline_source === 'none' && r.sessions_cnt_z_mad === null && r.pair_rarity_mean === null)).toBe(true);
    } finally {
      c.session.close();
    }
  });
});
