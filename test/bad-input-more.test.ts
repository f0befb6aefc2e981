/**
 * More bad and unusual input through the CLI (in-process): the FG-B inventory
 * file, a free JobSpec field_mapping, plain Zeek TSV, FG-C without a baseline,
 * half-cut gzip and Parquet raw files, an NDJSON value whose type differs from
 * the rows DuckDB detected the types from, --internal-networks and
 * `build fg-b --reference ISO`. Errors are one line naming the file, column and
 * rule, with exit 1 (3 for "input not ready") and nothing committed.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, REPO, tempDir } from './support/context.ts';
import { runCli } from './support/cli.ts';
import { cliArgs, datasetRows, events, sameRows, writeRawFixture, writeTestJobSpecs } from './nightly/fixture.ts';

const tmp = tempDir('ndr-bad-more-');
afterAll(() => tmp.cleanup());
const JOBSPECS = join(REPO, 'jobspecs');
const PALOALTO = join(FIXTURES, 'raw', 'paloalto', 'fw-2026-03-26.ndjson');
/** The committed gzipped Zeek fixture; the test writes its plain twin (`*.log` files are git-ignored). */
const ZEEK_GZ = join(FIXTURES, 'raw', 'zeek', 'conn.2026-11-24-12.log.gz');
const ROW = {
  source_ip: '10.0.0.1', destination_ip: '10.0.0.2', source_port: 1000, destination_port: 443,
  source_bytes: 10, destination_bytes: 20, event_start: '2026-11-24T12:00:05Z', event_end: '2026-11-24T12:00:06Z',
  event_action: 'allow', event_reason: 'tcp-fin', event_name: 'TRAFFIC', network_transport: 'TCP',
};

type Result = { code: number; stderr: string; stdout: string };

function expectOneLineError(r: Result, code: number, ...parts: string[]) {
  expect(r.code, r.stderr).toBe(code);
  const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('ndr-sql:'));
  expect(lines, r.stderr).toHaveLength(1);
  for (const p of parts) expect(lines[0]).toContain(p);
  expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace without --debug
}

/** Committed partitions (manifests) and FG-B publication records under a warehouse. */
function visible(wh: string): string[] {
  if (!existsSync(wh)) return [];
  return readdirSync(wh, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('_manifest.json') || (f.includes('_publication') && f.endsWith('.json')));
}

/** A copy of a JobSpec directory (project demo) with some jobs patched. */
function specsWith(name: string, patch: Record<string, (j: Record<string, any>) => void>, from = JOBSPECS): string {
  const dir = join(tmp.dir, name);
  mkdirSync(join(dir, 'demo'), { recursive: true });
  cpSync(join(from, 'demo'), join(dir, 'demo'), { recursive: true });
  for (const [job, f] of Object.entries(patch)) {
    const file = join(dir, 'demo', `${job}#v1.json`);
    const j = JSON.parse(readFileSync(file, 'utf8'));
    f(j);
    writeFileSync(file, JSON.stringify(j, null, 2));
  }
  return dir;
}

const deltaHosts = (rows: Record<string, unknown>[]) => [...new Set(rows.map((r) => `${r.host_ip} ${r.role}`))].sort();

