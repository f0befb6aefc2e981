/**
 * An FG-B horizon across a month boundary and the calendar's DST change, end to end:
 * synthetic traffic 2026-03-26 .. 2026-04-01 (Asia/Jerusalem moves its clocks forward on
 * Friday 2026-03-27 at 02:00 local = 00:00 UTC), FG-B for reference 2026-04-01 with a
 * 4-day horizon and 2 tail days, so its range [2026-03-26, 2026-04-01) spans the DST change
 * and ends at the month boundary; FG-C for two batches of 2026-04-01.
 *
 * Expected values are computed here, independently of the SQL: the time band of every FG-A
 * row from its window end through Intl (the ICU time zone database, not DuckDB's), and the
 * host baselines (exact linear quantiles, true MAD, support) from the FG-A rows of the range.
 * Capping is switched off (z_max 1e12) so that every row enters the statistics.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobSpecs } from '../src/config/jobspec-schemas.ts';
import { batchesOfDay, parseDay } from '../src/engine/batches.ts';
import { build } from '../src/pipeline/build.ts';
import '../src/pipeline/builders.ts';
import { publicationPath, type Publication } from '../src/pipeline/build-fg-b.ts';
import type { RunContext } from '../src/pipeline/context.ts';
import { synthesize } from '../src/synth/index.ts';
import { readDataset, tempDir, testContext } from './support/context.ts';

type Row = Record<string, any>;
const tmp = tempDir('ndr-fgb-horizon-');
const REF = '2026-04-01';
const START = '2026-03-26T00:00:00Z';
const END = '2026-04-01T00:00:00Z';
const METRICS = ['sessions_cnt', 'bytes_src_sum', 'peer_ip_nunique'];

const patch = (s: JobSpecs) => {
  s.fg_b_builder.horizons = { '4d': { days: 4, tail: 2, head: 0 } };
  s.fg_b_builder.support_min = 5;
  s.fg_b_builder.anomaly_capping.z_max = 1e12;
  s.fg_a_builder.windows = { w_15m: 15, w_1h: 60 };
  s.fg_a_builder.lookback_days = 2;
  s.project_parameters.baseline_schedule = 'daily';
};

let ctx: RunContext;
let fgA: Row[];
beforeAll(async () => {
  await synthesize({ hosts: 20, days: 7, start: '2026-03-26', seed: 5, out: join(tmp.dir, 'synth'), format: 'parquet', eventsPerHostPerDay: 40 });
  ctx = await testContext({ warehouse: join(tmp.dir, 'wh'), raw: join(tmp.dir, 'synth', 'raw', 'dt={dt}', 'hh={hh}', '*.parquet'), rawFormat: 'parquet' }, patch);
  await build(ctx, 'fg_c', batchesOfDay(parseDay(REF)).slice(40, 42), { upstream: true });
  fgA = (await readDataset(ctx, 'fg_a', 'host_ip, role, window_label, window_end_ts')) as Row[];
}, 400_000);
afterAll(() => {
  ctx.session.close();
  tmp.cleanup();
});

/** Local hour and ISO weekday of an instant in Asia/Jerusalem, through Intl. */
function local(t: Date): { hour: number; dow: number } {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: 'Asia/Jerusalem', hour: 'numeric', hourCycle: 'h23', weekday: 'short' }).formatToParts(t);
  const hour = Number(parts.find((p) => p.type === 'hour')!.value);
  const dow = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'].indexOf(parts.find((p) => p.type === 'weekday')!.value) + 1;
  return { hour, dow };
}

/** numpy percentile(method="linear") of sorted values. */
function quantile(sorted: number[], q: number): number {
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  return sorted[lo] + (h - lo) * ((sorted[Math.min(lo + 1, sorted.length - 1)] ?? sorted[lo]) - sorted[lo]);
}
const median = (xs: number[]) => quantile([...xs].sort((a, b) => a - b), 0.5);

