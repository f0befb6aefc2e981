/**
 * The synthetic enterprise: internal hosts in segments, their roles and stable
 * preferences, and the internet address pools they talk to.
 */
import { IpTable } from './events.ts';
import { Rng, cumulative, seedOf } from './prng.ts';

export type HostKind = 'workstation' | 'admin' | 'server';
export type ServerRole = 'dns' | 'dc' | 'file' | 'db' | 'web' | 'app' | 'backup' | 'monitor';

export interface Service {
  id: number;
  port: number;
}

export interface Host {
  index: number;
  ip: string;
  id: number;
  kind: HostKind;
  role?: ServerRole;
  segment: string;
  os: 'windows' | 'linux';
  v6: boolean;
  machine: string;
  /** Workstation of a developer: also talks to the database servers. */
  dev: boolean;
  /** Non-persistent VDI desktop (machine name VDI-…). */
  vdi: boolean;
  /** Activity multiplier (log-normal around 1). */
  scale: number;
  /** Stays powered on (and chatty) overnight and at weekends. */
  alwaysOn: boolean;
  /** Favourite internet sites (ip ids) with cumulative weights. */
  favs: number[];
  favCum: Float64Array;
  dns: number;
  dc: number;
  file: number;
  intranet: number[];
  dbs: Service[];
  /** Servers an admin (or a web/app server) manages/uses. */
  managed: Service[];
  ephemeralBase: number;
  ephemeralSpan: number;
}

export interface Network {
  ipt: IpTable;
  hosts: Host[];
  workstations: Host[];
  admins: Host[];
  servers: Host[];
  byRole: Map<ServerRole, Host[]>;
  popular: number[];
  popularCum: Float64Array;
  popularV6: number[];
  telemetry: number[];
  resolvers: number[];
  ntpPool: number[];
  /** IPv6 aliases of the first DNS and DC server (dual-stack), for IPv6 clients. */
  dnsV6: number;
  dcV6: number;
  randomPublic(rng: Rng): number;
}

/** First octets of public IPv4 space used for the random long tail of sites. */
const TAIL_OCTETS = [
  2, 5, 8, 12, 18, 24, 27, 37, 41, 46, 49, 50, 58, 62, 66, 68, 71, 77, 80, 82, 86, 88, 93, 95, 101, 103, 109, 112, 115, 118,
  121, 125, 129, 131, 137, 141, 144, 147, 150, 154, 161, 164, 168, 173, 176, 178, 181, 186, 188, 190, 193, 195, 197, 200,
  201, 206, 209, 212, 213, 217, 220, 223,
];

/** /16s of large cloud and CDN providers: the popular sites. */
const POPULAR_PREFIXES = [
  '13.107', '20.190', '23.55', '31.13', '34.102', '35.186', '40.126', '52.84', '54.230', '104.16', '104.18', '142.250',
  '151.101', '157.240', '172.217', '185.199', '199.232', '216.58', '140.82', '17.253', '52.96', '18.160', '3.33', '99.86',
];

const POPULAR_V6_PREFIXES = ['2606:4700:3030', '2a00:1450:4001', '2620:1ec:bdf', '2a03:2880:f12f', '2600:1901:0'];

/** Attack peers come from first octets that no other generator uses, so they are new by construction. */
export const EXFIL_OCTET = 45;
export const BEACON_OCTET = 194;

const ROLE_ORDER: ServerRole[] = ['dns', 'dc', 'file', 'db', 'web', 'app', 'backup', 'dns', 'dc', 'monitor', 'db', 'web', 'file', 'app'];
const ROLE_CYCLE: ServerRole[] = ['app', 'web', 'db', 'file', 'app', 'web', 'db', 'dc', 'dns', 'monitor', 'backup', 'file'];

function pad(n: number, w: number): string {
  return String(n).padStart(w, '0');
}