// ---------------------------------------------------------------------------
// Raw input: field_mapping, plain Zeek TSV, truncated files, --internal-networks
// ---------------------------------------------------------------------------
describe('raw input', () => {
  const PA_RANGE = ['--from', '2026-03-26T23:45:00Z', '--to', '2026-03-27T00:15:00Z'];

  it('a free field_mapping over non-canonical NDJSON builds the same delta as the canonical fixture', async () => {
    const rename: Record<string, string> = {
      source_ip: 'src_addr', destination_ip: 'dst_addr', source_port: 'sport', destination_port: 'dport',
      source_bytes: 'bytes_out', destination_bytes: 'bytes_in', event_start: 'start_time', event_end: 'end_time',
      event_action: 'act', event_reason: 'end_reason', event_name: 'log_type', network_transport: 'proto',
    };
    const lines = readFileSync(PALOALTO, 'utf8').trim().split('\n');
    const mappedFile = join(tmp.dir, 'mapped', 'fw.ndjson');
    mkdirSync(join(tmp.dir, 'mapped'), { recursive: true });
    writeFileSync(
      mappedFile,
      lines.map((l) => JSON.stringify(Object.fromEntries(Object.entries(JSON.parse(l)).map(([k, v]) => [rename[k], v])))).join('\n') + '\n',
    );
    expect(readFileSync(mappedFile, 'utf8')).not.toContain('"source_ip"');
    const specs = specsWith('specs-free-map', {
      project_parameters: (j) => (j.raw_input = { uri: mappedFile, format: 'ndjson', field_mapping: rename }),
    });

    const whCanon = join(tmp.dir, 'wh-canon');
    const whMapped = join(tmp.dir, 'wh-mapped');
    const canon = await runCli(['build', 'delta', ...PA_RANGE, '--raw', PALOALTO, '--raw-format', 'ndjson', '--preset', 'paloalto', '--warehouse', whCanon, '--jobspecs', JOBSPECS]);
    expect(canon.code, canon.stderr).toBe(0);
    // No --raw / --preset: the JobSpec's raw_input (uri, format, field_mapping) is the whole description.
    const mapped = await runCli(['build', 'delta', ...PA_RANGE, '--warehouse', whMapped, '--jobspecs', specs]);
    expect(mapped.code, mapped.stderr).toBe(0);

    const a = await datasetRows(whCanon, 'delta');
    const b = await datasetRows(whMapped, 'delta');
    expect(b.partitions).toEqual(a.partitions);
    expect(a.rows.length).toBe(7); // as fixtures/golden/paloalto-basic/delta.csv
    expect(sameRows(a.rows, b.rows)).toBeUndefined();
    // 23:45 batch, outbound 10.1.1.10, from the fixture lines: 8 rows survive DQ and the batch filter
    // (the all-NULL ports/bytes row, the NULL event_start row and the 03-25 row do not); -5 bytes become NULL.
    const out = b.rows.find((r) => r.host_ip === '10.1.1.10' && r.role === 'outbound' && r.mm === '45')!;
    expect([Number(out.sessions_cnt), Number(out.bytes_sent_sum), Number(out.bytes_recv_sum)]).toEqual([
      8, 80 + 90 + 70 + 1200 + 500 + 0 + 300 + 64, 160 + 0 + 140 + 0 + 700 + 900 + 300 + 64,
    ]);
  });

  it('plain (not gzipped) Zeek TSV builds the same delta as its gzipped twin, with values from the fixture lines', async () => {
    const ZEEK = join(tmp.dir, 'zeek-plain', 'conn.2026-11-24-12.log');
    mkdirSync(join(tmp.dir, 'zeek-plain'), { recursive: true });
    writeFileSync(ZEEK, gunzipSync(readFileSync(ZEEK_GZ)));
    const range = ['--from', '2026-11-24T12:00:00Z', '--to', '2026-11-24T12:30:00Z'];
    const build = (raw: string, wh: string) =>
      runCli(['build', 'delta', ...range, '--raw', raw, '--raw-format', 'zeek_tsv', '--preset', 'zeek_conn', '--warehouse', wh, '--jobspecs', JOBSPECS]);
    const whPlain = join(tmp.dir, 'wh-zeek-plain');
    const whGz = join(tmp.dir, 'wh-zeek-gz');
    const rp = await build(ZEEK, whPlain);
    expect(rp.code, rp.stderr).toBe(0);
    const rg = await build(ZEEK_GZ, whGz);
    expect(rg.code, rg.stderr).toBe(0);
    const plain = await datasetRows(whPlain, 'delta');
    const gz = await datasetRows(whGz, 'delta');
    expect(plain.partitions).toEqual(gz.partitions);
    expect(plain.partitions).toHaveLength(2);
    expect(sameRows(plain.rows, gz.rows)).toBeUndefined();

    // Independently from the fixture lines: 192.168.1.10 opened C1, C2, C3, C4, C7 and C9 (…499.999999)
    // in [12:00, 12:15); C8 (…500.000000 = 12:15:00) is the only one of the 12:15 batch.
    expect(new Date(1795521600_000).toISOString()).toBe('2026-11-24T12:00:00.000Z');
    expect(new Date(1795522500_000).toISOString()).toBe('2026-11-24T12:15:00.000Z');
    const row = (host: string, role: string, mm: string) => plain.rows.find((r) => r.host_ip === host && r.role === role && r.mm === mm)!;
    const o1200 = row('192.168.1.10', 'outbound', '00');
    expect(Number(o1200.sessions_cnt)).toBe(6);
    expect(Number(o1200.bytes_sent_sum)).toBe(1500 + 0 + 0 + 200 + 64 + 40);
    expect(Number(o1200.bytes_recv_sum)).toBe(30000 + 0 + 0 + 300 + 64 + 120);
    expect(Number(o1200.udp_cnt)).toBe(1);
    expect(Number(o1200.icmp_cnt)).toBe(1);
    const o1215 = row('192.168.1.10', 'outbound', '15');
    expect([Number(o1215.sessions_cnt), Number(o1215.bytes_sent_sum), Number(o1215.bytes_recv_sum)]).toEqual([1, 40, 120]);
    // C6 from 203.0.113.9 (not internal) to 192.168.1.20:22 and C2 (REJ) from 192.168.1.10: two inbound sessions, both denied.
    const i20 = row('192.168.1.20', 'inbound', '00');
    expect([Number(i20.sessions_cnt), Number(i20.drop_cnt)]).toEqual([2, 2]);
    expect(deltaHosts(plain.rows)).toEqual([
      '192.168.1.1 inbound', '192.168.1.10 inbound', '192.168.1.10 outbound', '192.168.1.20 inbound',
      '192.168.1.20 outbound', '192.168.1.21 inbound', '192.168.1.22 inbound',
    ]);
  });

  it('a gzip NDJSON raw file cut in half: exit 1, one line naming the file, nothing committed', async () => {
    const dir = join(tmp.dir, 'cut-gz');
    mkdirSync(dir, { recursive: true });
    const rows = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ ...ROW, source_port: 1000 + i, source_bytes: (i * 7919) % 100_003 }));
    const gz = gzipSync(Buffer.from(rows.join('\n') + '\n'));
    const file = join(dir, 'half.json.gz');
    writeFileSync(file, gz.subarray(0, Math.floor(gz.length / 2)));
    const wh = join(tmp.dir, 'wh-cut-gz');
    const r = await runCli(['build', 'delta', '--batch', '2026-11-24T12:00', '--raw', file, '--raw-format', 'ndjson', '--warehouse', wh, '--jobspecs', JOBSPECS]);
    expectOneLineError(r, 1, file);
    expect(visible(wh)).toEqual([]);
  });

  it('an NDJSON value of another type after the rows DuckDB detects types from: one line naming the file, field, type and value, exit 1, nothing committed', async () => {
    // DuckDB detects an NDJSON file's types from its first 20,480 rows; the bad value comes after them.
    const dir = join(tmp.dir, 'late-type');
    mkdirSync(join(dir, 'dt=2026-11-24', 'hh=12'), { recursive: true });
    const rows = Array.from({ length: 25_000 }, (_, i) => JSON.stringify({ ...ROW, source_port: 1000 + (i % 5000) }));
    rows.push(JSON.stringify({ ...ROW, event_start: '24/11/2026 12:00' }));
    const file = join(dir, 'dt=2026-11-24', 'hh=12', 'late.json');
    writeFileSync(file, rows.join('\n') + '\n');
    const wh = join(tmp.dir, 'wh-late-type');
    for (const raw of [join(dir, 'dt={dt}', 'hh={hh}', '*.json'), join(dir, '**', '*.json')]) {
      const r = await runCli(['build', 'delta', '--batch', '2026-11-24T12:00', '--raw', raw, '--raw-format', 'ndjson', '--warehouse', wh, '--jobspecs', JOBSPECS]);
      expectOneLineError(r, 1, `file ${file}`, 'column event_start', 'rule one type per ndjson field (TIMESTAMP', 'value "24/11/2026 12:00" is not a TIMESTAMP');
      expect(visible(wh)).toEqual([]);
    }
  });

  it('a Parquet raw file cut in half: exit 1, one line naming the file and the rule, nothing committed', async () => {
    const dir = join(tmp.dir, 'cut-parquet');
    mkdirSync(dir, { recursive: true });
    const whole = join(dir, 'whole.parquet');
    const inst = await DuckDBInstance.create(':memory:');
    const c = await inst.connect();
    try {
      await c.run(`COPY (SELECT '10.0.0.' || (1 + i % 5) AS source_ip, '8.8.8.8' AS destination_ip, (1000 + i)::INTEGER AS source_port,
                           443::INTEGER AS destination_port, (i * 13)::BIGINT AS source_bytes, (i * 7)::BIGINT AS destination_bytes,
                           TIMESTAMP '2026-11-24 12:00:00' + to_seconds(i % 900) AS event_start,
                           TIMESTAMP '2026-11-24 12:00:01' + to_seconds(i % 900) AS event_end
                    FROM range(5000) t(i)) TO '${whole}' (FORMAT parquet)`);
    } finally {
      c.closeSync();
      inst.closeSync();
    }
    // The whole file builds (so the cut, not the content, is what fails).
    const ok = await runCli(['build', 'delta', '--batch', '2026-11-24T12:00', '--raw', whole, '--raw-format', 'parquet', '--warehouse', join(tmp.dir, 'wh-whole-parquet'), '--jobspecs', JOBSPECS]);
    expect(ok.code, ok.stderr).toBe(0);
    const bytes = readFileSync(whole);
    const file = join(dir, 'half.parquet');
    writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const wh = join(tmp.dir, 'wh-cut-parquet');
    const r = await runCli(['build', 'delta', '--batch', '2026-11-24T12:00', '--raw', file, '--raw-format', 'parquet', '--warehouse', wh, '--jobspecs', JOBSPECS]);
    expectOneLineError(r, 1, file, 'readable parquet');
    expect(visible(wh)).toEqual([]);
  });

  it('--internal-networks from the CLI decides which hosts get delta rows', async () => {
    const hostsWith = async (name: string, extra: string[]) => {
      const wh = join(tmp.dir, `wh-nets-${name}`);
      const r = await runCli(['build', 'delta', ...PA_RANGE, '--raw', PALOALTO, '--raw-format', 'ndjson', '--preset', 'paloalto', '--warehouse', wh, '--jobspecs', JOBSPECS, ...extra]);
      expect(r.code, r.stderr).toBe(0);
      return deltaHosts((await datasetRows(wh, 'delta')).rows);
    };
    // JobSpec default: the private ranges (10/8, 172.16/12, 192.168/16, fc00::/7).
    expect(await hostsWith('default', [])).toEqual(['10.1.1.10 inbound', '10.1.1.10 outbound', '10.1.1.11 outbound', '10.2.0.5 inbound', '10.2.0.6 inbound', 'fd00::10 outbound']);
    // A CIDR list: only 10.1.1.11 (a /32) and the IPv6 ULA host; 10.1.1.10 and 10.2.0.0/16 drop out.
    expect(await hostsWith('list', ['--internal-networks', '10.1.1.11/32,fd00::/8'])).toEqual(['10.1.1.11 outbound', 'fd00::10 outbound']);
    expect(await hostsWith('server', ['--internal-networks', '10.2.0.0/16'])).toEqual(['10.2.0.5 inbound', '10.2.0.6 inbound']);
    // all: every address is a host in both roles, peers on the internet included.
    const all = await hostsWith('all', ['--internal-networks', 'all']);
    expect(all).toEqual(expect.arrayContaining(['8.8.8.8 inbound', '8.8.4.4 inbound', '203.0.113.5 outbound', '2001:db8::1 inbound', '10.1.1.10 outbound']));
    expect(all).not.toContain('10.1.1.300 outbound'); // malformed IP: dropped by DQ, not a host
  });
});

