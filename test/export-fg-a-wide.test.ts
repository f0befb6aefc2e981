/**
 * `ndr-sql export fg-a-wide --date D --out FILE.parquet` end to end (FEATURES.md §4.5,
 * src/cli/commands/export.ts, sql/v1/fg_a_wide.sql).
 *
 * A hand-written raw fixture (13 Palo Alto sessions, 4 internal hosts, 5 batches from
 * 2026-11-24 23:00 to 2026-11-25 00:00 UTC) is built through the CLI into delta and FG-A
 * (demo JobSpecs; the 2026-11-25 00:00 batch with novelty disabled), then exported with
 * runCli and the Parquet file read back with DuckDB. Checked:
 *   - one row per (host_ip, window_end_ts) of the day's FG-A, nothing from other days;
 *   - the exact columns, in the order the template documents: host_ip, window_end_ts,
 *     segment_id, the time context once, then `<metric>_<window>` (outbound) and
 *     `in_<metric>_<window>` (inbound) for every FG-A metric x role x window, sorted,
 *     then mini_batch_id, feature_spec_version;
 *   - every metric cell equals the value of the FG-A row of that (host, role, window,
 *     window_end_ts), and is NULL where no such row exists; keys and time context equal
 *     the FG-A rows';
 *   - hand-computed values from the raw sessions (counts, bytes, ratios, time context);
 *   - novelty disabled: the seven novelty metrics still have their columns, NULL (§4.3);
 *   - a date without FG-A exits 3 with a one-line message and writes no file; an unknown
 *     dataset exits 2.
 * Expected values come from the FG-A rows read straight from the warehouse's Parquet
 * files through their manifests (readDataset), or are written out by hand from EVENTS.
 * Metric columns are DOUBLE copies of FG-A values: integers must match exactly, other
 * doubles within a relative 1e-12.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import type { RunContext } from '../src/pipeline/context.ts';
import { runCli } from './support/cli.ts';
import { REPO, readDataset, tempDir, testContext } from './support/context.ts';

const tmp = tempDir('ndr-wide-');
const WH = join(tmp.dir, 'wh');
const RAW = join(tmp.dir, 'raw', 'events.parquet');
const DAY = '2026-11-24'; // a Tuesday; Asia/Jerusalem is UTC+2 in November
const NEXT = '2026-11-25';
const JOBSPECS = join(REPO, 'jobspecs');
const NO_NOVELTY_SPECS = join(tmp.dir, 'specs-no-novelty');

const WINDOWS = ['w_15m', 'w_30m', 'w_1h', 'w_8h', 'w_24h']; // the demo JobSpec's defaults (FEATURES.md §4)
const NOVELTY = ['new_peer_cnt', 'rare_peer_cnt', 'new_peer_ratio', 'new_port_cnt', 'rare_port_cnt', 'new_pair_cnt', 'rare_pair_cnt'];
/** The FG-A metrics (FEATURES.md §4.2, default port sets), written out independently of src/transforms. */
const METRICS = [
  'sessions_cnt', 'allow_cnt', 'deny_cnt', 'alert_cnt', 'rst_cnt', 'aged_out_cnt', 'zero_reply_cnt', 'short_session_cnt',
  'bytes_src_sum', 'bytes_dst_sum', 'duration_sum', 'tcp_cnt', 'udp_cnt', 'icmp_cnt', 'threat_cnt', 'traffic_cnt',
  'high_risk_port_sessions_cnt', 'admin_port_sessions_cnt', 'fileshare_port_sessions_cnt', 'directory_port_sessions_cnt',
  'db_port_sessions_cnt', 'max_sessions_per_minute', 'duration_mean', 'deny_ratio', 'bytes_asymmetry_ratio',
  'transport_tcp_ratio', 'transport_udp_ratio', 'transport_icmp_ratio', 'has_high_risk_port_activity',
  'peer_ip_nunique', 'peer_port_nunique', 'peer_segment_nunique', 'peer_ip_entropy', 'peer_port_entropy',
  'peer_ip_top1_sessions_share', 'peer_port_top1_sessions_share', 'peer_ip_top1_bytes_share', 'peer_port_top1_bytes_share',
  'high_risk_segment_sessions_cnt', 'high_risk_segment_unique_peers', 'has_high_risk_segment_interaction', ...NOVELTY,
];
const TIME_CONTEXT = ['hour_of_day', 'day_of_week', 'is_working_hours', 'is_off_hours', 'is_night_hours', 'is_weekend', 'is_holiday', 'is_offday', 'time_band'];
/** FG-A columns that are not metrics: per-row keys, the time context, partition columns, trailer. */
const FG_A_NON_METRICS = ['host_ip', 'role', 'window_label', 'window_start_ts', 'window_end_ts', 'segment_id', 'record_id', ...TIME_CONTEXT, 'dt', 'hh', 'mm', 'mini_batch_id', 'feature_spec_version'];
const PREFIX = { outbound: '', inbound: 'in_' } as const;
const wideName = (role: keyof typeof PREFIX, metric: string, window: string) => `${PREFIX[role]}${metric}_${window}`;
const byteOrder = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0); // PIVOT sorts VARCHAR values bytewise
const METRIC_COLUMNS = (['outbound', 'inbound'] as const).flatMap((r) => METRICS.flatMap((m) => WINDOWS.map((w) => wideName(r, m, w)))).sort(byteOrder);
const EXPECTED_COLUMNS = ['host_ip', 'window_end_ts', 'segment_id', ...TIME_CONTEXT, ...METRIC_COLUMNS, 'mini_batch_id', 'feature_spec_version'];