export function buildNetwork(hostCount: number, seed: number): Network {
  const rng = new Rng(seedOf(seed, 0x4e37));
  const ipt = new IpTable();

  const nServers = Math.max(7, Math.round(hostCount * 0.1));
  const nAdmins = Math.max(2, Math.round(hostCount * 0.05));
  const nV6 = Math.max(2, Math.round(hostCount * 0.03));
  const nWsV4 = hostCount - nServers - nAdmins - nV6;
  if (nWsV4 < 6) throw new Error(`synth: hosts must be at least ${hostCount - nWsV4 + 6} (got ${hostCount})`);

  // Internet pools first, so their ids are stable whatever the host count.
  const popularSet = new Set<string>();
  while (popularSet.size < 320) {
    popularSet.add(`${rng.pick(POPULAR_PREFIXES)}.${rng.int(256)}.${rng.between(1, 254)}`);
  }
  const popular = [...popularSet].map((ip) => ipt.id(ip));
  const popularCum = cumulative(popular.map((_, r) => 1 / Math.pow(r + 1, 1.05)));
  const popularV6: number[] = [];
  for (let i = 0; i < 48; i++) {
    popularV6.push(ipt.id(`${POPULAR_V6_PREFIXES[i % POPULAR_V6_PREFIXES.length]}:${(0x100 + i * 37).toString(16)}::${(rng.between(1, 0xfffe)).toString(16)}`));
  }
  const telemetry = popular.slice(0, 4);
  const resolvers = ['8.8.8.8', '1.1.1.1', '9.9.9.9', '208.67.222.222'].map((ip) => ipt.id(ip));
  const ntpPool = ['162.159.200.1', '129.6.15.28', '216.239.35.0'].map((ip) => ipt.id(ip));

  const hosts: Host[] = [];
  const mk = (ip: string, kind: HostKind, segment: string, os: 'windows' | 'linux', v6: boolean, machine: string): Host => {
    const h: Host = {
      index: hosts.length, ip, id: ipt.id(ip), kind, segment, os, v6, machine, dev: false, vdi: false,
      scale: 1, alwaysOn: true, favs: [], favCum: new Float64Array(0), dns: -1, dc: -1, file: -1, intranet: [], dbs: [], managed: [],
      ephemeralBase: os === 'windows' ? 49152 : 32768, ephemeralSpan: os === 'windows' ? 16384 : 28232,
    };
    hosts.push(h);
    return h;
  };

  const servers: Host[] = [];
  const byRole = new Map<ServerRole, Host[]>();
  const roleCount = new Map<ServerRole, number>();
  for (let i = 0; i < nServers; i++) {
    const role = i < ROLE_ORDER.length ? ROLE_ORDER[i] : ROLE_CYCLE[(i - ROLE_ORDER.length) % ROLE_CYCLE.length];
    const n = (roleCount.get(role) ?? 0) + 1;
    roleCount.set(role, n);
    const linux = role === 'web' || role === 'app' || role === 'backup' || role === 'monitor' || (role === 'db' && n % 2 === 0);
    const third = Math.floor(i / 240);
    const s = mk(`10.20.${third}.${10 + (i % 240)}`, 'server', `10.20.${third}.0/24`, linux ? 'linux' : 'windows', false, `SRV-${role.toUpperCase()}${pad(n, 2)}`);
    s.role = role;
    servers.push(s);
    byRole.set(role, [...(byRole.get(role) ?? []), s]);
  }
  const admins: Host[] = [];
  for (let i = 0; i < nAdmins; i++) {
    const third = Math.floor(i / 240);
    admins.push(mk(`10.30.${third}.${20 + (i % 230)}`, 'admin', `10.30.${third}.0/24`, i % 3 === 2 ? 'linux' : 'windows', false, `IT-${pad(i + 1, 4)}`));
  }
  const workstations: Host[] = [];
  const subnets = Math.max(2, Math.ceil(nWsV4 / 240));
  const perSubnet = Math.ceil(nWsV4 / subnets);
  for (let i = 0; i < nWsV4; i++) {
    const sub = Math.floor(i / perSubnet);
    const octet = 11 + (i - sub * perSubnet);
    const vdi = rng.chance(0.06);
    const w = mk(`10.10.${sub + 1}.${octet}`, 'workstation', `10.10.${sub + 1}.0/24`, 'windows', false, `${vdi ? 'VDI' : 'WS'}-${pad(i + 1, 4)}`);
    w.vdi = vdi;
    workstations.push(w);
  }
  for (let i = 0; i < nV6; i++) {
    workstations.push(mk(`fd00:10:40::${(0x100 + i).toString(16)}`, 'workstation', 'fd00:10:40::/64', i % 2 ? 'linux' : 'windows', true, `WS6-${pad(i + 1, 4)}`));
  }

  const dnsServers = byRole.get('dns') ?? [];
  const dcs = byRole.get('dc') ?? [];
  const files = byRole.get('file') ?? [];
  const dbServers = byRole.get('db') ?? [];
  const intranetServers = [...(byRole.get('web') ?? []), ...(byRole.get('app') ?? [])];
  const dnsV6 = ipt.id('fd00:10:20::53');
  const dcV6 = ipt.id('fd00:10:20::88');
  const dbService = (s: Host): Service => ({ id: s.id, port: s.os === 'linux' ? 5432 : 1433 });

  // Stable per-host preferences, each host from its own stream.
  for (const h of hosts) {
    const r = new Rng(seedOf(seed, 0x9f3a, h.index));
    h.scale = Math.exp(0.35 * r.normal());
    h.alwaysOn = h.kind !== 'workstation' || (!h.vdi && r.chance(0.65));
    h.dev = h.kind === 'workstation' && !h.v6 && r.chance(0.2);
    const nFav = h.kind === 'server' ? r.between(2, 5) : r.between(5, 12);
    const favSet = new Set<number>();
    for (let k = 0; k < nFav * 3 && favSet.size < nFav; k++) {
      favSet.add(h.v6 ? r.pick(popularV6) : popular[r.weighted(popularCum)]);
    }
    h.favs = [...favSet];
    h.favCum = cumulative(h.favs.map((_, k) => 1 / Math.pow(k + 1, 0.8)));
    const others = (xs: Host[]) => xs.filter((x) => x !== h);
    h.dns = h.v6 ? dnsV6 : (others(dnsServers).length ? r.pick(others(dnsServers)).id : resolvers[0]);
    h.dc = h.v6 ? dcV6 : (others(dcs).length ? r.pick(others(dcs)).id : h.dns);
    h.file = others(files).length ? r.pick(others(files)).id : -1;
    const intra = others(intranetServers);
    if (intra.length) h.intranet = r.shuffled(intra).slice(0, r.between(1, 2)).map((s) => s.id);
    if (h.dev || h.role === 'web' || h.role === 'app') {
      const dbs = others(dbServers);
      if (dbs.length) h.dbs = r.shuffled(dbs).slice(0, r.between(1, 2)).map(dbService);
    }
    if (h.kind === 'admin') {
      h.managed = r.shuffled(servers).slice(0, r.between(4, 10)).map((s) => ({
        id: s.id,
        port: s.os === 'linux' ? 22 : r.chance(0.7) ? 3389 : 5985,
      }));
    }
  }

  const randomPublic = (r: Rng): number =>
    ipt.id(`${TAIL_OCTETS[r.int(TAIL_OCTETS.length)]}.${r.int(256)}.${r.int(256)}.${r.between(1, 254)}`);

  return {
    ipt, hosts, workstations, admins, servers, byRole, popular, popularCum, popularV6, telemetry, resolvers, ntpPool,
    dnsV6, dcV6, randomPublic,
  };
}
