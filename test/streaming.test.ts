/**
 * delta, delta_peers and pair_counts over a hand-built Palo Alto fixture,
 * checked against an independent TypeScript reading of FEATURES.md
 * (test/support/reference.ts) and against hand-computed values; and the DQ
 * counters of rows that break several rules at once.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchesInRange } from '../src/engine/batches.ts';
import { buildFromRaw } from '../src/pipeline/build-raw.ts';
import type { RunContext } from '../src/pipeline/context.ts';
import { applyDq, referenceDelta, referenceDeltaPeers, referencePairCounts, type RawRow } from './support/reference.ts';
import { FIXTURES, readDataset, tempDir, testContext } from './support/context.ts';

const RAW = join(FIXTURES, 'raw/paloalto/fw-2026-03-26.ndjson');
const FROM = Date.parse('2026-03-26T23:45:00Z');
const BATCHES = batchesInRange(FROM, FROM + 3 * 900_000);
const rawRows: RawRow[] = readFileSync(RAW, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const ref = applyDq(rawRows, BATCHES.map((b) => b.start));

/** Float columns (durations, quantiles) compare with a relative tolerance of 1e-9; counts and sums must match exactly. */
const FLOAT_TOL = 1e-9;
const FLOAT_COLUMNS = /^(duration_|bytes_(sent|recv)_p\d+$)/;

let ctx: RunContext;
const tmp = tempDir();
let built: Awaited<ReturnType<typeof buildFromRaw>>;

beforeAll(async () => {
  ctx = await testContext({ warehouse: tmp.dir, raw: RAW, rawFormat: 'ndjson', preset: 'paloalto' });
  built = await buildFromRaw(ctx, ['delta', 'delta_peers', 'pair_counts'], BATCHES);
});
afterAll(() => {
  ctx.session.close();
  tmp.cleanup();
});

function expectRowsMatch(actual: Record<string, unknown>[], expected: Record<string, unknown>[], key: (r: Record<string, unknown>) => string) {
  expect(actual.map(key).sort()).toEqual(expected.map(key).sort());
  const byKey = new Map(actual.map((r) => [key(r), r]));
  for (const e of expected) {
    const a = byKey.get(key(e))!;
    for (const [col, v] of Object.entries(e)) {
      if (col.endsWith('_ms') || col.endsWith('_us')) continue;
      if (typeof v === 'number' && FLOAT_COLUMNS.test(col)) expect(Math.abs((a[col] as number) - v), `${key(e)} ${col}`).toBeLessThanOrEqual(FLOAT_TOL * Math.max(1, Math.abs(v)));
      else expect(a[col], `${key(e)} ${col}`).toEqual(v);
    }
  }
}

describe('streaming transforms over the Palo Alto fixture', () => {
  it('commits one partition per batch of each dataset (glob input spans 23:45..00:14)', () => {
    // The plain glob covers batches 23:45 and 00:00; 00:15 lies outside the data's span: a gap, not an empty success.
    expect(built.committed.map((m) => m.partition).sort()).toEqual(
      ['delta', 'delta_peers', 'pair_counts'].flatMap((d) => [
        `${d}/feature_spec_version=v1/dt=2026-03-26/hh=23/mm=45`,
        `${d}/feature_spec_version=v1/dt=2026-03-27/hh=00/mm=00`,
      ]).sort(),
    );
    expect(built.missing.map((b) => b.start)).toEqual([FROM + 2 * 900_000]);
  });

  it('counts every DQ rule in the manifest, by hand', () => {
    const m = built.committed.find((x) => x.partition.startsWith('delta/') && x.partition.endsWith('mm=45'))!;
    // 23:45 batch: 12 rows placed there; 1 all-null row, 1 malformed IP dropped -> 10 kept;
    // the -5 bytes and the end<start rows are repaired, not dropped.
    expect(m.dq).toMatchObject({ rows_read: 12, filter_null_bytes_ports: 1, drop_malformed_ip: 1, bytes_non_negative: 1, duration_non_negative: 1 });
    expect(m.dq.rows_kept).toBe(10);
    // Rows no batch could take: the NULL event_start and the one from 2026-03-25.
    expect(m.notes?.run_dq_unplaced).toMatchObject({ null_event_start: 1, outside_batch: 1 });
    expect(ref.counts).toMatchObject({ filter_null_bytes_ports: 1, drop_malformed_ip: 1, null_event_start: 1, outside_batch: 1 });
  });

  it('delta equals the independent reference on every column', async () => {
    const rows = await readDataset(ctx, 'delta', 'host_ip, role, slice_start_ts');
    const expected = referenceDelta(ref.events);
    expectRowsMatch(rows, expected, (r) => `${r.host_ip}|${r.role}|${r.slice_start_ms ?? (r.slice_start_ts as Date).getTime()}`);
  });

  it('delta: hand-checked values for host 10.1.1.10 outbound in 23:45', async () => {
    const rows = await readDataset(ctx, 'delta', 'host_ip, role, slice_start_ts');
    const h = rows.find((r) => r.host_ip === '10.1.1.10' && r.role === 'outbound' && r.mm === '45')!;
    // 8 sessions: 3 DNS, 445 reset-both (trimmed IP), 3389 alert, 445 with -5 bytes, 22 drop_icmp, ICMP.
    expect(h.sessions_cnt).toBe(8);
    expect(h.bytes_sent_sum).toBe(80 + 90 + 70 + 1200 + 500 + 0 + 300 + 64); // -5 repaired to NULL counts as 0
    expect(h.allow_cnt).toBe(5);
    expect(h.drop_cnt).toBe(2); // 'Reset Both' and 'drop_icmp' fold into the deny class
    expect(h.alert_cnt).toBe(1);
    expect(h.rst_cnt).toBe(1);
    expect(h.zero_reply_cnt).toBe(2);
    expect(h.high_risk_port_sessions_cnt).toBe(3); // 445, 3389, 445
    expect(h.admin_port_sessions_cnt).toBe(2); // 3389, 22
    expect(h.max_sessions_per_minute).toBe(3); // minute 23:45 has three DNS sessions
    expect(h.duration_sum).toBeCloseTo(0.5 + 0.25 + 1 + 3 + 120 + 2 + 0 + 0, 9);
    expect(h.mini_batch_id).toBe('20260326T2345Z');
    // the last microsecond of the batch stays in it; 00:00:00 exactly opens the next one
    const next = rows.find((r) => r.host_ip === '10.1.1.10' && r.role === 'outbound' && r.mm === '00')!;
    expect(next.sessions_cnt).toBe(3);
  });

  it('IPv6 host and inbound-only server', async () => {
    const rows = await readDataset(ctx, 'delta', 'host_ip, role, slice_start_ts');
    expect(rows.filter((r) => r.host_ip === 'fd00::10').map((r) => r.role)).toEqual(['outbound']);
    expect(rows.some((r) => r.host_ip === '203.0.113.5' || r.host_ip === '2001:db8::1')).toBe(false);
    const srv = rows.find((r) => r.host_ip === '10.2.0.5' && r.role === 'inbound')!;
    expect(srv.bytes_sent_sum).toBe(0 + 700 + 900 + 4000 + 64); // host-centric: what the server sent back
  });

  it('delta_peers equals the reference', async () => {
    const rows = await readDataset(ctx, 'delta_peers', 'host_ip, role, peer_ip, peer_port, slice_start_ts');
    const expected = referenceDeltaPeers(ref.events);
    expectRowsMatch(rows, expected, (r) => `${r.host_ip}|${r.role}|${r.peer_ip}|${r.peer_port}|${r.slice_start_ms ?? (r.slice_start_ts as Date).getTime()}`);
  });

  it('pair_counts equals the reference (not host-scoped, TRAFFIC only, port > 0)', async () => {
    const rows = await readDataset(ctx, 'pair_counts', 'src_ip, dst_ip, dst_port, slice_start_ts');
    const expected = referencePairCounts(ref.events).map(({ segment_id, ...r }) => (segment_id ? { ...r, segment_id } : r));
    expectRowsMatch(rows, expected, (r) => `${r.src_ip}|${r.dst_ip}|${r.dst_port}|${r.slice_start_ms ?? (r.slice_start_ts as Date).getTime()}`);
    expect(rows.find((r) => r.src_ip === 'fd00::10')!.segment_id).toBe('fd00:0000:0000:0000:0000:0000:0000:0000/64');
  });

  it('a rerun with unchanged inputs is skipped; --force rebuilds and replaces whole', async () => {
    const again = await buildFromRaw(ctx, ['delta', 'delta_peers', 'pair_counts'], BATCHES);
    expect(again.committed).toHaveLength(0);
    expect(again.skipped).toHaveLength(6);
  });
});

