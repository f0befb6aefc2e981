/**
 * src/synth: deterministic synthetic enterprise traffic with four injected attacks.
 * One 60-host × 8-day Parquet run (2026-11-17 Tue … 2026-11-24 Tue, attacks on
 * the 24th) is inspected through DuckDB; smaller runs cover determinism,
 * NDJSON and the scale knob.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesize, type Attacker, type AttackKind, type SynthResult } from '../src/synth/index.ts';

const root = mkdtempSync(join(tmpdir(), 'ndr-synth-test-'));
const ATTACK_DAY = '2026-11-24';

let main: SynthResult;
let mainMs = 0;
let db: DuckDBInstance;
let conn: DuckDBConnection;

function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  return v;
}

async function q<T = Record<string, unknown>>(sql: string): Promise<T[]> {
  const reader = await conn.runAndReadAll(sql);
  return reader.getRowObjectsJS().map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, plain(v)])) as T);
}

async function one<T = Record<string, unknown>>(sql: string): Promise<T> {
  return (await q<T>(sql))[0];
}

function attacker(kind: AttackKind): Attacker {
  const a = main.groundTruth.attackers.find((x) => x.kind === kind);
  if (!a) throw new Error(`no ${kind} attacker`);
  return a;
}

function sqlStr(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

function hashes(files: string[], base: string): Record<string, string> {
  return Object.fromEntries(files.map((f) => [relative(base, f), createHash('sha256').update(readFileSync(f)).digest('hex')]));
}

beforeAll(async () => {
  const t0 = performance.now();
  main = await synthesize({ hosts: 60, days: 8, start: '2026-11-17', seed: 42, out: join(root, 'main'), format: 'parquet' });
  mainMs = performance.now() - t0;
  db = await DuckDBInstance.create(':memory:');
  conn = await db.connect();
  await conn.run(`SET TimeZone = 'UTC'`);
  const out = join(root, 'main');
  await conn.run(`CREATE TABLE raw AS SELECT * EXCLUDE (filename), regexp_extract(filename, 'dt=([0-9-]+)/hh=([0-9]+)/part-0\\.parquet$', ['dt', 'hh']) AS part
    FROM read_parquet(${sqlStr(join(out, 'raw', '*', '*', '*.parquet'))}, filename = true, hive_partitioning = false)`);
  await conn.run(`CREATE TABLE inv AS SELECT * FROM read_csv(${sqlStr(main.inventoryFile)})`);
  // Local (Asia/Jerusalem) time of every event, for the calendar checks.
  await conn.run(`CREATE VIEW local AS SELECT *, timezone('Asia/Jerusalem', event_start::TIMESTAMPTZ) AS lt FROM raw`);
});

afterAll(() => {
  conn?.closeSync();
  db?.closeSync();
  rmSync(root, { recursive: true, force: true });
});

describe('layout and schema', () => {
  it('writes one Parquet file per UTC hour under raw/dt=/hh=/part-0.parquet', () => {
    expect(main.files).toHaveLength(8 * 24);
    expect(relative(join(root, 'main'), main.files[0])).toBe(join('raw', 'dt=2026-11-17', 'hh=00', 'part-0.parquet'));
    expect(relative(join(root, 'main'), main.files[191])).toBe(join('raw', 'dt=2026-11-24', 'hh=23', 'part-0.parquet'));
    for (const f of main.files) expect(existsSync(f)).toBe(true);
    expect(existsSync(main.groundTruthFile)).toBe(true);
  });

  it('uses the Palo Alto preset canonical names and types', async () => {
    const cols = await q<{ column_name: string; column_type: string }>(
      `DESCRIBE SELECT * FROM read_parquet(${sqlStr(main.files[100])}, hive_partitioning = false)`,
    );
    expect(cols.map((c) => [c.column_name, c.column_type])).toEqual([
      ['source_ip', 'VARCHAR'],
      ['destination_ip', 'VARCHAR'],
      ['source_port', 'INTEGER'],
      ['destination_port', 'INTEGER'],
      ['source_bytes', 'BIGINT'],
      ['destination_bytes', 'BIGINT'],
      ['event_start', 'TIMESTAMP'],
      ['event_end', 'TIMESTAMP'],
      ['event_action', 'VARCHAR'],
      ['event_reason', 'VARCHAR'],
      ['event_name', 'VARCHAR'],
      ['network_transport', 'VARCHAR'],
    ]);
    const vocab = await one<{ actions: string[]; reasons: string[]; names: string[]; transports: string[] }>(`SELECT
      list(DISTINCT event_action ORDER BY event_action) AS actions, list(DISTINCT event_reason ORDER BY event_reason) AS reasons,
      list(DISTINCT event_name ORDER BY event_name) AS names, list(DISTINCT network_transport ORDER BY network_transport) AS transports FROM raw`);
    expect(vocab.actions).toEqual(['alert', 'allow', 'deny', 'drop', 'reset-both', 'reset-client']);
    expect(vocab.reasons).toEqual(['aged-out', 'n/a', 'policy-deny', 'tcp-fin', 'tcp-rst-from-client', 'tcp-rst-from-server']);
    expect(vocab.names).toEqual(['THREAT', 'TRAFFIC']);
    expect(vocab.transports).toEqual(['ICMP', 'TCP', 'UDP']);
  });

  it('places every event in the file of its event_start hour, sorted by time', async () => {
    const r = await one<{ n: number; misplaced: number; backwards: number }>(`
      SELECT count(*) AS n,
        count(*) FILTER (WHERE strftime(event_start, '%Y-%m-%d') <> part.dt OR strftime(event_start, '%H') <> part.hh) AS misplaced,
        count(*) FILTER (WHERE event_end < event_start) AS backwards
      FROM raw`);
    expect(r.n).toBe(main.events);
    expect(r.misplaced).toBe(0);
    expect(r.backwards).toBe(0);
    // Within a file, rows are in event_start order.
    const f = main.files[24 + 10];
    const order = await one<{ unsorted: number; n: number }>(`
      SELECT count(*) FILTER (WHERE prev > event_start) AS unsorted, count(*) AS n
      FROM (SELECT event_start, lag(event_start) OVER (ORDER BY file_row_number) AS prev FROM read_parquet(${sqlStr(f)}, file_row_number = true))`);
    expect(order.n).toBeGreaterThan(500);
    expect(order.unsorted).toBe(0);
  });

  it('writes ground_truth.json with the four attackers, all on the last day', () => {
    const gt = JSON.parse(readFileSync(main.groundTruthFile, 'utf8'));
    expect(gt).toEqual(main.groundTruth);
    expect(gt).toMatchObject({ seed: 42, start: '2026-11-17', days: 8, attack_day: ATTACK_DAY });
    const kinds = gt.attackers.map((a: Attacker) => a.kind).sort();
    expect(kinds).toEqual(['beaconing', 'exfiltration', 'lateral_movement', 'port_scan']);
    const ips = gt.attackers.map((a: Attacker) => a.host_ip);
    expect(new Set(ips).size).toBe(4);
    for (const a of gt.attackers as Attacker[]) {
      expect(a.host_ip).toMatch(/^10\.10\.\d+\.\d+$/); // workstations
      expect(a.start.slice(0, 10)).toBe(ATTACK_DAY);
      expect(a.end.slice(0, 10)).toBe(ATTACK_DAY);
      expect(Date.parse(a.end)).toBeGreaterThan(Date.parse(a.start));
      expect(a.description.length).toBeGreaterThan(40);
      expect(a.sessions).toBeGreaterThan(50);
    }
  });

  it('generates 60 hosts × 8 days quickly', () => {
    // The budget is 5 s on an idle 2-core machine; allow headroom for a loaded CI box.
    expect(mainMs).toBeLessThan(15_000);
    expect(main.events).toBeGreaterThan(100_000);
    expect(main.events).toBeLessThan(250_000);
  });
});

describe('determinism', () => {
  it('same seed gives byte-identical files; another seed differs (Parquet)', async () => {
    const opts = { hosts: 24, days: 2, start: '2026-03-26', format: 'parquet' as const };
    const a = await synthesize({ ...opts, seed: 7, out: join(root, 'det-a') });
    const b = await synthesize({ ...opts, seed: 7, out: join(root, 'det-b') });
    const c = await synthesize({ ...opts, seed: 8, out: join(root, 'det-c') });
    const ha = hashes([...a.files, a.groundTruthFile, a.inventoryFile], join(root, 'det-a'));
    const hb = hashes([...b.files, b.groundTruthFile, b.inventoryFile], join(root, 'det-b'));
    const hc = hashes([...c.files, c.groundTruthFile], join(root, 'det-c'));
    expect(Object.keys(ha)).toHaveLength(48 + 2);
    expect(hb).toEqual(ha);
    expect(a.events).toBe(b.events);
    const differing = Object.keys(hc).filter((k) => hc[k] !== ha[k]);
    expect(differing.length).toBe(Object.keys(hc).length);
    expect(c.groundTruth.attackers.map((x) => x.host_ip)).not.toEqual(a.groundTruth.attackers.map((x) => x.host_ip));
  });

  it('NDJSON.gz is deterministic too and carries exactly the Parquet rows', async () => {
    const opts = { hosts: 24, days: 2, start: '2026-03-26', seed: 7 };
    const a = await synthesize({ ...opts, format: 'ndjson', out: join(root, 'nd-a') });
    const b = await synthesize({ ...opts, format: 'ndjson', out: join(root, 'nd-b') });
    expect(a.files[0].endsWith(join('dt=2026-03-26', 'hh=00', 'part-0.json.gz'))).toBe(true);
    expect(hashes(b.files, join(root, 'nd-b'))).toEqual(hashes(a.files, join(root, 'nd-a')));
    const first = readFileSync(a.files[12]);
    expect(first[0]).toBe(0x1f); // gzip
    const cols = `{source_ip: 'VARCHAR', destination_ip: 'VARCHAR', source_port: 'INTEGER', destination_port: 'INTEGER',
      source_bytes: 'BIGINT', destination_bytes: 'BIGINT', event_start: 'TIMESTAMP', event_end: 'TIMESTAMP',
      event_action: 'VARCHAR', event_reason: 'VARCHAR', event_name: 'VARCHAR', network_transport: 'VARCHAR'}`;
    const nd = `read_json(${sqlStr(join(root, 'nd-a', 'raw', '*', '*', '*.json.gz'))}, format = 'newline_delimited', columns = ${cols})`;
    const pq = `read_parquet(${sqlStr(join(root, 'det-a', 'raw', '*', '*', '*.parquet'))})`;
    const r = await one<{ n_nd: number; n_pq: number; only_nd: number; only_pq: number }>(`SELECT
      (SELECT count(*) FROM ${nd}) AS n_nd, (SELECT count(*) FROM ${pq}) AS n_pq,
      (SELECT count(*) FROM (SELECT * FROM ${nd} EXCEPT ALL SELECT * FROM ${pq})) AS only_nd,
      (SELECT count(*) FROM (SELECT * FROM ${pq} EXCEPT ALL SELECT * FROM ${nd})) AS only_pq`);
    expect(r.n_nd).toBe(a.events);
    expect(r.n_pq).toBe(a.events);
    expect(r.only_nd).toBe(0);
    expect(r.only_pq).toBe(0);
    // Timestamps are ISO-8601 UTC with microseconds.
    const line = (await import('node:zlib')).gunzipSync(first).toString('utf8').split('\n')[0];
    expect(JSON.parse(line).event_start).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
  });

  it('eventsPerHostPerDay scales the volume', async () => {
    const opts = { hosts: 30, days: 1, start: '2026-11-24', seed: 3, format: 'parquet' as const };
    const lo = await synthesize({ ...opts, out: join(root, 'scale-lo'), eventsPerHostPerDay: 200 });
    const hi = await synthesize({ ...opts, out: join(root, 'scale-hi'), eventsPerHostPerDay: 800 });
    // Attacks add a fixed ~2.5k sessions on top of the baseline.
    const base = (r: SynthResult) => r.events - r.groundTruth.attackers.reduce((s, a) => s + a.sessions, 0);
    expect(base(hi) / base(lo)).toBeGreaterThan(3);
    expect(base(hi) / base(lo)).toBeLessThan(5);
  });

  it('rejects bad options with a clear message', async () => {
    const ok = { hosts: 30, days: 1, start: '2026-11-24', seed: 1, out: join(root, 'bad'), format: 'parquet' as const };
    await expect(synthesize({ ...ok, hosts: 5 })).rejects.toThrow(/hosts must be/);
    await expect(synthesize({ ...ok, start: '2026-02-30' })).rejects.toThrow(/not a calendar date/);
    await expect(synthesize({ ...ok, start: '24/11/2026' })).rejects.toThrow(/YYYY-MM-DD/);
    await expect(synthesize({ ...ok, format: 'csv' as unknown as 'parquet' })).rejects.toThrow(/format/);
    await expect(synthesize({ ...ok, timezone: 'Mars/Olympus' })).rejects.toThrow(/timezone/);
  });
});

describe('realism', () => {
  it('follows the office clock: weekdays ≫ Fri/Sat, working hours ≫ night (Asia/Jerusalem)', async () => {
    const days = await q<{ d: string; dow: number; n: number }>(`
      SELECT strftime(lt, '%Y-%m-%d') AS d, isodow(lt) AS dow, count(*) AS n
      FROM local WHERE source_ip LIKE '10.10.%' AND lt::DATE BETWEEN DATE '2026-11-18' AND DATE '2026-11-23'
      GROUP BY ALL ORDER BY d`);
    const weekend = days.filter((d) => d.dow === 5 || d.dow === 6);
    const weekday = days.filter((d) => d.dow !== 5 && d.dow !== 6);
    expect(weekend.map((d) => d.d)).toEqual(['2026-11-20', '2026-11-21']);
    const avg = (xs: { n: number }[]) => xs.reduce((s, x) => s + x.n, 0) / xs.length;
    const ratio = avg(weekday) / avg(weekend);
    expect(ratio).toBeGreaterThan(4);
    expect(ratio).toBeLessThan(30);

    const hours = await one<{ work: number; night: number }>(`
      SELECT count(*) FILTER (WHERE hour(lt) BETWEEN 9 AND 16) / 8 AS work, count(*) FILTER (WHERE hour(lt) < 6) / 6 AS night
      FROM local WHERE source_ip LIKE '10.10.%' AND isodow(lt) NOT IN (5, 6) AND lt::DATE < DATE '2026-11-24'`);
    expect(hours.work / hours.night).toBeGreaterThan(8);
    expect(hours.night).toBeGreaterThan(0); // always-on machines still chatter at night
  });

  it('has segments, IPv6 hosts, servers with inbound traffic and a plausible mix', async () => {
    const seg = await q<{ seg: string; hosts: number }>(`
      SELECT CASE WHEN source_ip LIKE 'fd00:%' THEN 'v6' ELSE regexp_extract(source_ip, '^(\\d+\\.\\d+\\.\\d+)\\.', 1) END AS seg,
        count(DISTINCT source_ip) AS hosts
      FROM raw WHERE source_ip IN (SELECT ip FROM inv) GROUP BY ALL ORDER BY seg`);
    expect(Object.fromEntries(seg.map((s) => [s.seg, s.hosts]))).toMatchObject({ '10.10.1': expect.any(Number), '10.10.2': expect.any(Number), '10.20.0': 7, '10.30.0': 3, v6: 2 });

    const inbound = await one<{ dns: number; dc: number; file: number; web_from_internet: number }>(`SELECT
      count(*) FILTER (WHERE destination_port = 53 AND destination_ip LIKE '10.20.%' AND network_transport = 'UDP') AS dns,
      count(*) FILTER (WHERE destination_port IN (88, 389) AND destination_ip LIKE '10.20.%') AS dc,
      count(*) FILTER (WHERE destination_port = 445 AND destination_ip LIKE '10.20.%' AND source_ip LIKE '10.10.%') AS file,
      count(*) FILTER (WHERE destination_port = 443 AND destination_ip LIKE '10.20.%' AND NOT (source_ip LIKE '10.%' OR source_ip LIKE 'fd00:%')) AS web_from_internet
      FROM raw`);
    expect(inbound.dns).toBeGreaterThan(10_000);
    expect(inbound.dc).toBeGreaterThan(2_000);
    expect(inbound.file).toBeGreaterThan(1_000);
    expect(inbound.web_from_internet).toBeGreaterThan(500);

    const mix = await one<{ n: number; deny: number; threat: number; icmp: number; udp: number; ssh_from_admin: number; ssh_from_ws: number }>(`SELECT
      count(*) AS n,
      count(*) FILTER (WHERE event_action IN ('deny', 'drop', 'reset-both', 'reset-client')) AS deny,
      count(*) FILTER (WHERE event_name = 'THREAT') AS threat,
      count(*) FILTER (WHERE network_transport = 'ICMP') AS icmp,
      count(*) FILTER (WHERE network_transport = 'UDP') AS udp,
      count(*) FILTER (WHERE destination_port = 22 AND source_ip LIKE '10.30.%') AS ssh_from_admin,
      count(*) FILTER (WHERE destination_port = 22 AND source_ip LIKE '10.10.%' AND event_start < TIMESTAMP '2026-11-24') AS ssh_from_ws
      FROM raw`);
    expect(mix.deny / mix.n).toBeGreaterThan(0.005);
    expect(mix.deny / mix.n).toBeLessThan(0.05);
    expect(mix.threat).toBeGreaterThan(10);
    expect(mix.threat / mix.n).toBeLessThan(0.005);
    expect(mix.icmp).toBeGreaterThan(500);
    expect(mix.udp / mix.n).toBeGreaterThan(0.15);
    expect(mix.ssh_from_admin).toBeGreaterThan(20);
    expect(mix.ssh_from_ws).toBe(0);

    // Log-normal bytes: heavy right tail (mean far above median) for web downloads.
    const web = await one<{ med: number; mean: number; p99: number }>(`SELECT median(destination_bytes) AS med, avg(destination_bytes) AS mean,
      quantile_cont(destination_bytes, 0.99) AS p99 FROM raw WHERE destination_port = 443 AND source_ip LIKE '10.10.%' AND event_action = 'allow'`);
    expect(web.med).toBeGreaterThan(5_000);
    expect(web.med).toBeLessThan(60_000);
    expect(web.mean / web.med).toBeGreaterThan(2);
    expect(web.p99 / web.med).toBeGreaterThan(30);
  });

  it('each workstation has a stable set of favourite sites', async () => {
    // Share of a workstation's external web sessions that go to its top-5 destinations, weekday by weekday.
    const r = await one<{ share: number }>(`
      WITH s AS (SELECT source_ip, destination_ip, count(*) AS n FROM raw
        WHERE source_ip LIKE '10.10.%' AND destination_port = 443 AND NOT destination_ip LIKE '10.%' AND event_start < TIMESTAMP '2026-11-24'
        GROUP BY ALL),
      ranked AS (SELECT *, row_number() OVER (PARTITION BY source_ip ORDER BY n DESC, destination_ip) AS rk, sum(n) OVER (PARTITION BY source_ip) AS tot FROM s)
      SELECT median(top5 / tot) AS share FROM (SELECT source_ip, sum(n) FILTER (WHERE rk <= 5) AS top5, any_value(tot) AS tot FROM ranked GROUP BY source_ip)`);
    expect(r.share).toBeGreaterThan(0.5);
    expect(r.share).toBeLessThan(0.98);
  });

  it('injects a few DQ rows (≤ 0.1%) exactly as the ground truth counts them', async () => {
    const gt = main.groundTruth.dq_rows;
    const r = await one<{ malformed: number; null_all: number; negative: number; padded: number }>(`SELECT
      count(*) FILTER (WHERE source_ip IN ('', 'not-an-ip', '10.10.1.300', '999.12.4.1', '10.20.0', '::ffff:zz')
                          OR destination_ip IN ('', 'not-an-ip', '10.10.1.300', '999.12.4.1', '10.20.0', '::ffff:zz')) AS malformed,
      count(*) FILTER (WHERE source_bytes IS NULL AND destination_bytes IS NULL AND source_port IS NULL AND destination_port IS NULL) AS null_all,
      count(*) FILTER (WHERE source_bytes < 0 OR destination_bytes < 0) AS negative,
      count(*) FILTER (WHERE source_ip <> trim(source_ip)) AS padded
      FROM raw`);
    expect(r).toEqual({ malformed: gt.malformed_ip, null_all: gt.null_bytes_ports, negative: gt.negative_bytes, padded: gt.padded_ip });
    expect(gt.malformed_ip).toBeGreaterThan(0);
    expect(gt.null_bytes_ports).toBeGreaterThan(0);
    const total = gt.malformed_ip + gt.null_bytes_ports + gt.negative_bytes + gt.padded_ip;
    expect(total / main.events).toBeLessThanOrEqual(0.001);
  });
});

describe('injected attacks', () => {
  it('port scan: hundreds of internal IPs and ports within an hour, denied, no reply bytes', async () => {
    const a = attacker('port_scan');
    const last = await one<{ ips: number; ports: number; n: number; deny: number; zero: number; short: number; span_min: number }>(`
      SELECT count(DISTINCT destination_ip) AS ips, count(DISTINCT destination_port) AS ports, count(*) AS n,
        count(*) FILTER (WHERE event_action <> 'allow') AS deny, count(*) FILTER (WHERE destination_bytes = 0) AS zero,
        count(*) FILTER (WHERE event_end - event_start <= INTERVAL 1 SECOND) AS short,
        date_diff('minute', min(event_start), max(event_start)) AS span_min
      FROM raw WHERE source_ip = ${sqlStr(a.host_ip)} AND destination_ip LIKE '10.%'
        AND event_start BETWEEN ${sqlStr(a.start)}::TIMESTAMP AND ${sqlStr(a.end)}::TIMESTAMP`);
    expect(last.ips).toBeGreaterThanOrEqual(300);
    expect(last.ports).toBeGreaterThanOrEqual(100);
    expect(last.span_min).toBeLessThanOrEqual(60);
    expect(last.deny / last.n).toBeGreaterThan(0.5);
    expect(last.zero / last.n).toBeGreaterThan(0.8);
    expect(last.short / last.n).toBeGreaterThan(0.6);
    const before = await one<{ ips: number; ports: number }>(`
      SELECT max(ips) AS ips, max(ports) AS ports FROM (SELECT event_start::DATE, count(DISTINCT destination_ip) AS ips, count(DISTINCT destination_port) AS ports
      FROM raw WHERE source_ip = ${sqlStr(a.host_ip)} AND destination_ip LIKE '10.%' AND event_start < TIMESTAMP '2026-11-24' GROUP BY 1)`);
    expect(before.ips).toBeLessThan(15);
    expect(before.ports).toBeLessThan(15);
  });

  it('exfiltration: at night, SMB reads, refused SFTP/FTP, then hundreds of MB over 443 to one new provider', async () => {
    const a = attacker('exfiltration');
    const days = await q<{ d: string; sent: number }>(`
      SELECT strftime(event_start, '%Y-%m-%d') AS d, sum(source_bytes) AS sent FROM raw WHERE source_ip = ${sqlStr(a.host_ip)} GROUP BY 1 ORDER BY 1`);
    const last = days.find((d) => d.d === ATTACK_DAY)!.sent;
    const earlier = days.filter((d) => d.d < ATTACK_DAY).map((d) => d.sent).sort((x, y) => x - y);
    const median = earlier.length % 2 ? earlier[(earlier.length - 1) / 2] : (earlier[earlier.length / 2 - 1] + earlier[earlier.length / 2]) / 2;
    expect(last).toBeGreaterThan(20 * median);
    expect(last).toBeGreaterThan(300e6);
    const addrs = a.peer_ips!;
    expect(addrs).toHaveLength(6);
    expect(addrs[0]).toBe(a.peer_ip);
    expect(new Set(addrs.map((ip) => ip.split('.').slice(0, 3).join('.'))).size).toBe(1);
    const list = addrs.map(sqlStr).join(', ');
    const peer = await one<{ sent: number; recv: number; allowed_ports: number[]; refused: number; refused_ports: number[]; addrs: number; hours: number; first_lh: number; seen_before: number; other_hosts: number }>(`SELECT
      sum(source_bytes) FILTER (WHERE source_ip = ${sqlStr(a.host_ip)}) AS sent, sum(destination_bytes) FILTER (WHERE source_ip = ${sqlStr(a.host_ip)}) AS recv,
      list(DISTINCT destination_port ORDER BY destination_port) FILTER (WHERE event_action = 'allow') AS allowed_ports,
      count(*) FILTER (WHERE event_action <> 'allow') AS refused,
      list(DISTINCT destination_port ORDER BY destination_port) FILTER (WHERE event_action <> 'allow') AS refused_ports,
      count(DISTINCT destination_ip) AS addrs,
      date_diff('minute', min(event_start), max(event_end)) / 60.0 AS hours,
      hour(timezone('Asia/Jerusalem', min(event_start)::TIMESTAMPTZ)) AS first_lh,
      count(*) FILTER (WHERE event_start < TIMESTAMP '2026-11-24') AS seen_before,
      count(DISTINCT source_ip) FILTER (WHERE source_ip <> ${sqlStr(a.host_ip)}) AS other_hosts
      FROM raw WHERE destination_ip IN (${list})`);
    expect(peer.sent).toBeGreaterThan(500e6);
    expect(peer.sent / peer.recv).toBeGreaterThan(100);
    expect(peer.allowed_ports).toEqual([443]);
    expect(peer.refused).toBeGreaterThanOrEqual(12);
    expect(peer.refused_ports.every((p) => [21, 22, 990].includes(p))).toBe(true);
    expect(peer.addrs).toBe(6);
    expect(peer.hours).toBeGreaterThan(0.25);
    expect(peer.hours).toBeLessThan(3);
    expect(peer.first_lh).toBeGreaterThanOrEqual(2);
    expect(peer.first_lh).toBeLessThan(5);
    expect(peer.seen_before).toBe(0);
    expect(peer.other_hosts).toBe(0);
    // The collection before it: SMB reads of at least 100 MB from internal servers, at night.
    const smb = await one<{ n: number; recv: number; servers: number; night: number }>(`
      SELECT count(*) AS n, sum(destination_bytes) AS recv, count(DISTINCT destination_ip) AS servers,
        count(*) FILTER (WHERE hour(timezone('Asia/Jerusalem', event_start::TIMESTAMPTZ)) BETWEEN 2 AND 4) AS night
      FROM raw WHERE source_ip = ${sqlStr(a.host_ip)} AND destination_port = 445 AND event_start >= TIMESTAMP '${a.start.slice(0, 19)}'
        AND event_start < TIMESTAMP '${a.start.slice(0, 19)}' + INTERVAL 1 HOUR`);
    expect(smb.n).toBeGreaterThanOrEqual(50);
    expect(smb.recv).toBeGreaterThan(100e6);
    expect(smb.servers).toBeGreaterThanOrEqual(1);
    expect(smb.night).toBe(smb.n);
  });

  it('beaconing: a new external peer every ~60 s for many hours, night included, tiny payloads', async () => {
    const a = attacker('beaconing');
    const r = await one<{ n: number; night: number; med_gap: number; p10: number; p90: number; med_bytes: number; hours: number; seen_before: number }>(`
      WITH s AS (SELECT event_start, source_bytes, destination_bytes, hour(timezone('Asia/Jerusalem', event_start::TIMESTAMPTZ)) AS lh,
          epoch(event_start) - epoch(lag(event_start) OVER (ORDER BY event_start)) AS gap
        FROM raw WHERE source_ip = ${sqlStr(a.host_ip)} AND destination_ip = ${sqlStr(a.peer_ip!)})
      SELECT count(*) AS n, count(*) FILTER (WHERE lh < 6) AS night, median(gap) AS med_gap,
        quantile_cont(gap, 0.1) AS p10, quantile_cont(gap, 0.9) AS p90, median(source_bytes + destination_bytes) AS med_bytes,
        date_diff('minute', min(event_start), max(event_start)) / 60.0 AS hours,
        (SELECT count(*) FROM raw WHERE destination_ip = ${sqlStr(a.peer_ip!)} AND event_start < TIMESTAMP '2026-11-24') AS seen_before
      FROM s`);
    expect(r.n).toBeGreaterThan(1000);
    expect(r.hours).toBeGreaterThan(18);
    expect(r.night).toBeGreaterThan(200);
    expect(r.med_gap).toBeGreaterThan(57);
    expect(r.med_gap).toBeLessThan(63);
    expect(r.p90 - r.p10).toBeLessThan(10);
    expect(r.med_bytes).toBeLessThan(1_000);
    expect(r.seen_before).toBe(0);
    // Not a burst: at most a couple of sessions in any one minute.
    const burst = await one<{ m: number }>(`SELECT max(c) AS m FROM (SELECT count(*) AS c FROM raw
      WHERE source_ip = ${sqlStr(a.host_ip)} AND destination_ip = ${sqlStr(a.peer_ip!)} GROUP BY date_trunc('minute', event_start))`);
    expect(burst.m).toBeLessThanOrEqual(2);
  });

  it('lateral movement: dozens of internal hosts across segments on admin ports within an hour', async () => {
    const a = attacker('lateral_movement');
    const r = await one<{ peers: number; segs: number; ports: number[]; span_min: number }>(`
      SELECT count(DISTINCT destination_ip) AS peers, count(DISTINCT regexp_extract(destination_ip, '^(\\d+\\.\\d+\\.\\d+)\\.', 1)) AS segs,
        list(DISTINCT destination_port ORDER BY destination_port) AS ports,
        date_diff('minute', min(event_start), max(event_start)) AS span_min
      FROM raw WHERE source_ip = ${sqlStr(a.host_ip)} AND destination_ip LIKE '10.%' AND destination_port IN (22, 135, 445, 3389, 5985)
        AND event_start BETWEEN ${sqlStr(a.start)}::TIMESTAMP AND ${sqlStr(a.end)}::TIMESTAMP`);
    expect(r.peers).toBeGreaterThanOrEqual(35);
    expect(r.segs).toBeGreaterThanOrEqual(4);
    expect(r.ports).toEqual([22, 135, 445, 3389, 5985]);
    expect(r.span_min).toBeLessThanOrEqual(60);
    const before = await one<{ peers: number }>(`SELECT max(p) AS peers FROM (SELECT count(DISTINCT destination_ip) AS p FROM raw
      WHERE source_ip = ${sqlStr(a.host_ip)} AND destination_ip LIKE '10.%' AND destination_port IN (22, 135, 445, 3389, 5985)
        AND event_start < TIMESTAMP '2026-11-24' GROUP BY event_start::DATE)`);
    expect(before.peers).toBeLessThanOrEqual(6);
  });

  it('robust z-scores against the previous 7 days single out each attacker', async () => {
    await conn.run(`CREATE OR REPLACE TABLE daily AS
      WITH d AS (SELECT source_ip AS host, event_start::DATE AS d, count(*) AS sessions, sum(source_bytes) AS bytes_sent,
          count(DISTINCT (destination_ip, destination_port)) AS pairs,
          count(*) FILTER (WHERE hour(timezone('Asia/Jerusalem', event_start::TIMESTAMPTZ)) NOT BETWEEN 7 AND 21) AS night_sessions,
          count(DISTINCT destination_ip) FILTER (WHERE destination_port IN (22, 135, 445, 3389, 5985) AND destination_ip LIKE '10.%') AS admin_peers
        FROM raw WHERE source_ip IN (SELECT ip FROM inv) GROUP BY ALL)
      SELECT i.ip AS host, g.d, COLUMNS(d.* EXCLUDE (host, d))
      FROM inv i CROSS JOIN (SELECT DISTINCT d FROM d) g LEFT JOIN d ON d.host = i.ip AND d.d = g.d`);
    const top = async (metric: string, exclude: string[] = []) =>
      q<{ host: string; z: number }>(`
        WITH b AS (SELECT host, coalesce(${metric}, 0) AS x, d = DATE '${ATTACK_DAY}' AS last FROM daily),
        m AS (SELECT host, median(x) AS med FROM b WHERE NOT last GROUP BY host),
        s AS (SELECT b.host, any_value(m.med) AS med, median(abs(b.x - m.med)) AS mad FROM b JOIN m USING (host) WHERE NOT last GROUP BY b.host)
        SELECT b.host, (b.x - s.med) / (s.mad + 1) AS z FROM b JOIN s USING (host)
        WHERE last AND b.host NOT IN (${exclude.map(sqlStr).join(', ') || "''"}) ORDER BY z DESC LIMIT 2`);
    const check = async (kind: AttackKind, metric: string, exclude: string[] = []) => {
      const [first, second] = await top(metric, exclude);
      expect(first.host, `${kind} tops ${metric}`).toBe(attacker(kind).host_ip);
      expect(first.z).toBeGreaterThan(10);
      expect(first.z).toBeGreaterThan(1.5 * second.z);
    };
    await check('port_scan', 'pairs');
    await check('exfiltration', 'bytes_sent');
    await check('beaconing', 'night_sessions');
    // A scan also reaches many internal hosts on admin ports; among the others the lateral mover stands out.
    await check('lateral_movement', 'admin_peers', [attacker('port_scan').host_ip]);
  });
});
