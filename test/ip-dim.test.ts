/**
 * sql/v1/ip_dim.sql and the IP macros of sql/v1/_macros.sql: validity
 * (FEATURES.md §1.1 rule 2), host scope (§1.3) and segments (§1.4).
 * Every expected value below is written by hand.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Session } from '../src/engine/session.ts';
import { loadTemplate, type Template } from '../src/engine/templates.ts';

const DEFAULT_INTERNAL = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'];

interface Config {
  allHosts?: boolean;
  ipv4PrefixLength?: number | null;
  ipv6PrefixLength?: number | null;
  internal?: string[];
  segments?: [cidr: string, segmentId: string][];
}

/** [is_valid, is_internal, segment_id] per ip. */
type Dim = Record<string, [boolean, boolean, string]>;

let s: Session;
let ipDim: Template;

const lit = (v: string) => `'${v.replaceAll("'", "''")}'`;

async function setup(ips: string[], cfg: Config = {}): Promise<void> {
  const v4 = cfg.ipv4PrefixLength === undefined ? 24 : cfg.ipv4PrefixLength;
  const v6 = cfg.ipv6PrefixLength === undefined ? 64 : cfg.ipv6PrefixLength;
  await s.run(`SET VARIABLE all_hosts = ${cfg.allHosts ?? false}`);
  await s.run(v4 === null ? `RESET VARIABLE ipv4_prefix_length` : `SET VARIABLE ipv4_prefix_length = ${v4}::INTEGER`);
  await s.run(v6 === null ? `RESET VARIABLE ipv6_prefix_length` : `SET VARIABLE ipv6_prefix_length = ${v6}::INTEGER`);
  await s.run(`CREATE OR REPLACE TEMP TABLE p_internal_networks (cidr VARCHAR)`);
  for (const c of cfg.internal ?? DEFAULT_INTERNAL) await s.run(`INSERT INTO p_internal_networks VALUES (${lit(c)})`);
  await s.run(`CREATE OR REPLACE TEMP TABLE p_segment_cidrs (cidr VARCHAR, segment_id VARCHAR)`);
  for (const [c, id] of cfg.segments ?? []) await s.run(`INSERT INTO p_segment_cidrs VALUES (${lit(c)}, ${lit(id)})`);
  await s.run(`CREATE OR REPLACE TEMP TABLE ip_list_src (ip VARCHAR)`);
  for (const ip of ips) await s.run(`INSERT INTO ip_list_src VALUES (${lit(ip)})`);
  await s.run(`CREATE OR REPLACE TEMP VIEW ip_list AS SELECT ip FROM ip_list_src`);
}

async function runIpDim(ips: string[], cfg: Config = {}): Promise<Dim> {
  await setup(ips, cfg);
  await s.run(`CREATE OR REPLACE TEMP TABLE ip_dim AS ${ipDim.text}`);
  const rows = await s.all<{ ip: string; is_valid: boolean; is_internal: boolean; segment_id: string }>(
    `SELECT * FROM ip_dim ORDER BY ip`,
  );
  expect(rows.length).toBe(new Set(ips).size); // one row per distinct input ip
  return Object.fromEntries(rows.map((r) => [r.ip, [r.is_valid, r.is_internal, r.segment_id]]));
}

beforeAll(async () => {
  s = await Session.open({ specVersion: 'v1', threads: 1 });
  ipDim = await loadTemplate('v1', 'ip_dim');
});
afterAll(() => s?.close());

describe('ip_dim output schema', () => {
  it('has ip, is_valid, is_internal, segment_id with the contract types', async () => {
    await runIpDim(['10.1.2.3']);
    expect(await s.describe('ip_dim')).toEqual([
      { name: 'ip', type: 'VARCHAR' },
      { name: 'is_valid', type: 'BOOLEAN' },
      { name: 'is_internal', type: 'BOOLEAN' },
      { name: 'segment_id', type: 'VARCHAR' },
    ]);
  });
});