// ---------------------------------------------------------------------------
// FG-B inventory, FG-C without a baseline, fg-b --reference ISO
// ---------------------------------------------------------------------------
describe('FG-B and FG-C from the CLI', () => {
  const DAY = '2026-11-24';
  let specs: string;
  let raw: string;
  let base: string;
  /** A copy of the warehouse with FG-A built, so that each test starts from the same state. */
  const fresh = (name: string) => {
    const wh = join(tmp.dir, `wh-fg-${name}`);
    cpSync(base, wh, { recursive: true });
    return wh;
  };
  const args = (wh: string, jobspecs = specs) => cliArgs(wh, raw, jobspecs);
  /** One warehouse with FG-B built by `build fg-b --reference 2026-11-24T11:00:00Z`, shared by the last two tests. */
  let refWh: Promise<string> | undefined;
  const referenceWarehouse = () =>
    (refWh ??= (async () => {
      const wh = fresh('fgb-ref');
      const r = await runCli(['build', 'fg-b', '--reference', `${DAY}T11:00:00Z`, ...args(wh)]);
      expect(r.code, r.stderr).toBe(0);
      return wh;
    })());

  beforeAll(async () => {
    // Small demo JobSpecs: windows 15m/1h, one 1-day FG-B horizon (head 0), daily schedule.
    specs = writeTestJobSpecs(join(tmp.dir, 'specs-fg'), 'daily');
    raw = (await writeRawFixture(join(tmp.dir, 'raw-fg'), [DAY])).uri;
    base = join(tmp.dir, 'wh-fg-base');
    const r = await runCli(['build', 'fg-a', '--from', `${DAY}T10:00`, '--to', `${DAY}T12:15`, '--upstream', ...args(base)]);
    expect(r.code, r.stderr).toBe(0);
    expect(visible(base).filter((p) => p.startsWith('fg_a/'))).toHaveLength(9); // 10:00 .. 12:00
  }, 120_000);

  it('an inventory CSV without the expected columns: one line naming the file and the missing column, exit 1', async () => {
    const wh = fresh('inv-cols');
    const noIp = join(tmp.dir, 'inventory-no-ip.csv');
    writeFileSync(noIp, 'address,machine_name\n10.0.0.1,VDI-01\n');
    const r1 = await runCli(['build', 'fg-b', '--date', DAY, ...args(wh, specsWith('specs-inv-ip', { fg_b_builder: (j) => (j.inventory_file = noIp) }, specs))]);
    expectOneLineError(r1, 1, `file ${noIp}`, 'column ip', 'inventory has columns ip, machine_name', 'fg_b_builder#v1.inventory_file', 'found address, machine_name');
    const noName = join(tmp.dir, 'inventory-no-name.csv');
    writeFileSync(noName, 'ip,hostname\n10.0.0.1,VDI-01\n');
    const r2 = await runCli(['build', 'fg-b', '--date', DAY, ...args(wh, specsWith('specs-inv-name', { fg_b_builder: (j) => (j.inventory_file = noName) }, specs))]);
    expectOneLineError(r2, 1, `file ${noName}`, 'column machine_name', 'inventory has columns ip, machine_name');
    expect(visible(wh).filter((p) => p.startsWith('fg_b'))).toEqual([]);
  });

  it('the inventory is optional (FEATURES.md §6.4), but one that is configured and missing is an error naming it, exit 1', async () => {
    const wh = fresh('inv-missing');
    const missing = join(tmp.dir, 'no-such-dir', 'inventory.csv');
    const r = await runCli(['build', 'fg-b', '--date', DAY, ...args(wh, specsWith('specs-inv-missing', { fg_b_builder: (j) => (j.inventory_file = missing) }, specs))]);
    expectOneLineError(r, 1, `file ${missing}`, 'rule inventory readable', 'ENOENT');
    expect(visible(wh).filter((p) => p.startsWith('fg_b'))).toEqual([]);
    // Not configured at all, FG-B builds and marks no host non-persistent: see the --reference test below.
  });

  it('a Parquet inventory (the JobSpec schema documents CSV/Parquet/JSON) is read, or refused in one clear line naming the file and rule', async () => {
    const wh = fresh('inv-parquet');
    const pq = join(tmp.dir, 'inventory.parquet');
    const inst = await DuckDBInstance.create(':memory:');
    const c = await inst.connect();
    try {
      await c.run(`COPY (SELECT '10.0.0.1' AS ip, 'vdi-pool-07' AS machine_name) TO '${pq}' (FORMAT parquet)`);
    } finally {
      c.closeSync();
      inst.closeSync();
    }
    const s = specsWith('specs-inv-parquet', { fg_b_builder: (j) => ((j.inventory_file = pq), (j.non_persistent_machine_prefixes = ['vdi-'])) }, specs);
    const r = await runCli(['build', 'fg-b', '--reference', `${DAY}T12:00:00Z`, ...args(wh, s)]);
    if (r.code === 0) {
      const meta = (await datasetRows(wh, 'fg_b/ip_metadata')).rows;
      expect([...new Set(meta.filter((m) => Number(m.is_non_persistent_machine) === 1).map((m) => m.host_ip))]).toEqual(['10.0.0.1']);
    } else {
      expectOneLineError(r, 1, `file ${pq}`, 'rule inventory', 'fg_b_builder#v1.inventory_file');
      expect(r.stderr.trim().length).toBeLessThan(400); // not DuckDB's CSV sniffer dump of binary bytes
      expect(visible(wh).filter((p) => p.startsWith('fg_b'))).toEqual([]);
    }
  });

  it('a valid inventory marks the listed hosts non-persistent by prefix', async () => {
    const wh = fresh('inv-ok');
    const inv = join(tmp.dir, 'inventory-ok.csv');
    writeFileSync(inv, 'ip,machine_name,site\n10.0.0.1,vdi-pool-07,tlv\n 10.0.0.2 ,WS-0002,tlv\n');
    const s = specsWith('specs-inv-ok', { fg_b_builder: (j) => ((j.inventory_file = inv), (j.non_persistent_machine_prefixes = ['VDI-'])) }, specs);
    const r = await runCli(['build', 'fg-b', '--reference', `${DAY}T12:00:00Z`, ...args(wh, s)]);
    expect(r.code, r.stderr).toBe(0);
    const meta = (await datasetRows(wh, 'fg_b/ip_metadata')).rows;
    expect(meta.length).toBeGreaterThan(0);
    const marked = [...new Set(meta.filter((m) => Number(m.is_non_persistent_machine) === 1).map((m) => m.host_ip))];
    expect(marked).toEqual(['10.0.0.1']);
    expect(meta.filter((m) => m.host_ip === '10.0.0.1').every((m) => Number(m.is_cold_start) === 1)).toBe(true);
  });

  it('build fg-c without an FG-B baseline exits 3 naming the horizon and the fg-b command; --allow-missing-baseline exits 0', async () => {
    const wh = fresh('fgc-missing');
    const r = await runCli(['build', 'fg-c', '--batch', `${DAY}T12:00`, ...args(wh)]);
    expectOneLineError(r, 3, 'input not ready', 'horizon 1d', `ndr-sql build fg-b --date ${DAY}`);
    expect(visible(wh).filter((p) => p.startsWith('fg_c') || p.startsWith('fg_b'))).toEqual([]);

    const ok = await runCli(['build', 'fg-c', '--batch', `${DAY}T12:00`, '--allow-missing-baseline', ...args(wh)]);
    expect(ok.code, ok.stderr).toBe(0);
    const fgc = await datasetRows(wh, 'fg_c');
    expect(fgc.partitions).toEqual([`fg_c/feature_spec_version=v1/baseline_horizon=1d/dt=${DAY}/hh=12/mm=00`]);
    const fga = await datasetRows(wh, `fg_a/feature_spec_version=v1/dt=${DAY}/hh=12/mm=00`);
    expect(fgc.rows).toHaveLength(fga.rows.length);
    expect(fgc.rows.length).toBeGreaterThan(0);
    expect(new Set(fgc.rows.map((x) => x.baseline_source))).toEqual(new Set(['none']));
    expect(fgc.rows.every((x) => x.sessions_cnt_z_mad === null && x.pair_rarity_mean === null)).toBe(true);
  });

  it('top over FG-C partitions without rows (no host in scope) prints the empty table and says why', async () => {
    // TEST-NET-1 holds none of the fixture's hosts: every partition of the chain is committed empty.
    const wh = join(tmp.dir, 'wh-fg-empty-scope');
    const scope = ['--internal-networks', '192.0.2.0/24'];
    const b = await runCli(['build', 'fg-c', '--batch', `${DAY}T12:00`, '--upstream', '--allow-missing-baseline', ...args(wh), ...scope]);
    expect(b.code, b.stderr).toBe(0);
    expect((await datasetRows(wh, 'fg_c')).rows).toEqual([]);
    const r = await runCli(['top', '--date', DAY, '--horizon', '1d', '--log-format', 'json', ...args(wh), ...scope]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n').filter((l) => !l.startsWith('{'))).toHaveLength(1); // the header only
    const warning = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l))
      .find((e) => e.event === 'top_empty');
    expect(warning?.msg).toBe(`no rows in the fg_c partitions of ${DAY} (horizon 1d, 1 committed): no host in scope was active; check internal_networks (--internal-networks)`);
  });

  it('top: a --limit below 1 or not whole, and a horizon the JobSpecs do not define, are usage errors (exit 2), not an empty table', async () => {
    const wh = join(tmp.dir, 'wh-fg-empty-scope'); // built by the test above
    for (const limit of ['0', '-3', '2.5']) {
      const r = await runCli(['top', '--date', DAY, '--horizon', '1d', '--limit', limit, ...args(wh)]);
      expectOneLineError(r, 2, `--limit must be a whole number of hosts >= 1, got ${Number(limit)}`);
    }
    const typo = await runCli(['top', '--date', DAY, '--horizon', '1w', ...args(wh)]);
    expectOneLineError(typo, 2, 'no fg_c partitions for horizon 1w, which is not a horizon of the JobSpecs (1d)');
    // A defined horizon without partitions that day is still "not built yet" (exit 3 with the command).
    const notYet = await runCli(['top', '--date', '2026-11-20', '--horizon', '1d', ...args(wh)]);
    expectOneLineError(notYet, 3, 'input not ready: no fg_c partitions for 2026-11-20 horizon 1d; run ndr-sql build fg-c --date 2026-11-20 --upstream');
  });

  it('status on a warehouse that does not exist yet reports everything missing and creates nothing', async () => {
    const wh = join(tmp.dir, 'not-yet', 'wh');
    // (the cache directory, where DuckDB spills, is the user's choice: kept outside here)
    const r = await runCli(['status', '--date', DAY, ...args(wh).slice(0, -2), '--cache-dir', join(tmp.dir, 'cache-not-yet')]);
    expect(r.code, r.stderr).toBe(0);
    const delta = events(r.stdout).find((e) => e.event === 'status' && e.dataset === 'delta');
    expect(delta).toMatchObject({ committed: 0, missing: 96, failed: 0 });
    expect(existsSync(join(tmp.dir, 'not-yet'))).toBe(false);
  });

  it('build fg-b --reference ISO commits FG-B for that reference instant (publication record and partition path)', async () => {
    const wh = await referenceWarehouse();
    const pubFile = join(wh, 'fg_b/_publication/feature_spec_version=v1/baseline_horizon=1d/reference_date=2026-11-24.json');
    const pub = JSON.parse(readFileSync(pubFile, 'utf8'));
    expect(pub).toMatchObject({
      baseline_horizon: '1d',
      reference_date: DAY,
      reference_ts: `${DAY}T11:00:00Z`,
      baseline_start_ts: '2026-11-23T11:00:00Z',
      baseline_end_ts: `${DAY}T11:00:00Z`,
    });
    // FG-A rows with window_end_ts in [11-23 11:00, 11-24 11:00): batches 10:00, 10:15 and 10:30 of those built.
    expect(pub.input_coverage).toMatchObject({ fg_a_batches_found: 3, fg_a_batches_expected: 96 });
    const host = await datasetRows(wh, 'fg_b/host');
    expect(host.partitions).toEqual(['fg_b/host/feature_spec_version=v1/baseline_horizon=1d/reference_date=2026-11-24']);
    expect(host.rows.length).toBeGreaterThan(0);
    expect(new Set(host.rows.map((x) => x.reference_date))).toEqual(new Set([DAY]));
    expect(pub.row_counts.host).toBe(host.rows.length);
    // Only those three batches' FG-A rows: at most 3 observations per host, role and window.
    expect(Math.max(...host.rows.map((x) => Number(x.total_rows)))).toBe(3);
    const ts = (v: unknown) => (v instanceof Date ? v.toISOString() : String(v));
    expect(new Set(host.rows.map((x) => ts(x.baseline_end_ts)))).toEqual(new Set(['2026-11-24T11:00:00.000Z']));
    // No inventory configured (it is optional): no host is non-persistent.
    const meta = (await datasetRows(wh, 'fg_b/ip_metadata')).rows;
    expect(meta.length).toBeGreaterThan(0);
    expect(meta.every((m) => Number(m.is_non_persistent_machine) === 0)).toBe(true);

    // FG-C after the reference instant uses it.
    const after = await runCli(['build', 'fg-c', '--batch', `${DAY}T12:00`, ...args(wh)]);
    expect(after.code, after.stderr).toBe(0);
    const fgc = (await datasetRows(wh, `fg_c/feature_spec_version=v1/baseline_horizon=1d/dt=${DAY}/hh=12`)).rows;
    expect(fgc.length).toBeGreaterThan(0);
    expect(new Set(fgc.map((x) => x.baseline_reference_date))).toEqual(new Set([DAY]));
  });

  it('FG-C of a batch before the --reference instant does not use that baseline (FEATURES.md §7: T_ref <= batch_start)', async () => {
    const wh = await referenceWarehouse();
    // Batch 10:00 starts before T_ref = 11:00, and the baseline holds FG-A rows up to 10:45: no baseline qualifies.
    const before = await runCli(['build', 'fg-c', '--batch', `${DAY}T10:00`, ...args(wh)]);
    expectOneLineError(before, 3, 'horizon 1d');
    expect(visible(wh).filter((p) => p.startsWith('fg_c') && p.includes('/hh=10/'))).toEqual([]);
  });
});