// [event_start UTC, source_ip, destination_ip, destination_port, source_bytes, destination_bytes, action, transport]
type Ev = [string, string, string, number, number, number, string, string];
const EVENTS: Ev[] = [
  // batch 23:00 (slice_end 23:15)
  [`${DAY} 23:01:10`, '10.0.0.1', '8.8.8.8', 443, 500, 1500, 'allow', 'TCP'],
  [`${DAY} 23:04:00`, '10.0.0.1', '8.8.8.8', 443, 700, 0, 'allow', 'TCP'],
  [`${DAY} 23:06:30`, '10.0.0.2', '1.1.1.1', 53, 80, 120, 'allow', 'UDP'], // 10.0.0.2's only outbound on DAY
  [`${DAY} 23:09:00`, '10.0.0.1', '10.0.0.2', 22, 3000, 4000, 'allow', 'TCP'],
  // batch 23:15
  [`${DAY} 23:16:00`, '10.0.0.1', '8.8.8.8', 443, 900, 2500, 'allow', 'TCP'],
  [`${DAY} 23:20:00`, '10.0.0.1', '8.8.8.8', 80, 60, 0, 'deny', 'TCP'],
  // batch 23:30: 10.0.0.3 is only ever a responder (inbound only)
  [`${DAY} 23:33:00`, '10.0.0.1', '1.1.1.1', 53, 70, 140, 'allow', 'UDP'],
  [`${DAY} 23:35:00`, '203.0.113.5', '10.0.0.3', 445, 1200, 300, 'allow', 'TCP'],
  [`${DAY} 23:40:00`, '203.0.113.5', '10.0.0.3', 445, 1300, 0, 'deny', 'TCP'],
  // batch 23:45: 192.168.1.20 is only ever an initiator (outbound only)
  [`${DAY} 23:47:00`, '10.0.0.1', '8.8.8.8', 443, 400, 800, 'allow', 'TCP'],
  [`${DAY} 23:50:00`, '192.168.1.20', '10.0.0.2', 3389, 5000, 9000, 'allow', 'TCP'],
  // batch 00:00 of the next day (its FG-A is built with novelty disabled)
  [`${NEXT} 00:02:00`, '10.0.0.2', '8.8.8.8', 443, 100, 200, 'allow', 'TCP'],
  [`${NEXT} 00:05:00`, '10.0.0.1', '8.8.8.8', 443, 150, 250, 'allow', 'TCP'],
];

async function writeRaw() {
  mkdirSync(join(tmp.dir, 'raw'), { recursive: true });
  const inst = await DuckDBInstance.create(':memory:');
  const c = await inst.connect();
  try {
    await c.run(`SET TimeZone = 'UTC'`);
    const values = EVENTS.map(([t, s, d, p, sb, db, a, tr], i) => `(TIMESTAMP '${t}', '${s}', '${d}', ${40000 + i}, ${p}, ${sb}, ${db}, '${a}', '${tr}')`).join(',\n');
    await c.run(`
      COPY (
        SELECT source_ip, destination_ip, source_port::INTEGER AS source_port, destination_port::INTEGER AS destination_port,
               source_bytes::BIGINT AS source_bytes, destination_bytes::BIGINT AS destination_bytes,
               ts AS event_start, ts + INTERVAL 2 SECOND AS event_end, event_action,
               'aged-out' AS event_reason, 'TRAFFIC' AS event_name, network_transport
        FROM (VALUES ${values}) v(ts, source_ip, destination_ip, source_port, destination_port, source_bytes, destination_bytes, event_action, network_transport)
      ) TO '${RAW}' (FORMAT parquet)`);
  } finally {
    c.closeSync();
    inst.closeSync();
  }
}