describe('validity (FEATURES §1.1 rule 2)', () => {
  it('IPv4: four decimal octets 0..255, no leading zeros, nothing else', async () => {
    const got = await runIpDim([
      '10.1.2.3', '0.0.0.0', '255.255.255.255', '8.8.8.8',
      '256.1.1.1', '1.2.3.256', '010.1.1.1', '1.1.1.01', '00.1.1.1', '1.2.3', '1.2.3.4.', '.1.2.3.4',
      '1.2.3.4.5', ' 1.2.3.4', '1.2.3.4 ', '1.2. 3.4', '1..2.3', '', 'a.b.c.d', '1.2.3.4/32',
      '0x7f.0.0.1', '167772161', '+1.2.3.4', '１.2.3.4',
    ]);
    const valid = Object.entries(got).filter(([, v]) => v[0]).map(([ip]) => ip).sort();
    expect(valid).toEqual(['0.0.0.0', '10.1.2.3', '255.255.255.255', '8.8.8.8']);
  });

  it('IPv6: RFC 4291 text forms, case-insensitive; no zone ids', async () => {
    const got = await runIpDim([
      '::', '::1', '1::', '2001:db8::1', '::ffff:10.1.2.3', '::10.1.2.3', '2001:DB8::ABCD', 'FE80::1',
      '2001:0db8:0000:0000:0000:0000:0000:0001', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8',
      '1:2:3:4:5:6:10.1.2.3', '1:2:3:4:5::10.1.2.3',
      // invalid
      'fe80::1%eth0', '1:2:3:4:5:6:7:8:9', '1::2::3', ':::', '1:2:3:4:5:6:7', ':1:2:3:4:5:6:7:8',
      '1:2:3:4:5:6:7:8:', '1:2:3:4:5:6:7:8::', '12345::', 'g::1', '::1/128', '[::1]', ' ::1',
      '::ffff:10.1.2', '::ffff:010.1.2.3', '1:2:3:4:5:6:7:10.1.2.3', '1:2:3:4:5:6::10.1.2.3', '10.1.2.3::',
      ':', '2001:db8:::1',
    ]);
    const valid = Object.entries(got).filter(([, v]) => v[0]).map(([ip]) => ip).sort();
    expect(valid).toEqual([
      '1:2:3:4:5:6:10.1.2.3', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7::', '1:2:3:4:5::10.1.2.3', '1::',
      '2001:0db8:0000:0000:0000:0000:0000:0001', '2001:DB8::ABCD', '2001:db8::1', '::', '::1',
      '::10.1.2.3', '::2:3:4:5:6:7:8', '::ffff:10.1.2.3', 'FE80::1',
    ]);
  });

  it('invalid addresses are never internal and have segment SEG_UNKNOWN', async () => {
    expect(await runIpDim(['256.1.1.1', 'fe80::1%eth0', 'garbage'], { allHosts: true })).toEqual({
      '256.1.1.1': [false, false, 'SEG_UNKNOWN'],
      'fe80::1%eth0': [false, false, 'SEG_UNKNOWN'],
      garbage: [false, false, 'SEG_UNKNOWN'],
    });
  });

  it('duplicate ip_list rows still give one row per ip', async () => {
    expect(await runIpDim(['10.1.2.3', '10.1.2.3', 'x', 'x'])).toEqual({
      '10.1.2.3': [true, true, '10.1.2.0/24'],
      x: [false, false, 'SEG_UNKNOWN'],
    });
  });
});