describe('an FG-B horizon across the DST change and a month boundary', () => {
  it('the publication record has the range [2026-03-26, 2026-04-01) and every FG-A batch the data allows', async () => {
    const pub = (await ctx.warehouse.readJson<Publication>(publicationPath('v1', '4d', REF)))!;
    expect([pub.reference_date, pub.reference_ts, pub.baseline_start_ts, pub.baseline_end_ts]).toEqual([REF, '2026-04-01T00:00:00Z', START, END]);
    // The first window end, 2026-03-26 00:00, is the batch of 2026-03-25 23:45: before the data, a gap.
    expect(pub.input_coverage).toMatchObject({ fg_a_batches_found: 6 * 96 - 1, fg_a_batches_expected: 6 * 96 });
  });

  it('time bands follow the local clock on both sides of the DST change', () => {
    expect(fgA.length).toBeGreaterThan(1000);
    for (const r of fgA) {
      const { hour, dow } = local(r.window_end_ts);
      expect([r.hour_of_day, r.day_of_week], isoOf(r)).toEqual([hour, dow]);
      const band = hour >= 7 && hour < 17 && dow !== 5 && dow !== 6 ? 'working_hours' : 'off_hours';
      expect(r.time_band, isoOf(r)).toBe(band);
    }
    // The same UTC time is 03:00 local before the change (UTC+2) and 04:00 after it (UTC+3).
    const at = (iso: string) => fgA.find((r) => r.window_end_ts.toISOString() === iso)!.hour_of_day;
    expect([at('2026-03-26T01:00:00.000Z'), at('2026-03-28T01:00:00.000Z')]).toEqual([3, 4]);
  });

  it('host baselines equal quantiles and MADs computed here from the FG-A rows of the range', async () => {
    const host = (await readDataset(ctx, 'fg_b/host', 'host_ip, role, time_band, window_label')) as Row[];
    const inRange = fgA.filter((r) => r.window_end_ts.getTime() >= Date.parse(START) && r.window_end_ts.getTime() < Date.parse(END));
    // The month boundary: March rows only, none of April 1 (the range end is exclusive).
    expect(inRange.every((r) => r.window_end_ts.toISOString() < '2026-04-01')).toBe(true);
    expect(fgA.some((r) => r.window_end_ts.toISOString() >= '2026-04-01')).toBe(true);
    const key = (r: Row) => [r.host_ip, r.role, r.segment_id, r.time_band, r.window_label].join('|');
    const groups = new Map<string, Row[]>();
    for (const r of inRange) groups.set(key(r), [...(groups.get(key(r)) ?? []), r]);
    expect(host.length).toBe(groups.size);
    expect(host.reduce((n, b) => n + b.total_rows, 0)).toBe(inRange.length);
    for (const b of host) {
      const rows = groups.get(key(b))!;
      expect(rows, key(b)).toBeDefined();
      expect([b.total_rows, b.capped_rows, b.baseline_start_ts.toISOString(), b.baseline_end_ts.toISOString()]).toEqual([rows.length, 0, '2026-03-26T00:00:00.000Z', '2026-04-01T00:00:00.000Z']);
      for (const m of METRICS) {
        const xs = rows.map((r) => Number(r[m])).sort((a, b2) => a - b2);
        const med = quantile(xs, 0.5);
        const want = {
          median: med,
          p25: quantile(xs, 0.25),
          p95: quantile(xs, 0.95),
          mad: median(xs.map((x) => Math.abs(x - med))),
          support_count: xs.length,
        };
        for (const [stat, v] of Object.entries(want)) expect(b[`${m}_${stat}`], `${key(b)} ${m}_${stat}`).toBeCloseTo(v, 6);
        expect(b[`${m}_cold_start_flag`]).toBe(xs.length < 5 ? 1 : 0);
      }
    }
  });

  it('FG-C of 2026-04-01 uses that baseline and scores against the row\'s own time-band group', async () => {
    const fgC = (await readDataset(ctx, 'fg_c', 'host_ip, role, window_label, window_end_ts')) as Row[];
    const host = (await readDataset(ctx, 'fg_b/host', 'host_ip')) as Row[];
    expect(fgC.length).toBeGreaterThan(0);
    const warm = fgC.filter((r) => r.baseline_source === 'host');
    expect(warm.length).toBeGreaterThan(0);
    for (const r of fgC) expect([r.baseline_reference_date, r.baseline_start_ts.toISOString(), r.baseline_end_ts.toISOString()]).toEqual([REF, '2026-03-26T00:00:00.000Z', '2026-04-01T00:00:00.000Z']);
    for (const r of warm) {
      const a = fgA.find((x) => x.host_ip === r.host_ip && x.role === r.role && x.window_label === r.window_label && x.window_end_ts.getTime() === r.window_end_ts.getTime())!;
      const b = host.find((x) => x.host_ip === r.host_ip && x.role === r.role && x.segment_id === r.segment_id && x.time_band === a.time_band && x.window_label === r.window_label)!;
      expect(r.time_band).toBe(a.time_band);
      expect(r.sessions_cnt_diff).toBeCloseTo(a.sessions_cnt - b.sessions_cnt_median, 9);
    }
  });
});

const isoOf = (r: Row) => `${r.host_ip} ${r.role} ${r.window_label} ${r.window_end_ts.toISOString()}`;