describe('DQ rules that overlap (FEATURES.md §1.1: the first rule in the order counts)', () => {
  const dir = tempDir('ndr-dq-order-');
  afterAll(() => dir.cleanup());

  it('a malformed IP outranks a NULL event_start and a row outside the batches, never the all-NULL bytes/ports rule', async () => {
    const base = {
      source_ip: '10.0.0.1', destination_ip: '8.8.8.8', source_port: 1000, destination_port: 443, source_bytes: 10, destination_bytes: 20,
      event_start: '2026-11-24T12:00:05Z', event_end: '2026-11-24T12:00:06Z', event_action: 'allow', event_name: 'TRAFFIC', network_transport: 'TCP',
    };
    const noBytesOrPorts = { source_bytes: null, destination_bytes: null, source_port: null, destination_port: null };
    const rows = [
      base, // kept
      { ...base, source_bytes: -5 }, // kept, repaired
      { ...base, source_ip: 'bad', ...noBytesOrPorts }, // rules 1 and 2: rule 1
      { ...base, destination_ip: null }, // rule 2 (a NULL address is malformed)
      { ...base, source_ip: '999.1.1.1', event_start: null }, // rules 2 and 3: rule 2, in no batch
      { ...base, source_ip: 'not-an-ip', event_start: '2026-11-24T13:00:00Z' }, // rules 2 and 4: rule 2, in no batch
      { ...base, event_start: null }, // rule 3
      { ...base, event_start: '2026-11-24T13:00:00Z' }, // rule 4
    ];
    const raw = join(dir.dir, 'overlap.json');
    writeFileSync(raw, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const c = await testContext({ warehouse: join(dir.dir, 'wh'), raw, rawFormat: 'ndjson', preset: 'paloalto' });
    try {
      const batch = batchesInRange(Date.parse('2026-11-24T12:00:00Z'), Date.parse('2026-11-24T12:15:00Z'));
      const { committed } = await buildFromRaw(c, ['delta'], batch);
      expect(committed).toHaveLength(1);
      const zero = { null_event_start: 0, outside_batch: 0, duration_non_negative: 0 };
      expect(committed[0].dq).toEqual({ rows_read: 4, filter_null_bytes_ports: 1, drop_malformed_ip: 1, bytes_non_negative: 1, rows_kept: 2, ...zero });
      expect(committed[0].notes?.run_dq_unplaced).toEqual({
        rows_read: 4, filter_null_bytes_ports: 0, drop_malformed_ip: 2, null_event_start: 1, outside_batch: 1,
        duration_non_negative: 0, bytes_non_negative: 0, rows_kept: 0,
      });
      expect(committed[0].row_count).toBe(1); // one host, outbound
    } finally {
      c.session.close();
    }
  });
});