describe('host scope (FEATURES §1.3)', () => {
  it('default private ranges, boundaries included', async () => {
    const got = await runIpDim([
      '9.255.255.255', '10.0.0.0', '10.255.255.255', '11.0.0.0',
      '172.15.255.255', '172.16.0.0', '172.31.255.255', '172.32.0.0',
      '192.167.255.255', '192.168.0.0', '192.168.255.255', '192.169.0.0',
      'fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'fc00::', 'fd12::1', 'fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'fe00::',
      '::ffff:10.1.2.3', '2001:db8::1', '8.8.8.8',
    ]);
    const internal = Object.fromEntries(Object.entries(got).map(([ip, v]) => [ip, v[1]]));
    expect(internal).toEqual({
      '9.255.255.255': false,
      '10.0.0.0': true,
      '10.255.255.255': true,
      '11.0.0.0': false,
      '172.15.255.255': false,
      '172.16.0.0': true,
      '172.31.255.255': true,
      '172.32.0.0': false,
      '192.167.255.255': false,
      '192.168.0.0': true,
      '192.168.255.255': true,
      '192.169.0.0': false,
      'fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff': false,
      'fc00::': true,
      'fd12::1': true,
      'fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff': true,
      'fe00::': false,
      // IPv4-mapped IPv6 is IPv6: not inside the IPv4 10.0.0.0/8 (no cross-family normalisation)
      '::ffff:10.1.2.3': false,
      '2001:db8::1': false,
      '8.8.8.8': false,
    });
  });

  it('a custom list, host CIDRs, /0, and CIDRs that do not parse match nothing', async () => {
    const got = await runIpDim(['100.64.0.1', '100.128.0.0', '8.8.8.8', '8.8.4.4', '2001:db8::1', '10.1.2.3'], {
      internal: ['100.64.0.0/10', '8.8.8.8', '::/0', '10.0.0.0/33', 'not-a-cidr', '010.0.0.0/8'],
    });
    expect(Object.fromEntries(Object.entries(got).map(([ip, v]) => [ip, v[1]]))).toEqual({
      '100.64.0.1': true,
      '100.128.0.0': false,
      '8.8.8.8': true,
      '8.8.4.4': false,
      '2001:db8::1': true, // ::/0 covers every IPv6 address, and no IPv4 one
      '10.1.2.3': false,
    });
  });

  it('all_hosts: every valid address is internal', async () => {
    const got = await runIpDim(['8.8.8.8', '2001:db8::1', '10.1.2.3', '1.2.3'], { allHosts: true, internal: [] });
    expect(Object.fromEntries(Object.entries(got).map(([ip, v]) => [ip, v[1]]))).toEqual({
      '8.8.8.8': true,
      '2001:db8::1': true,
      '10.1.2.3': true,
      '1.2.3': false,
    });
  });
});

