/**
 * Golden files: every case under fixtures/golden must rebuild to its CSVs, and
 * the CSVs themselves are checked here against values computed by hand
 * (Zeek) or by the independent reference (Palo Alto), so a golden file can
 * not be regenerated wrong without this suite noticing.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalJobSpecSource, loadJobSpecs } from '../src/config/jobspec-source.ts';
import { resolveRuntime } from '../src/config/runtime.ts';
import { loadGoldenCases } from '../src/golden/cases.ts';
import { compareRows, runGoldenCase } from '../src/golden/compare.ts';
import { silentLogger } from '../src/log/index.ts';
import { applyDq, referenceDelta, type RawRow } from './support/reference.ts';
import { FIXTURES, REPO } from './support/context.ts';

const GOLDEN = join(FIXTURES, 'golden');

function readCsv(file: string): Record<string, string>[] {
  const [head, ...lines] = readFileSync(file, 'utf8').trim().split('\n');
  const cols = head.split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [cols[i], v])));
}

describe('golden files', async () => {
  const cases = await loadGoldenCases(GOLDEN);
  const runtime = resolveRuntime({ jobspecs: join(REPO, 'jobspecs') }, {}, REPO);
  const specs = await loadJobSpecs(new LocalJobSpecSource(runtime.jobspecs), 'demo', 'v1');

  it('has the expected cases', () => {
    expect(cases.map((c) => c.name)).toEqual(['paloalto-basic', 'zeek-small']);
  });

  for (const c of cases) {
    it(`${c.name}: a fresh build matches its golden CSVs`, async () => {
      const mismatches = await runGoldenCase(c, { specs, runtime, log: silentLogger }, 'check');
      expect(mismatches).toEqual([]);
    });
  }

  it('zeek-small delta.csv holds the hand-computed values', () => {
    const rows = readCsv(join(GOLDEN, 'zeek-small/delta.csv'));
    const h = rows.find((r) => r.host_ip === '192.168.1.10' && r.role === 'outbound' && r.slice_start_ts === '2026-11-24 12:00:00')!;
    // C1 SF 1500/30000 2.5s, C2 REJ 0/0, C3 S0 unset duration, C4 RSTO 200/300 1s, C7 ICMP 64/64, C9 DNS 40/120 at 12:14:59.999999
    expect(h).toMatchObject({
      sessions_cnt: '6', bytes_sent_sum: '1804', bytes_recv_sum: '30484', allow_cnt: '4', drop_cnt: '2', rst_cnt: '1',
      tcp_cnt: '4', udp_cnt: '1', icmp_cnt: '1', zero_reply_cnt: '2', short_session_cnt: '5',
      high_risk_port_sessions_cnt: '2', admin_port_sessions_cnt: '2', fileshare_port_sessions_cnt: '1', max_sessions_per_minute: '5',
    });
    expect(Number(h.duration_sum)).toBeCloseTo(2.5 + 0.0001 + 0 + 1 + 0.001 + 0.02, 9);
    const inbound = rows.find((r) => r.host_ip === '192.168.1.10' && r.role === 'inbound')!;
    expect(inbound).toMatchObject({ bytes_sent_sum: '50', bytes_recv_sum: '100', rst_cnt: '1' }); // C5 RSTR, host-centric bytes
    // 203.0.113.9 -> 192.168.1.20:22 S0 with every byte unset: dropped (drop action), 0 reply
    const srv = rows.find((r) => r.host_ip === '192.168.1.20' && r.role === 'inbound')!;
    expect(srv).toMatchObject({ sessions_cnt: '2', drop_cnt: '2', admin_port_sessions_cnt: '1', high_risk_port_sessions_cnt: '1' });
  });

  it('paloalto-basic delta.csv equals the independent reference', () => {
    const rows = readCsv(join(GOLDEN, 'paloalto-basic/delta.csv'));
    const raw: RawRow[] = readFileSync(join(FIXTURES, 'raw/paloalto/fw-2026-03-26.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const from = Date.parse('2026-03-26T23:45:00Z');
    const ref = referenceDelta(applyDq(raw, [from, from + 900_000]).events);
    const asText = ref.map((r) => {
      const { slice_start_ms, ...rest } = r;
      return Object.fromEntries(Object.entries({ ...rest, slice_start_ts: new Date(slice_start_ms as number).toISOString().replace('T', ' ').slice(0, 19) }).map(([k, v]) => [k, v === null ? null : String(v)]));
    });
    const key = (r: Record<string, unknown>) => `${r.host_ip}|${r.role}|${r.slice_start_ts}`;
    const sortedRef = [...asText].sort((a, b) => (key(a) < key(b) ? -1 : 1));
    const sortedCsv = [...rows].sort((a, b) => (key(a) < key(b) ? -1 : 1));
    const cols = Object.keys(sortedRef[0]);
    const pick = (rs: Record<string, string | null>[]) => rs.map((r) => Object.fromEntries(cols.map((c) => [c, r[c] === '' ? null : r[c]])));
    const tol = Object.fromEntries(cols.filter((c) => /^(duration_|bytes_(sent|recv)_p)/.test(c)).map((c) => [c, 1e-9]));
    // integers print the same; floats compare within 1e-9
    expect(compareRows('delta', pick(sortedCsv).map(normaliseInts), pick(sortedRef).map(normaliseInts), tol)).toEqual([]);
  });
});

/** "64.0" (DuckDB CSV) and "64" (JS) are the same number. */
function normaliseInts(r: Record<string, string | null>) {
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v !== null && /^-?\d+\.0$/.test(v) ? v.slice(0, -2) : v]));
}
