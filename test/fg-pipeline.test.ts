/**
 * FG-B and FG-C through the engine, end to end on synthetic traffic:
 * --upstream builds the whole chain, baselines only look backwards, gaps are
 * reported in the publication record, FG-C files follow the contract, and
 * `top` ranks and explains the day as FEATURES.md §7.5 says.
 * (Values of every formula are checked by hand in the template tests.)
 */
import { cpSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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
import { renderTop, topHosts } from '../src/report/top.ts';
import { runCli } from './support/cli.ts';
import { REPO, readDataset, tempDir, testContext } from './support/context.ts';

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

  it('top ranks the day per FEATURES.md §7.5 and explains each best row from its FG-A row and routed FG-B row', async () => {
    type Row = Record<string, any>;
    const fgc = (await readDataset(ctx, `fg_c/feature_spec_version=v1/baseline_horizon=3d/dt=${REF}`, 'host_ip')) as Row[];
    const fga = (await readDataset(ctx, `fg_a/feature_spec_version=v1/dt=${REF}`, 'host_ip')) as Row[];
    expect(new Set(fgc.map((r) => r.baseline_horizon))).toEqual(new Set(['3d']));
    const hostB = (await readDataset(ctx, 'fg_b/host', 'host_ip')) as Row[];
    const segmentB = (await readDataset(ctx, 'fg_b/segment', 'segment_id')) as Row[];
    // The ranking computed here from the FG-C rows: max strong count, then its sum, then host_ip.
    const byHost = new Map<string, Row[]>();
    for (const r of fgc) byHost.set(r.host_ip, [...(byHost.get(r.host_ip) ?? []), r]);
    const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    const expected = [...byHost]
      .map(([host, rows]) => ({ host, max: Math.max(...rows.map((r) => r.strong_deviation_cnt)), sum: rows.reduce((n, r) => n + r.strong_deviation_cnt, 0) }))
      .sort((a, b) => b.max - a.max || b.sum - a.sum || cmp(a.host, b.host));
    expect(expected.length).toBeGreaterThan(5);

    const top = await topHosts(ctx, parseDay(REF), '3d', 5);
    expect(top.map((t) => t.rank)).toEqual([1, 2, 3, 4, 5]);
    expect(top.map((t) => [t.host_ip, t.max_strong_deviation_cnt, t.sum_strong_deviation_cnt])).toEqual(expected.slice(0, 5).map((e) => [e.host, e.max, e.sum]));
    for (const t of top) {
      // The best row: highest strong count, then anomaly_score, then the earliest window end, role, window.
      const best = [...byHost.get(t.host_ip)!].sort(
        (a, b) =>
          b.strong_deviation_cnt - a.strong_deviation_cnt ||
          (b.anomaly_score ?? -Infinity) - (a.anomaly_score ?? -Infinity) ||
          a.window_end_ts.getTime() - b.window_end_ts.getTime() ||
          cmp(a.role, b.role) ||
          cmp(a.window_label, b.window_label),
      )[0];
      expect([t.role, t.window_label, t.window_end_ts.toISOString(), t.time_band, t.baseline_source, t.top_contributors, t.anomaly_score]).toEqual([
        best.role, best.window_label, best.window_end_ts.toISOString(), best.time_band, best.baseline_source, best.top_contributors, best.anomaly_score,
      ]);
      const named = (best.top_contributors as string).split(';').map((e) => e.split(':'));
      expect(t.contributors!.map((c) => [c.metric, c.z])).toEqual(named.map(([m, z]) => [m, Number(z)]));
      const same = (r: Row, keys: string[]) => keys.every((k) => r[k] === best[k]);
      const current = fga.find((r) => same(r, ['host_ip', 'role', 'window_label']) && r.window_end_ts.getTime() === best.window_end_ts.getTime())!;
      const routed =
        best.baseline_source === 'host'
          ? hostB.find((r) => same(r, ['host_ip', 'role', 'segment_id', 'time_band', 'window_label']))
          : segmentB.find((r) => same(r, ['segment_id', 'role', 'time_band', 'window_label']));
      expect(routed, `${best.baseline_source} baseline of ${t.host_ip}`).toBeDefined();
      for (const c of t.contributors!) {
        expect(c.value).toBeCloseTo(Number(current[c.metric]), 9);
        for (const [got, want] of [[c.baseline_median, routed![`${c.metric}_median`]], [c.baseline_mad, routed![`${c.metric}_mad`]]]) {
          if (want === null) expect(got).toBeNull();
          else expect(got).toBeCloseTo(want, 9);
        }
      }
    }

    // The three formats carry the same hosts; the table says which time band (baseline group) each row was compared with.
    const json = renderTop(top, 'json').split('\n').map((l) => JSON.parse(l));
    expect(json.map((r) => [r.rank, r.host_ip, r.time_band])).toEqual(top.map((t) => [t.rank, t.host_ip, t.time_band]));
    const csv = renderTop(top, 'csv').split('\n');
    expect(csv[0].split(',').slice(0, 8)).toEqual(['rank', 'host_ip', 'max_strong_deviation_cnt', 'sum_strong_deviation_cnt', 'role', 'window_label', 'window_end_ts', 'time_band']);
    expect(csv.slice(1).map((l) => l.split(',').slice(0, 8))).toEqual(
      top.map((t) => [String(t.rank), t.host_ip, String(t.max_strong_deviation_cnt), String(t.sum_strong_deviation_cnt), t.role, t.window_label, t.window_end_ts.toISOString(), t.time_band]),
    );
    // Each contributor's current value, baseline median and MAD (§7.5) are columns too; a missing contributor is empty.
    const head = csv[0].split(',');
    const field = (line: string, name: string) => line.split(',')[head.indexOf(name)];
    expect(head.slice(-5)).toEqual(['contributor_3_metric', 'contributor_3_z', 'contributor_3_value', 'contributor_3_baseline_median', 'contributor_3_baseline_mad']);
    top.forEach((t, i) => {
      for (const k of [1, 2, 3]) {
        const c = t.contributors?.[k - 1];
        expect(field(csv[i + 1], `contributor_${k}_metric`)).toBe(c?.metric ?? '');
        for (const f of ['z', 'value', 'baseline_median', 'baseline_mad'] as const) {
          const got = field(csv[i + 1], `contributor_${k}_${f}`);
          if (c?.[f] === null || c?.[f] === undefined) expect(got).toBe('');
          else expect(Number(got)).toBe(c[f]);
        }
      }
    });
    expect(top.some((t) => t.contributors?.length)).toBe(true);
    const table = renderTop(top, 'table', new Map([[top[0].host_ip, '<= marked']])).split('\n');
    expect(table[0]).toMatch(/end UTC band/);
    expect(table.filter((l) => /^\s+\d+ /.test(l)).map((l) => l.trim().split(/\s+/).slice(0, 8))).toEqual(
      top.map((t) => [String(t.rank), t.host_ip, String(t.max_strong_deviation_cnt), String(t.sum_strong_deviation_cnt), t.role, t.window_label, t.window_end_ts.toISOString().slice(11, 16), t.time_band === 'working_hours' ? 'work' : 'off']),
    );
    expect(table.find((l) => l.includes(top[0].host_ip))).toMatch(/<= marked$/);
    expect(table.filter((l) => / z=.* now=.* med=.* mad=/.test(l))).toHaveLength(top.reduce((n, t) => n + t.contributors!.length, 0));
  });

  it('ndr-sql top: --limit and --format from the command line; a day without FG-C exits 3 naming the build command', async () => {
    // The JobSpecs the warehouse was built with (the 3d horizon), as a directory for the CLI.
    const specs = join(tmp.dir, 'jobspecs-3d');
    cpSync(join(REPO, 'jobspecs'), specs, { recursive: true });
    writeFileSync(join(specs, 'demo', 'fg_b_builder#v1.json'), JSON.stringify({ horizons: { '3d': { days: 3, tail: 1, head: 1 } }, support_min: 5 }));
    const common = ['--warehouse', join(tmp.dir, 'wh'), '--jobspecs', specs, '--horizon', '3d'];
    const ok = await runCli(['top', '--date', REF, '--limit', '3', '--format', 'csv', ...common]);
    expect(ok.code, ok.stderr).toBe(0);
    const lines = ok.stdout.trim().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines.slice(1).map((l) => l.split(',')[1])).toEqual((await topHosts(ctx, parseDay(REF), '3d', 3)).map((t) => t.host_ip));
    const none = await runCli(['top', '--date', '2026-11-20', ...common]);
    expect(none.code).toBe(3);
    expect(none.stderr).toMatch(/no fg_c partitions for 2026-11-20 horizon 3d; run ndr-sql build fg-c --date 2026-11-20 --upstream/);
    expect(none.stderr).not.toMatch(/\n\s+at /); // one line, no stack trace
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