describe('segments (FEATURES §1.4)', () => {
  const TABLE: [string, string][] = [
    ['10.0.0.0/8', 'seg-wide'],
    ['10.1.0.0/16', 'seg-mid'],
    ['10.1.2.0/24', 'lab-b'],
    ['10.1.2.128/24', 'lab-a'], // same network as the line above (host bits ignored): tie -> smallest id
    ['10.1.2.7/32', 'printer'],
    ['2001:db8::/32', 'v6-corp'],
    ['2001:DB8:1::/48', 'v6-lab'],
  ];

  it('cidr_table: longest matching prefix wins, ties go to the smallest segment_id', async () => {
    const got = await runIpDim(
      ['10.1.2.3', '10.1.2.7', '10.1.3.4', '10.2.0.1', '11.0.0.1', '2001:db8:1::5', '2001:db8:2::5', '2001:db9::1', '::ffff:10.1.2.3'],
      { segments: TABLE },
    );
    expect(Object.fromEntries(Object.entries(got).map(([ip, v]) => [ip, v[2]]))).toEqual({
      '10.1.2.3': 'lab-a',
      '10.1.2.7': 'printer',
      '10.1.3.4': 'seg-mid',
      '10.2.0.1': 'seg-wide',
      '11.0.0.1': '11.0.0.0/24',
      '2001:db8:1::5': 'v6-lab',
      '2001:db8:2::5': 'v6-corp',
      '2001:db9::1': '2001:0db9:0000:0000:0000:0000:0000:0000/64',
      '::ffff:10.1.2.3': '0000:0000:0000:0000:0000:0000:0000:0000/64',
    });
  });

  const IPS4 = ['10.1.2.3', '10.1.47.3', '192.168.1.77', '255.255.255.255', '0.0.0.1'];
  const seg = async (ips: string[], cfg: Config) =>
    Object.fromEntries(Object.entries(await runIpDim(ips, cfg)).map(([ip, v]) => [ip, v[2]]));

  it('ipv4 prefix length 24 (default)', async () => {
    expect(await seg(IPS4, { ipv4PrefixLength: 24 })).toEqual({
      '10.1.2.3': '10.1.2.0/24',
      '10.1.47.3': '10.1.47.0/24',
      '192.168.1.77': '192.168.1.0/24',
      '255.255.255.255': '255.255.255.0/24',
      '0.0.0.1': '0.0.0.0/24',
    });
  });

  it('ipv4 prefix length 16', async () => {
    expect(await seg(IPS4, { ipv4PrefixLength: 16 })).toEqual({
      '10.1.2.3': '10.1.0.0/16',
      '10.1.47.3': '10.1.0.0/16',
      '192.168.1.77': '192.168.0.0/16',
      '255.255.255.255': '255.255.0.0/16',
      '0.0.0.1': '0.0.0.0/16',
    });
  });

  it('ipv4 prefix length 20 (not on an octet boundary)', async () => {
    expect(await seg(IPS4, { ipv4PrefixLength: 20 })).toEqual({
      '10.1.2.3': '10.1.0.0/20',
      '10.1.47.3': '10.1.32.0/20',
      '192.168.1.77': '192.168.0.0/20',
      '255.255.255.255': '255.255.240.0/20',
      '0.0.0.1': '0.0.0.0/20',
    });
  });

  it('ipv4 prefix length 0 and 32', async () => {
    expect(await seg(IPS4, { ipv4PrefixLength: 0 })).toEqual({
      '10.1.2.3': '0.0.0.0/0',
      '10.1.47.3': '0.0.0.0/0',
      '192.168.1.77': '0.0.0.0/0',
      '255.255.255.255': '0.0.0.0/0',
      '0.0.0.1': '0.0.0.0/0',
    });
    expect(await seg(IPS4, { ipv4PrefixLength: 32 })).toEqual({
      '10.1.2.3': '10.1.2.3/32',
      '10.1.47.3': '10.1.47.3/32',
      '192.168.1.77': '192.168.1.77/32',
      '255.255.255.255': '255.255.255.255/32',
      '0.0.0.1': '0.0.0.1/32',
    });
  });

  const IPS6 = ['2001:db8:0:1:abcd::1', '2001:DB8:0:1FF::', 'fd12:3456:789a:1::1', '::1', '::ffff:10.1.2.3'];

  it('ipv6 prefix length 64 (default): lower-case, fully expanded network', async () => {
    expect(await seg(IPS6, { ipv6PrefixLength: 64 })).toEqual({
      '2001:db8:0:1:abcd::1': '2001:0db8:0000:0001:0000:0000:0000:0000/64',
      '2001:DB8:0:1FF::': '2001:0db8:0000:01ff:0000:0000:0000:0000/64',
      'fd12:3456:789a:1::1': 'fd12:3456:789a:0001:0000:0000:0000:0000/64',
      '::1': '0000:0000:0000:0000:0000:0000:0000:0000/64',
      '::ffff:10.1.2.3': '0000:0000:0000:0000:0000:0000:0000:0000/64',
    });
  });

  it('ipv6 prefix length 48, 56, 0 and 128', async () => {
    expect(await seg(IPS6, { ipv6PrefixLength: 48 })).toEqual({
      '2001:db8:0:1:abcd::1': '2001:0db8:0000:0000:0000:0000:0000:0000/48',
      '2001:DB8:0:1FF::': '2001:0db8:0000:0000:0000:0000:0000:0000/48',
      'fd12:3456:789a:1::1': 'fd12:3456:789a:0000:0000:0000:0000:0000/48',
      '::1': '0000:0000:0000:0000:0000:0000:0000:0000/48',
      '::ffff:10.1.2.3': '0000:0000:0000:0000:0000:0000:0000:0000/48',
    });
    expect(await seg(['2001:DB8:0:1FF::', 'fd12:3456:789a:1::1'], { ipv6PrefixLength: 56 })).toEqual({
      '2001:DB8:0:1FF::': '2001:0db8:0000:0100:0000:0000:0000:0000/56',
      'fd12:3456:789a:1::1': 'fd12:3456:789a:0000:0000:0000:0000:0000/56',
    });
    expect(await seg(['2001:db8:0:1:abcd::1'], { ipv6PrefixLength: 0 })).toEqual({
      '2001:db8:0:1:abcd::1': '0000:0000:0000:0000:0000:0000:0000:0000/0',
    });
    expect(await seg(['2001:db8:0:1:abcd::1', '::ffff:10.1.2.3'], { ipv6PrefixLength: 128 })).toEqual({
      '2001:db8:0:1:abcd::1': '2001:0db8:0000:0001:abcd:0000:0000:0001/128',
      '::ffff:10.1.2.3': '0000:0000:0000:0000:0000:ffff:0a01:0203/128',
    });
  });

  it('the two prefix lengths are independent', async () => {
    expect(await seg(['10.1.2.3', '2001:db8:0:1::1'], { ipv4PrefixLength: 8, ipv6PrefixLength: 32 })).toEqual({
      '10.1.2.3': '10.0.0.0/8',
      '2001:db8:0:1::1': '2001:0db8:0000:0000:0000:0000:0000:0000/32',
    });
  });
});