const common = (jobspecs = JOBSPECS) => ['--warehouse', WH, '--raw', RAW, '--raw-format', 'parquet', '--preset', 'paloalto', '--jobspecs', jobspecs, '--cache-dir', join(WH, '.cache'), '--log-format', 'json'];

type Row = Record<string, any>;
let ctx: RunContext;
let fgA: Row[];

async function exportDay(day: string, out: string, jobspecs = JOBSPECS) {
  return runCli(['export', 'fg-a-wide', '--date', day, '--out', out, ...common(jobspecs)]);
}
async function readWide(file: string): Promise<{ columns: { name: string; type: string }[]; rows: Row[] }> {
  const columns = await ctx.session.all<{ column_name: string; column_type: string }>(`DESCRIBE SELECT * FROM read_parquet('${file}')`);
  const rows = await ctx.session.all<Row>(`SELECT * FROM read_parquet('${file}')`);
  return { columns: columns.map((c) => ({ name: c.column_name, type: c.column_type })), rows };
}
const key = (host: string, end: Date) => `${host}|${end.toISOString()}`;
const iso = (s: string) => new Date(`${s}Z`);

beforeAll(async () => {
  await writeRaw();
  // JobSpecs identical to the demo but with novelty disabled (only the FG-A builder differs).
  cpSync(JOBSPECS, NO_NOVELTY_SPECS, { recursive: true });
  writeFileSync(join(NO_NOVELTY_SPECS, 'demo', 'fg_a_builder#v1.json'), JSON.stringify({ novelty: { enabled: false } }));

  const raw = await runCli(['build', 'delta,delta_peers,pair_counts', '--from', `${DAY}T23:00`, '--to', `${NEXT}T00:15`, ...common()]);
  expect(raw.code, raw.stderr).toBe(0);
  const a = await runCli(['build', 'fg-a', '--from', `${DAY}T23:00`, '--to', `${NEXT}T00:00`, ...common()]);
  expect(a.code, a.stderr).toBe(0);
  const b = await runCli(['build', 'fg-a', '--batch', `${NEXT}T00:00`, ...common(NO_NOVELTY_SPECS)]);
  expect(b.code, b.stderr).toBe(0);

  ctx = await testContext({ warehouse: WH, raw: RAW, rawFormat: 'parquet' });
  fgA = await readDataset(ctx, 'fg_a', 'host_ip, role, window_label, window_end_ts');
}, 120_000);
afterAll(() => {
  ctx?.session.close();
  tmp.cleanup();
});

/** Every wide row against the FG-A rows of the same (host_ip, window_end_ts); `metrics` are the ones checked. */
function expectMatchesFgA(rows: Row[], source: Row[], metrics: string[]) {
  const byRow = new Map<string, Row>();
  const byHostEnd = new Map<string, Row[]>();
  for (const r of source) {
    byRow.set(`${key(r.host_ip, r.window_end_ts)}|${r.role}|${r.window_label}`, r);
    byHostEnd.set(key(r.host_ip, r.window_end_ts), [...(byHostEnd.get(key(r.host_ip, r.window_end_ts)) ?? []), r]);
  }
  // one row per (host_ip, window_end_ts), ordered, none missing, none extra
  const expectedKeys = [...byHostEnd.keys()].sort(byteOrder);
  expect(rows.map((r) => key(r.host_ip, r.window_end_ts))).toEqual(expectedKeys);
  let present = 0;
  let absent = 0;
  for (const w of rows) {
    const k = key(w.host_ip, w.window_end_ts);
    const group = byHostEnd.get(k)!;
    for (const col of ['segment_id', ...TIME_CONTEXT, 'mini_batch_id', 'feature_spec_version']) {
      expect(new Set(group.map((g) => g[col])).size, `${k} ${col} constant over the FG-A rows`).toBe(1);
      expect(w[col], `${k} ${col}`).toEqual(group[0][col]);
    }
    for (const role of ['outbound', 'inbound'] as const) {
      for (const window of WINDOWS) {
        const src = byRow.get(`${k}|${role}|${window}`);
        if (src) present++;
        else absent++;
        for (const m of metrics) {
          const col = wideName(role, m, window);
          expect(col in w, `column ${col}`).toBe(true);
          const got = w[col];
          const want = src ? src[m] : null;
          if (want === null || want === undefined) expect(got, `${k} ${col}`).toBeNull();
          else if (Number.isInteger(want)) expect(got, `${k} ${col}`).toBe(want);
          else expect(Math.abs(got - want), `${k} ${col}: ${got} vs ${want}`).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(want)));
        }
      }
    }
  }
  return { present, absent };
}