describe('parameters', () => {
  it('an out-of-range or missing prefix length is an error, not a default', async () => {
    await setup(['10.1.2.3'], { ipv4PrefixLength: 33 });
    await expect(s.all(ipDim.text)).rejects.toThrow(/ipv4_prefix_length must be 0\.\.32/);
    await setup(['10.1.2.3'], { ipv6PrefixLength: 129 });
    await expect(s.all(ipDim.text)).rejects.toThrow(/ipv6_prefix_length must be 0\.\.128/);
    await setup(['10.1.2.3'], { ipv4PrefixLength: null });
    await expect(s.all(ipDim.text)).rejects.toThrow(/ipv4_prefix_length/);
  });
});

describe('IP macros', () => {
  it('ip_bits: canonical bit strings', async () => {
    const r = await s.one<Record<string, string | null>>(`SELECT
      ip_bits('10.1.2.3') AS a, ip_bits('::ffff:10.1.2.3') AS b, ip_bits('2001:db8::1') AS c,
      ip_bits('010.1.2.3') AS d, ip_bits(NULL) AS e, ip4_bits('::1') AS f, ip6_bits('10.1.2.3') AS g`);
    expect(r).toEqual({
      a: '00001010' + '00000001' + '00000010' + '00000011',
      b: '0'.repeat(80) + '1'.repeat(16) + '00001010' + '00000001' + '00000010' + '00000011',
      c: '0010000000000001' + '0000110110111000' + '0'.repeat(16 * 5) + '0000000000000001',
      d: null,
      e: null,
      f: null,
      g: null,
    });
  });

  it('cidr_parse, ip_in_cidr, ip_is_valid, ip_bits_family, ip_network_text', async () => {
    const r = await s.one<Record<string, unknown>>(`SELECT
      cidr_parse('10.0.0.0/8') AS p1, cidr_parse('fc00::/7') AS p2, cidr_parse('192.168.1.1') AS p3,
      cidr_parse('10.0.0.0/33') AS p4, cidr_parse('10.0.0.0/08') AS p5, cidr_parse('::/0') AS p6,
      ip_in_cidr(ip_bits('172.31.255.255'), '172.16.0.0/12') AS i1, ip_in_cidr(ip_bits('172.32.0.0'), '172.16.0.0/12') AS i2,
      ip_in_cidr(ip_bits('fd12::1'), 'fc00::/7') AS i3, ip_in_cidr(ip_bits('10.0.0.1'), '::/0') AS i4,
      ip_in_cidr(ip_bits('bad'), '10.0.0.0/8') AS i5,
      ip_is_valid('1.2.3.4') AS v1, ip_is_valid('1.2.3.4.') AS v2, ip_is_valid(NULL) AS v3,
      ip_bits_family(ip_bits('1.2.3.4')) AS f1, ip_bits_family(ip_bits('::')) AS f2,
      ip_network_text(ip_bits('10.1.2.3'), 24) AS n1, ip_network_text(ip_bits('10.1.2.3'), 40) AS n2`);
    expect(r).toEqual({
      p1: { family: 4, prefix_len: 8, prefix_bits: '00001010' },
      p2: { family: 6, prefix_len: 7, prefix_bits: '1111110' },
      p3: { family: 4, prefix_len: 32, prefix_bits: '11000000101010000000000100000001' },
      p4: null,
      p5: null,
      p6: { family: 6, prefix_len: 0, prefix_bits: '' },
      i1: true,
      i2: false,
      i3: true,
      i4: false,
      i5: null,
      v1: true,
      v2: false,
      v3: false,
      f1: 4,
      f2: 6,
      n1: '10.1.2.0/24',
      n2: null,
    });
  });
});