describe('ndr-sql export fg-a-wide', () => {
  const out = join(tmp.dir, 'out', `wide-${DAY}.parquet`);
  let wide: Awaited<ReturnType<typeof readWide>>;
  let dayFgA: Row[];

  beforeAll(async () => {
    mkdirSync(join(tmp.dir, 'out'), { recursive: true });
    const r = await exportDay(DAY, out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const exported = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).find((e) => e.event === 'exported');
    expect(exported).toMatchObject({ dataset: 'fg_a_wide', rows: 11, file: out });
    wide = await readWide(out);
    dayFgA = fgA.filter((r) => r.dt === DAY);
  });

  it('the FG-A read back holds what the fixture implies (sanity of the expected side)', () => {
    expect(new Set(fgA.map((r) => r.dt))).toEqual(new Set([DAY, NEXT]));
    const columns = Object.keys(fgA[0]);
    expect(columns.filter((c) => !FG_A_NON_METRICS.includes(c)).sort()).toEqual([...METRICS].sort());
    expect(new Set(dayFgA.map((r) => r.window_label))).toEqual(new Set(WINDOWS));
    expect(dayFgA.some((r) => r.new_peer_cnt === null)).toBe(false); // novelty enabled on DAY
    expect(fgA.filter((r) => r.dt === NEXT).every((r) => NOVELTY.every((m) => r[m] === null))).toBe(true); // disabled on NEXT
  });

  it('writes exactly the documented columns, in order, keys and time context once', () => {
    expect(wide.columns.map((c) => c.name)).toEqual(EXPECTED_COLUMNS);
    expect(wide.columns).toHaveLength(14 + METRICS.length * 2 * WINDOWS.length); // 14 + 48 x 2 roles x 5 windows = 494
    const type = Object.fromEntries(wide.columns.map((c) => [c.name, c.type]));
    expect([type.host_ip, type.window_end_ts, type.segment_id, type.time_band, type.hour_of_day]).toEqual(['VARCHAR', 'TIMESTAMP', 'VARCHAR', 'VARCHAR', 'INTEGER']);
    expect(METRIC_COLUMNS.every((c) => type[c] === 'DOUBLE')).toBe(true);
    for (const perRow of ['role', 'window_label', 'window_start_ts', 'record_id', 'dt', 'hh', 'mm']) expect(type[perRow], perRow).toBeUndefined();
    // no time-context or key column was spread over roles and windows
    expect(wide.columns.filter((c) => /^(in_)?(hour_of_day|day_of_week|is_\w+_hours|is_weekend|is_holiday|is_offday|time_band|segment_id|mini_batch_id)_w_/.test(c.name))).toEqual([]);
  });

  it('one row per (host_ip, window_end_ts) of the day; only the day selected', () => {
    expect(wide.rows).toHaveLength(11);
    expect(wide.rows).toHaveLength(new Set(dayFgA.map((r) => key(r.host_ip, r.window_end_ts))).size);
    // by hand: anchors 23:15, 23:30, 23:45, 00:00 (batches 23:00..23:45 of DAY); NEXT's 00:15 is not exported
    expect(wide.rows.map((r) => `${r.host_ip} ${r.window_end_ts.toISOString().slice(11, 16)}`)).toEqual([
      '10.0.0.1 23:15', '10.0.0.1 23:30', '10.0.0.1 23:45', '10.0.0.1 00:00',
      '10.0.0.2 23:15', '10.0.0.2 23:30', '10.0.0.2 23:45', '10.0.0.2 00:00',
      '10.0.0.3 23:45', '10.0.0.3 00:00',
      '192.168.1.20 00:00',
    ]);
  });

  it('every metric cell equals its FG-A row, NULL where the host had no row for that role and window', () => {
    const { present, absent } = expectMatchesFgA(wide.rows, dayFgA, METRICS);
    expect(present).toBe(dayFgA.length); // every FG-A row landed somewhere
    expect(absent).toBe(11 * 2 * WINDOWS.length - dayFgA.length); // and the rest of the slots are NULL
    expect(absent).toBeGreaterThan(0);
  });

  it('hand-computed values from the raw sessions', () => {
    const at = (host: string, end: string) => wide.rows.find((r) => r.host_ip === host && r.window_end_ts.getTime() === iso(end).getTime())!;
    const h1 = at('10.0.0.1', `${NEXT}T00:00:00`);
    // 10.0.0.1 outbound: w_15m = {23:47}; w_30m = {23:33, 23:47}; w_1h.. = all 7 of its DAY sessions
    expect([h1.sessions_cnt_w_15m, h1.sessions_cnt_w_30m, h1.sessions_cnt_w_1h, h1.sessions_cnt_w_8h, h1.sessions_cnt_w_24h]).toEqual([1, 2, 7, 7, 7]);
    expect(h1.bytes_src_sum_w_1h).toBe(500 + 700 + 3000 + 900 + 60 + 70 + 400);
    expect(h1.bytes_dst_sum_w_1h).toBe(1500 + 0 + 4000 + 2500 + 0 + 140 + 800);
    expect([h1.deny_cnt_w_1h, h1.zero_reply_cnt_w_1h, h1.udp_cnt_w_30m, h1.peer_ip_nunique_w_1h, h1.admin_port_sessions_cnt_w_1h]).toEqual([1, 2, 1, 3, 1]);
    expect(Math.abs(h1.deny_ratio_w_1h - 1 / (7 + 1e-9))).toBeLessThanOrEqual(1e-12);
    expect(Math.abs(h1.transport_udp_ratio_w_30m - 1 / (2 + 1e-9))).toBeLessThanOrEqual(1e-12);
    // 10.0.0.1 was never a responder on DAY: every inbound column is NULL
    expect(METRICS.flatMap((m) => WINDOWS.map((w) => h1[wideName('inbound', m, w)])).every((v) => v === null)).toBe(true);
    // time context of T = 2026-11-25 00:00 UTC = Wednesday 02:00 in Asia/Jerusalem
    expect(TIME_CONTEXT.map((c) => h1[c])).toEqual([2, 3, 0, 0, 1, 0, 0, 0, 'off_hours']);
    expect([h1.segment_id, h1.mini_batch_id, h1.feature_spec_version]).toEqual(['10.0.0.0/24', '20261124T2345Z', 'v1']);
    expect(TIME_CONTEXT.map((c) => at('10.0.0.1', `${DAY}T23:15:00`)[c])).toEqual([1, 3, 0, 0, 1, 0, 0, 0, 'off_hours']);

    const h2 = at('10.0.0.2', `${NEXT}T00:00:00`);
    // outbound: its only DAY session (23:06, slice_end 23:15) is outside w_15m and w_30m of T = 00:00, inside w_1h
    expect([h2.sessions_cnt_w_15m, h2.sessions_cnt_w_30m, h2.sessions_cnt_w_1h, h2.udp_cnt_w_1h, h2.bytes_src_sum_w_1h]).toEqual([null, null, 1, 1, 80]);
    // inbound: 23:50 from 192.168.1.20 (w_15m) and 23:09 from 10.0.0.1 (w_1h); host-centric bytes
    expect([h2.in_sessions_cnt_w_15m, h2.in_sessions_cnt_w_30m, h2.in_sessions_cnt_w_1h]).toEqual([1, 1, 2]);
    expect([h2.in_bytes_src_sum_w_1h, h2.in_bytes_dst_sum_w_1h, h2.in_admin_port_sessions_cnt_w_1h, h2.in_peer_ip_nunique_w_1h]).toEqual([4000 + 9000, 3000 + 5000, 2, 2]);
    expect(Math.abs(h2.in_peer_ip_entropy_w_1h - Math.log(2))).toBeLessThanOrEqual(1e-12);
    expect(at('10.0.0.2', `${DAY}T23:30:00`).sessions_cnt_w_15m).toBeNull();
    expect(at('10.0.0.2', `${DAY}T23:30:00`).sessions_cnt_w_30m).toBe(1);

    const h3 = at('10.0.0.3', `${NEXT}T00:00:00`);
    // inbound only; its sessions (batch 23:30, slice_end 23:45) are outside w_15m of T = 00:00
    expect([h3.in_sessions_cnt_w_15m, h3.in_sessions_cnt_w_30m, h3.in_deny_cnt_w_30m, h3.in_zero_reply_cnt_w_30m]).toEqual([null, 2, 1, 1]);
    expect([h3.in_bytes_src_sum_w_30m, h3.in_bytes_dst_sum_w_30m, h3.in_high_risk_port_sessions_cnt_w_30m, h3.in_has_high_risk_port_activity_w_30m]).toEqual([300, 2500, 2, 1]);
    expect(METRICS.flatMap((m) => WINDOWS.map((w) => h3[wideName('outbound', m, w)])).every((v) => v === null)).toBe(true);

    const h4 = at('192.168.1.20', `${NEXT}T00:00:00`);
    expect([h4.segment_id, h4.sessions_cnt_w_15m, h4.sessions_cnt_w_24h, h4.admin_port_sessions_cnt_w_15m, h4.has_high_risk_port_activity_w_15m]).toEqual(['192.168.1.0/24', 1, 1, 1, 1]);
    expect(METRICS.flatMap((m) => WINDOWS.map((w) => h4[wideName('inbound', m, w)])).every((v) => v === null)).toBe(true);
  });

  it('writes the file atomically: no temporary file is left beside it', () => {
    expect(readdirSync(join(tmp.dir, 'out'))).toEqual([`wide-${DAY}.parquet`]);
  });

  describe('novelty disabled (the next day, built with fg_a_builder.novelty.enabled = false)', () => {
    const file = join(tmp.dir, `wide-${NEXT}.parquet`);
    let next: Awaited<ReturnType<typeof readWide>>;
    beforeAll(async () => {
      const r = await exportDay(NEXT, file, NO_NOVELTY_SPECS);
      expect(r.code, r.stderr).toBe(0);
      next = await readWide(file);
    });

    it('the seven novelty metrics keep their columns, NULL (FEATURES.md §4.3 "the seven columns are NULL", §4.5)', () => {
      expect(next.rows.map((x) => `${x.host_ip} ${x.window_end_ts.toISOString().slice(11, 16)}`)).toEqual(['10.0.0.1 00:15', '10.0.0.2 00:15', '10.0.0.3 00:15', '192.168.1.20 00:15']);
      const missing = EXPECTED_COLUMNS.filter((c) => !next.columns.some((x) => x.name === c));
      expect(missing, 'columns missing from the export').toEqual([]);
      expect(next.columns.map((c) => c.name)).toEqual(EXPECTED_COLUMNS); // the same schema as a novelty-enabled day
      for (const row of next.rows) for (const m of NOVELTY) for (const w of WINDOWS) for (const role of ['outbound', 'inbound'] as const) expect(row[wideName(role, m, w)]).toBeNull();
    });

    it('every other metric still equals its FG-A row', () => {
      const nextFgA = fgA.filter((x) => x.dt === NEXT);
      // The novelty columns are checked in the test above.
      const { present } = expectMatchesFgA(next.rows, nextFgA, METRICS.filter((m) => !NOVELTY.includes(m)));
      expect(present).toBe(nextFgA.length);
    });
  });

  it('a date without FG-A exits 3 with one line naming the build command, and writes nothing', async () => {
    const file = join(tmp.dir, 'none.parquet');
    const r = await exportDay('2026-11-20', file);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe('ndr-sql: error: input not ready: no committed fg_a partitions for the selection; run ndr-sql build fg-a first\n');
    expect(existsSync(file)).toBe(false);
  });

  it('--out in a directory that does not exist: exit 1, one line naming it, nothing created', async () => {
    const file = join(tmp.dir, 'no-such-dir', 'x.parquet');
    const r = await exportDay(DAY, file);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`ndr-sql: error: export: cannot write --out ${file}: directory ${join(tmp.dir, 'no-such-dir')} does not exist\n`);
    expect(existsSync(join(tmp.dir, 'no-such-dir'))).toBe(false);
  });

  it('an unknown dataset is a usage error (exit 2)', async () => {
    const r = await runCli(['export', 'fg-c', '--date', DAY, '--out', join(tmp.dir, 'c.parquet'), ...common()]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/unknown dataset fg-c; expected one of fg_a_wide/);
    expect(existsSync(join(tmp.dir, 'c.parquet'))).toBe(false);
  });
});
