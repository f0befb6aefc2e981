/**
 * The traffic model: baseline enterprise behaviour (diurnal, weekend, per-host
 * preferences), four injected attacks on the last day and a few DQ rows.
 *
 * Every host draws from its own PRNG stream (seed, host), the attacks, the
 * internet background and the DQ rows from theirs, so one part never shifts
 * another part's randomness.
 */
import { HOUR_US, hourTable, type HourTable } from './calendar.ts';
import {
  A_ALERT, A_ALLOW, A_DENY, A_DROP, A_RESET_BOTH, A_RESET_CLIENT, EventBuffer, NULL_PORT, N_THREAT, N_TRAFFIC,
  R_AGED_OUT, R_NA, R_POLICY_DENY, R_RST_CLIENT, R_RST_SERVER, R_TCP_FIN, T_ICMP, T_TCP, T_UDP,
} from './events.ts';
import { BEACON_OCTET, EXFIL_OCTET, buildNetwork, type Host, type Network } from './network.ts';
import { Rng, cumulative, seedOf } from './prng.ts';

export type AttackKind = 'port_scan' | 'exfiltration' | 'beaconing' | 'lateral_movement';

export interface Attacker {
  host_ip: string;
  kind: AttackKind;
  /** First event_start and last event_end of the attack's sessions (ISO-8601 UTC). */
  start: string;
  end: string;
  description: string;
  /** The external peer of beaconing; for exfiltration, the first of `peer_ips`. */
  peer_ip?: string;
  /** Every external address an exfiltration uploaded to (one provider's /24). */
  peer_ips?: string[];
  sessions: number;
  bytes_sent: number;
}

export interface DqCounts {
  /** '' or not an IP literal in source_ip or destination_ip (dropped by drop_malformed_ip). */
  malformed_ip: number;
  /** Valid IPs, but bytes and ports all NULL (dropped by filter_null_bytes_ports). */
  null_bytes_ports: number;
  /** A negative byte count (repaired to NULL by bytes_non_negative). */
  negative_bytes: number;
  /** A valid IP with surrounding white space (kept after trimming). */
  padded_ip: number;
}

export interface GenerateParams {
  hosts: number;
  days: number;
  startMs: number;
  seed: number;
  timezone: string;
  eventsPerHostPerDay: number;
}

export interface Generated {
  ev: EventBuffer;
  net: Network;
  cal: HourTable;
  t0Us: number;
  hours: number;
  attackers: Attacker[];
  dq: DqCounts;
}

/** Workstation activity by local hour (weekday), peak 1. */
const W = [
  0.02, 0.02, 0.02, 0.02, 0.02, 0.03, 0.08, 0.35, 0.8, 1.0, 1.0, 1.0, 0.75, 0.95, 1.0, 0.95, 0.85, 0.6, 0.3, 0.15, 0.1, 0.08,
  0.05, 0.03,
];
const W_SUM = W.reduce((a, b) => a + b, 0);
/** Foreground share of a working day's events (the rest is background chatter). */
const FG_SHARE = 0.92;

// Workstation behaviours.
const B_DNS = 0, B_WEB_FAV = 1, B_WEB_RAND = 2, B_AD = 3, B_FILE = 4, B_INTRANET = 5, B_DB = 6, B_NTP = 7, B_ICMP = 8,
  B_DENY = 9, B_SAAS = 10, B_ADMIN = 11;
//                      DNS   FAV   RAND  AD    FILE  INTRA DB    NTP   ICMP   DENY   SAAS   ADMIN
const MIX_WS = cumulative([0.24, 0.31, 0.08, 0.07, 0.05, 0.06, 0, 0.01, 0.008, 0.015, 0.035, 0]);
const MIX_DEV = cumulative([0.24, 0.26, 0.08, 0.07, 0.05, 0.06, 0.05, 0.01, 0.008, 0.015, 0.035, 0]);
const MIX_ADMIN = cumulative([0.24, 0.24, 0.07, 0.07, 0.05, 0.06, 0.02, 0.01, 0.012, 0.015, 0.03, 0.09]);
const MIX_V6 = cumulative([0.26, 0.45, 0.1, 0.08, 0, 0, 0, 0.01, 0.01, 0.015, 0.04, 0]);

const DENY_PORTS = [25, 6881, 3478, 8080, 53, 5222, 1194, 21, 23, 123];
const SAAS_PORTS = [993, 587, 5228, 8443, 443, 3478];
const AD_PORTS = [88, 88, 88, 389, 389, 389, 445, 445, 135, 464];
const DC_REPLICATION_PORTS = [135, 389, 445, 88, 3268];
const SCAN_PORTS = [
  21, 22, 23, 25, 53, 69, 80, 81, 88, 110, 111, 123, 135, 137, 138, 139, 143, 161, 389, 443, 445, 464, 465, 512, 513, 514,
  548, 587, 631, 636, 873, 902, 989, 990, 993, 995, 1025, 1080, 1099, 1194, 1433, 1521, 1723, 1883, 2049, 2082, 2083, 2181,
  2375, 2376, 3000, 3128, 3268, 3269, 3306, 3389, 3690, 4369, 4443, 4444, 4848, 5000, 5060, 5432, 5601, 5672, 5800, 5900,
  5901, 5985, 5986, 6000, 6379, 6443, 6667, 7001, 7077, 8000, 8008, 8009, 8080, 8081, 8086, 8088, 8161, 8443, 8500, 8888,
  9000, 9042, 9090, 9092, 9200, 9300, 9418, 10000, 11211, 15672, 27017, 50000,
];

function isoMs(us: number): string {
  return new Date(Math.floor(us / 1000)).toISOString();
}

class Generator {
  readonly ev: EventBuffer;
  readonly net: Network;
  readonly cal: HourTable;
  readonly t0Us: number;
  readonly hours: number;
  readonly E: number;

  constructor(readonly p: GenerateParams) {
    this.hours = p.days * 24;
    this.t0Us = p.startMs * 1000;
    this.cal = hourTable(p.startMs, this.hours, p.timezone);
    this.net = buildNetwork(p.hosts, p.seed);
    this.E = p.eventsPerHostPerDay;
    this.ev = new EventBuffer(Math.ceil(p.hosts * p.days * this.E * 0.8) + 4096);
  }

  private eph(h: Host, r: Rng): number {
    return h.ephemeralBase + r.int(h.ephemeralSpan);
  }

  private reasonTcp(r: Rng): number {
    const x = r.next();
    return x < 0.82 ? R_TCP_FIN : x < 0.87 ? R_RST_CLIENT : x < 0.92 ? R_RST_SERVER : R_AGED_OUT;
  }

  private tcp(r: Rng, src: number, sport: number, dst: number, dport: number, ts: number, sb: number, db: number, durS: number): void {
    this.ev.push(src, dst, sport, dport, sb, db, ts, Math.min(durS, 7200) * 1e6, A_ALLOW, this.reasonTcp(r), N_TRAFFIC, T_TCP);
  }

  private udp(src: number, sport: number, dst: number, dport: number, ts: number, sb: number, db: number, durS: number): void {
    this.ev.push(src, dst, sport, dport, sb, db, ts, durS * 1e6, A_ALLOW, R_AGED_OUT, N_TRAFFIC, T_UDP);
  }

  private icmp(r: Rng, src: number, dst: number, ts: number): void {
    const pings = r.between(1, 4);
    const lost = r.chance(0.03);
    this.ev.push(src, dst, 0, 0, 60 * pings, lost ? 0 : 60 * pings, ts, (pings - 1) * 1e6 + r.next() * 2e4, A_ALLOW, R_AGED_OUT, N_TRAFFIC, T_ICMP);
  }

  private denied(r: Rng, src: number, sport: number, dst: number, dport: number, transport: number, ts: number): void {
    const x = r.next();
    const action = x < 0.55 ? A_DENY : x < 0.8 ? A_DROP : x < 0.95 ? A_RESET_BOTH : A_RESET_CLIENT;
    const sb = transport === T_TCP ? 60 + 2 * r.int(9) : 40 + r.int(60);
    this.ev.push(src, dst, sport, dport, sb, 0, ts, 0, action, R_POLICY_DENY, N_TRAFFIC, transport);
  }

  /** A web-like session; a small share is flagged by the firewall as THREAT. */
  private web(r: Rng, src: number, sport: number, dst: number, dport: number, ts: number, sbMed: number, dbMed: number): void {
    const sb = r.lognormal(sbMed, 0.9);
    const db = Math.min(r.lognormal(dbMed, 1.6), 2e8);
    const dur = Math.min(r.lognormal(4, 1.3), 3600);
    if (r.chance(0.0015)) {
      const x = r.next();
      const action = x < 0.7 ? A_ALERT : x < 0.9 ? A_RESET_BOTH : A_DROP;
      this.ev.push(src, dst, sport, dport, sb, action === A_ALERT ? db : r.int(1500), ts, action === A_ALERT ? dur * 1e6 : r.next() * 1e6, action, R_NA, N_THREAT, T_TCP);
      return;
    }
    if (dport === 443 && r.chance(0.04)) {
      this.udp(src, sport, dst, 443, ts, sb, db, dur); // QUIC
      return;
    }
    this.tcp(r, src, sport, dst, dport, ts, sb, db, dur);
  }

  // ---------------------------------------------------------------- baseline

  private clientEvent(h: Host, r: Rng, ts: number, mix: Float64Array, prevDst: number): number {
    const net = this.net;
    let b = r.weighted(mix);
    if ((b === B_FILE && h.file < 0) || (b === B_INTRANET && h.intranet.length === 0) || (b === B_DB && h.dbs.length === 0) || (b === B_ADMIN && h.managed.length === 0)) {
      b = B_WEB_FAV;
    }
    const sport = this.eph(h, r);
    switch (b) {
      case B_DNS:
        this.udp(h.id, sport, h.dns, 53, ts, r.lognormal(72, 0.15), r.lognormal(150, 0.35), r.lognormal(0.03, 0.5));
        return -1;
      case B_WEB_FAV:
      case B_WEB_RAND: {
        let dst: number;
        if (prevDst >= 0 && r.chance(0.6)) dst = prevDst;
        else if (b === B_WEB_FAV) dst = h.favs[r.weighted(h.favCum)];
        else dst = h.v6 ? r.pick(net.popularV6) : r.chance(0.3) ? net.popular[r.int(net.popular.length)] : net.randomPublic(r);
        this.web(r, h.id, sport, dst, r.chance(0.94) ? 443 : 80, ts, 1400, 18000);
        return dst;
      }
      case B_AD: {
        const port = r.pick(AD_PORTS);
        const sb = r.lognormal(1500, 0.6);
        const db = r.lognormal(2500, 0.7);
        if ((port === 389 && r.chance(0.4)) || (port === 88 && r.chance(0.2))) this.udp(h.id, sport, h.dc, port, ts, sb * 0.3, db * 0.3, r.lognormal(0.02, 0.5));
        else this.tcp(r, h.id, sport, h.dc, port, ts, sb, db, r.lognormal(0.4, 1));
        return -1;
      }
      case B_FILE:
        this.tcp(r, h.id, sport, h.file, 445, ts, r.lognormal(8000, 1.6), r.lognormal(60000, 1.8), r.lognormal(12, 1.2));
        return -1;
      case B_INTRANET:
        this.tcp(r, h.id, sport, r.pick(h.intranet), r.chance(0.8) ? 443 : 8080, ts, r.lognormal(1800, 0.8), r.lognormal(25000, 1.3), r.lognormal(2, 1));
        return -1;
      case B_DB: {
        const s = r.pick(h.dbs);
        this.tcp(r, h.id, sport, s.id, s.port, ts, r.lognormal(3000, 1.2), r.lognormal(40000, 1.7), r.lognormal(3, 1.4));
        return -1;
      }
      case B_NTP:
        this.udp(h.id, 123, h.dc, 123, ts, 76, 76, 0.01 + r.next() * 0.02);
        return -1;
      case B_ICMP:
        this.icmp(r, h.id, h.v6 ? net.dnsV6 : r.chance(0.5) ? h.dns : net.resolvers[0], ts);
        return -1;
      case B_DENY: {
        const port = r.pick(DENY_PORTS);
        if (!h.v6 && r.chance(0.2)) {
          const peer = r.pick(net.workstations);
          if (!peer.v6 && peer !== h) {
            this.denied(r, h.id, sport, peer.id, r.pick([135, 139, 445]), T_TCP, ts);
            return -1;
          }
        }
        const dst = h.v6 ? r.pick(net.popularV6) : net.randomPublic(r);
        this.denied(r, h.id, sport, dst, port, port === 53 || port === 3478 || port === 123 ? T_UDP : T_TCP, ts);
        return -1;
      }
      case B_SAAS: {
        const port = r.pick(SAAS_PORTS);
        const dst = r.chance(0.5) ? h.favs[r.weighted(h.favCum)] : h.v6 ? r.pick(net.popularV6) : net.popular[r.weighted(net.popularCum)];
        if (port === 3478) this.udp(h.id, sport, dst, port, ts, r.lognormal(30000, 1.5), r.lognormal(30000, 1.5), r.lognormal(60, 1.2));
        else this.web(r, h.id, sport, dst, port, ts, 2500, 12000);
        return -1;
      }
      case B_ADMIN: {
        const s = r.pick(h.managed);
        if (s.port === 22) this.tcp(r, h.id, sport, s.id, 22, ts, r.lognormal(40000, 1.5), r.lognormal(120000, 1.6), r.lognormal(300, 1.2));
        else if (s.port === 3389) this.tcp(r, h.id, sport, s.id, 3389, ts, r.lognormal(300000, 1.2), r.lognormal(3e6, 1.3), r.lognormal(900, 1));
        else this.tcp(r, h.id, sport, s.id, s.port, ts, r.lognormal(6000, 1), r.lognormal(12000, 1), r.lognormal(5, 1));
        return -1;
      }
    }
    return -1;
  }

  /** Background chatter of a powered-on machine: DNS, telemetry, Kerberos, NTP. */
  private backgroundEvent(h: Host, r: Rng, ts: number): void {
    const x = r.next();
    const sport = this.eph(h, r);
    if (x < 0.45) this.udp(h.id, sport, h.dns, 53, ts, r.lognormal(72, 0.15), r.lognormal(150, 0.35), r.lognormal(0.03, 0.5));
    else if (x < 0.9) {
      const dst = h.v6 ? this.net.popularV6[r.int(3)] : r.pick(this.net.telemetry);
      this.tcp(r, h.id, sport, dst, 443, ts, r.lognormal(2500, 0.7), r.lognormal(6000, 1), r.lognormal(1.5, 0.8));
    } else if (x < 0.95) this.tcp(r, h.id, sport, h.dc, 88, ts, r.lognormal(1500, 0.5), r.lognormal(2000, 0.5), r.lognormal(0.1, 0.6));
    else this.udp(h.id, 123, h.dc, 123, ts, 76, 76, 0.01 + r.next() * 0.02);
  }

  private srvUpdate(h: Host, r: Rng, sport: number, ts: number): void {
    this.web(r, h.id, sport, h.favs[r.weighted(h.favCum)], 443, ts, 1200, 40000);
  }

  private srvDns(h: Host, r: Rng, sport: number, ts: number): void {
    this.udp(h.id, sport, h.dns, 53, ts, r.lognormal(72, 0.15), r.lognormal(150, 0.35), r.lognormal(0.03, 0.5));
  }

  private srvAd(h: Host, r: Rng, sport: number, ts: number): void {
    this.tcp(r, h.id, sport, h.dc, r.pick(AD_PORTS), ts, r.lognormal(1500, 0.6), r.lognormal(2500, 0.7), r.lognormal(0.4, 1));
  }

  private serverEvent(h: Host, r: Rng, ts: number, dcPeers: Host[]): void {
    const net = this.net;
    const x = r.next();
    const sport = this.eph(h, r);
    switch (h.role) {
      case 'dns':
        if (x < 0.75) this.udp(h.id, sport, r.pick(net.resolvers), 53, ts, r.lognormal(80, 0.2), r.lognormal(220, 0.5), r.lognormal(0.02, 0.6));
        else if (x < 0.85) this.srvAd(h, r, sport, ts);
        else if (x < 0.95) this.srvUpdate(h, r, sport, ts);
        else this.udp(h.id, 123, r.pick(net.ntpPool), 123, ts, 76, 76, 0.02);
        return;
      case 'dc':
        if (x < 0.45 && dcPeers.length) {
          const port = r.pick(DC_REPLICATION_PORTS);
          this.tcp(r, h.id, sport, r.pick(dcPeers).id, port, ts, r.lognormal(20000, 1.2), r.lognormal(30000, 1.2), r.lognormal(2, 1));
        } else if (x < 0.75) this.srvDns(h, r, sport, ts);
        else if (x < 0.9) this.udp(h.id, 123, r.pick(net.ntpPool), 123, ts, 76, 76, 0.02);
        else this.srvUpdate(h, r, sport, ts);
        return;
      case 'web':
      case 'app':
        if (x < 0.45 && h.dbs.length) {
          const s = r.pick(h.dbs);
          this.tcp(r, h.id, sport, s.id, s.port, ts, r.lognormal(2500, 1), r.lognormal(30000, 1.5), r.lognormal(0.5, 1.2));
        } else if (x < 0.65) this.srvDns(h, r, sport, ts);
        else if (x < 0.9) this.srvUpdate(h, r, sport, ts);
        else if (h.intranet.length) this.tcp(r, h.id, sport, r.pick(h.intranet), 8443, ts, r.lognormal(2000, 0.8), r.lognormal(8000, 1), r.lognormal(0.3, 0.8));
        else this.srvDns(h, r, sport, ts);
        return;
      default:
        if (x < 0.45) this.srvAd(h, r, sport, ts);
        else if (x < 0.8) this.srvDns(h, r, sport, ts);
        else if (x < 0.97) this.srvUpdate(h, r, sport, ts);
        else this.icmp(r, h.id, h.dc, ts);
    }
  }

  baseline(attackerIds: Set<number>): void {
    const { cal, net, E } = this;
    const fgPeak = (E * FG_SHARE) / W_SUM;
    const dcs = net.byRole.get('dc') ?? [];
    const backupTargets = net.servers.filter((s) => s.role === 'file' || s.role === 'db').slice(0, 6);
    // One or two monitoring servers poll; any further 'monitor' hosts are plain servers.
    const pollers = (net.byRole.get('monitor') ?? []).slice(0, 2);
    for (const h of net.hosts) {
      const dcPeers = dcs.filter((d) => d !== h);
      const pollTargets = pollers.includes(h) ? [...net.servers, ...net.admins].filter((s) => s !== h).slice(0, 30) : [];
      const r = new Rng(seedOf(this.p.seed, 0xb45e, h.index));
      const mix = h.kind === 'admin' ? MIX_ADMIN : h.v6 ? MIX_V6 : h.dev ? MIX_DEV : MIX_WS;
      const client = h.kind !== 'server';
      for (let d = 0; d < this.p.days; d++) {
        // A workstation is away ~5% of working days (never the attackers on the attack day).
        const away = client && r.chance(0.05) && !(attackerIds.has(h.id) && d === this.p.days - 1);
        const dayScale = Math.exp(0.25 * r.normal());
        for (let k = 0; k < 24; k++) {
          const hi = d * 24 + k;
          const lh = cal.localHour[hi];
          const dow = cal.isoDow[hi];
          const hourUs = this.t0Us + hi * HOUR_US;
          if (client) {
            const wf = dow === 5 ? 0.1 : dow === 6 ? 0.05 : 1;
            const fg = away ? 0 : fgPeak * W[lh] * wf * h.scale * dayScale;
            const on = h.alwaysOn || (!away && wf === 1 && W[lh] >= 0.3);
            const nFg = r.poisson(fg);
            const nBg = on ? r.poisson(1) : 0;
            let prevTs = -1;
            let prevDst = -1;
            for (let e = 0; e < nFg; e++) {
              let ts: number;
              if (prevTs >= 0 && r.chance(0.45)) ts = Math.min(prevTs + r.exp(3e6), hourUs + HOUR_US - 1);
              else {
                ts = hourUs + r.int(HOUR_US);
                prevDst = -1;
              }
              prevDst = this.clientEvent(h, r, ts, mix, prevDst);
              prevTs = ts;
            }
            for (let e = 0; e < nBg; e++) this.backgroundEvent(h, r, hourUs + r.int(HOUR_US));
          } else {
            const lam = ((E * 0.6) / 24) * (0.55 + 0.45 * W[lh]) * (cal.weekend[hi] ? 0.75 : 1) * h.scale;
            const n = r.poisson(lam);
            for (let e = 0; e < n; e++) this.serverEvent(h, r, hourUs + r.int(HOUR_US), dcPeers);
            if (h.role === 'backup' && lh >= 1 && lh <= 3) this.backupJobs(h, r, hourUs, backupTargets);
            if (pollTargets.length) this.monitorPolls(h, r, hourUs, pollTargets);
          }
        }
      }
    }
  }

  /** Nightly backup pulls from the file and database servers: large but routine. */
  private backupJobs(h: Host, r: Rng, hourUs: number, targets: Host[]): void {
    for (const t of targets) {
      const n = r.between(1, 2);
      for (let i = 0; i < n; i++) {
        const db = r.lognormal(25e6, 0.5);
        const port = t.os === 'linux' ? 22 : 445;
        this.tcp(r, h.id, this.eph(h, r), t.id, port, hourUs + r.int(HOUR_US), r.lognormal(2e5, 0.5), db, db / r.lognormal(60e6, 0.3));
      }
    }
  }

  /** Monitoring: ICMP every 15 minutes and SNMP every hour to up to 30 servers. */
  private monitorPolls(h: Host, r: Rng, hourUs: number, targets: Host[]): void {
    for (const t of targets) {
      for (let q = 0; q < 4; q++) this.icmp(r, h.id, t.id, hourUs + q * 900e6 + r.int(5e6));
      this.udp(h.id, this.eph(h, r), t.id, 161, hourUs + r.int(HOUR_US), r.lognormal(120, 0.2), r.lognormal(900, 0.5), 0.01);
    }
  }

  /** Internet-facing web servers get client traffic; every address gets the odd blocked probe. */
  internetBackground(): void {
    const { net, cal } = this;
    const r = new Rng(seedOf(this.p.seed, 0x1e7));
    const webs = net.byRole.get('web') ?? [];
    const internal = net.hosts.filter((h) => !h.v6);
    for (let hi = 0; hi < this.hours; hi++) {
      const hourUs = this.t0Us + hi * HOUR_US;
      const w = 0.3 + 0.7 * W[cal.localHour[hi]];
      for (const s of webs) {
        const n = r.poisson(12 * w * (cal.weekend[hi] ? 0.6 : 1));
        for (let i = 0; i < n; i++) {
          this.web(r, net.randomPublic(r), 1024 + r.int(64511), s.id, 443, hourUs + r.int(HOUR_US), 1200, 30000);
        }
      }
      const probes = r.poisson(2);
      for (let i = 0; i < probes; i++) {
        const dport = r.pick([22, 23, 80, 443, 445, 1433, 3389, 5900, 8080]);
        this.denied(r, net.randomPublic(r), 1024 + r.int(64511), r.pick(internal).id, dport, T_TCP, hourUs + r.int(HOUR_US));
      }
    }
  }

  // ---------------------------------------------------------------- attacks

  /** The first UTC hour index on the attack day whose local hour passes `ok` (DST-safe). */
  private firstAttackHourWhere(ok: (localHour: number) => boolean): number | undefined {
    const d = this.p.days - 1;
    for (let k = 0; k < 24; k++) if (ok(this.cal.localHour[d * 24 + k])) return d * 24 + k;
    return undefined;
  }

  /** The UTC hour index on the attack day whose local hour is `local`. */
  private attackHour(local: number): number {
    return this.firstAttackHourWhere((h) => h === local) ?? (this.p.days - 1) * 24 + ((local + 22) % 24);
  }

  /** The first UTC hour index on the attack day whose local hour is in [from, to). */
  private firstAttackHourBetween(from: number, to: number): number {
    return this.firstAttackHourWhere((h) => h >= from && h < to) ?? (this.p.days - 1) * 24;
  }

  private lastDayEndUs(): number {
    return this.t0Us + this.hours * HOUR_US - 1;
  }

  /** Sessions of one attack, bracketed so its truth record can be computed. */
  private track(fn: () => void): { first: number; last: number; sessions: number; bytes: number } {
    const from = this.ev.length;
    fn();
    let first = Infinity;
    let last = -Infinity;
    let bytes = 0;
    for (let i = from; i < this.ev.length; i++) {
      first = Math.min(first, this.ev.start[i]);
      last = Math.max(last, this.ev.end[i]);
      bytes += this.ev.sbytes[i];
    }
    return { first, last, sessions: this.ev.length - from, bytes };
  }

  portScan(h: Host, r: Rng): Attacker {
    const net = this.net;
    const t = this.track(() => {
      const start = this.t0Us + this.attackHour(10) * HOUR_US + r.int(20 * 60e6);
      const live = new Map(net.hosts.map((x) => [x.ip, x]));
      type Probe = { ip: string; port: number };
      const probes: Probe[] = [];
      // Horizontal sweep of the server and admin segments on SMB, then RDP.
      for (const port of [445, 3389]) {
        for (let o = 1; o <= 254; o++) probes.push({ ip: `10.20.0.${o}`, port });
        for (let o = 1; o <= 60; o++) probes.push({ ip: `10.30.0.${o}`, port });
      }
      // Vertical scan of three servers over the common ports.
      for (const s of r.shuffled(net.servers).slice(0, 3)) for (const port of SCAN_PORTS) probes.push({ ip: s.ip, port });
      const span = r.between(32, 45) * 60e6;
      let ts = start;
      for (const p of probes) {
        ts += r.exp(span / probes.length);
        const dst = net.ipt.id(p.ip);
        const target = live.get(p.ip);
        const open = target !== undefined && ((p.port === 445 && target.os === 'windows') || (p.port === 3389 && target.os === 'windows' && target.kind !== 'server') || (p.port === 22 && target.os === 'linux') || (p.port === 443 && (target.role === 'web' || target.role === 'app')));
        const sport = this.eph(h, r);
        if (open) {
          this.ev.push(h.id, dst, sport, p.port, 74, 60, ts, r.next() * 2e3, A_ALLOW, R_RST_CLIENT, N_TRAFFIC, T_TCP);
        } else if (target === undefined && r.chance(0.3)) {
          this.ev.push(h.id, dst, sport, p.port, 74 * r.between(1, 3), 0, ts, r.between(1, 3) * 1e6, A_ALLOW, R_AGED_OUT, N_TRAFFIC, T_TCP);
        } else if (target !== undefined && r.chance(0.2)) {
          this.ev.push(h.id, dst, sport, p.port, 74, 0, ts, r.next() * 1e3, A_ALLOW, R_RST_SERVER, N_TRAFFIC, T_TCP);
        } else {
          this.denied(r, h.id, sport, dst, p.port, T_TCP, ts);
        }
        // The firewall's scan detection fires a few times.
        if (r.chance(0.006)) this.ev.push(h.id, dst, sport, p.port, 0, 0, ts, 0, A_DROP, R_NA, N_THREAT, T_TCP);
      }
    });
    return {
      host_ip: h.ip, kind: 'port_scan', start: isoMs(t.first), end: isoMs(t.last), sessions: t.sessions, bytes_sent: t.bytes,
      description: 'Internal reconnaissance: a horizontal SMB/RDP sweep of the server and admin segments and a vertical scan of three servers within one hour; mostly denied or reset, no reply bytes, sub-second sessions.',
    };
  }

  /**
   * A hands-on-keyboard exfiltration at night, as rclone-style tools do it:
   * collect from file servers over SMB, resolve the cloud provider, get refused
   * by the egress policy on SFTP/FTP, then upload over HTTPS in parallel
   * streams to several of the provider's addresses, throttled to stay quiet.
   */
  exfiltration(h: Host, r: Rng): Attacker {
    const net = this.net;
    const provider = `${EXFIL_OCTET}.${r.between(128, 159)}.${r.int(256)}`;
    const octets = r.shuffled(Array.from({ length: 200 }, (_, i) => i + 20)).slice(0, 6);
    const addrs = octets.map((o) => net.ipt.id(`${provider}.${o}`));
    const shares = r.shuffled((net.byRole.get('file') ?? []).concat(net.byRole.get('db') ?? [])).slice(0, 3).map((s) => s.id);
    if (h.file >= 0 && !shares.includes(h.file)) shares[0] = h.file;
    const t = this.track(() => {
      let ts = this.t0Us + this.firstAttackHourBetween(2, 5) * HOUR_US + r.between(20, 35) * 60e6;
      // 1. Collection: SMB reads from the file servers.
      const reads = r.between(50, 80);
      for (let i = 0; i < reads; i++) {
        this.tcp(r, h.id, this.eph(h, r), r.pick(shares), 445, ts, r.lognormal(4000, 0.4), r.lognormal(5e6, 0.6), r.lognormal(6, 0.5));
        ts += r.exp(25e6);
      }
      // 2. Resolving the provider; the egress policy refuses SFTP and FTP.
      for (let i = 0; i < 10; i++) this.udp(h.id, this.eph(h, r), h.dns, 53, ts + i * 2e5, 80, 180, 0.02);
      const refused = r.between(12, 20);
      for (let i = 0; i < refused; i++) this.denied(r, h.id, this.eph(h, r), r.pick(addrs), r.pick([22, 21, 990]), T_TCP, ts + r.exp(20e6) + i * 5e6);
      ts += 3 * 60e6;
      // 3. Upload: four throttled HTTPS streams over the provider's addresses, ~8 MB chunks.
      const target = r.between(600, 850) * 1e6;
      const streams = [ts, ts + 1e6, ts + 2e6, ts + 3e6];
      const stopAt = this.lastDayEndUs() - 600e6;
      let total = 0;
      while (total < target && Math.min(...streams) < stopAt) {
        const k = streams.indexOf(Math.min(...streams));
        const sb = r.lognormal(8e6, 0.3);
        const dur = sb / r.lognormal(0.12e6, 0.3);
        this.ev.push(h.id, r.pick(addrs), this.eph(h, r), 443, sb, r.lognormal(9000, 0.3), streams[k], dur * 1e6, A_ALLOW, r.chance(0.95) ? R_TCP_FIN : R_RST_SERVER, N_TRAFFIC, T_TCP);
        total += Math.round(sb);
        streams[k] += dur * 1e6 + r.exp(2e6);
      }
    });
    return {
      host_ip: h.ip, kind: 'exfiltration', start: isoMs(t.first), end: isoMs(t.last), peer_ip: net.ipt.ips[addrs[0]], peer_ips: addrs.map((a) => net.ipt.ips[a]), sessions: t.sessions, bytes_sent: t.bytes,
      description: `Data exfiltration at night: SMB reads from ${shares.length} file/database servers, DNS lookups of a never-seen cloud provider (${provider}.0/24), SFTP/FTP attempts refused by the egress policy, then ${Math.round(t.bytes / 1e6)} MB uploaded over HTTPS in four throttled streams to ${addrs.length} of its addresses, with almost nothing coming back.`,
    };
  }

  beaconing(h: Host, r: Rng): Attacker {
    const peerIp = `${BEACON_OCTET}.${r.between(30, 200)}.${r.int(256)}.${r.between(2, 250)}`;
    const peer = this.net.ipt.id(peerIp);
    const day0 = this.t0Us + (this.p.days - 1) * 24 * HOUR_US;
    const t = this.track(() => {
      let ts = day0 + 5 * 60e6 + r.int(15 * 60e6);
      const stopAt = day0 + 22.5 * HOUR_US + r.int(20 * 60e6);
      let n = 0;
      while (ts < stopAt) {
        if (n % 10 === 0) this.udp(h.id, this.eph(h, r), h.dns, 53, ts - 1.5e5, 78, 160, 0.015);
        const tasking = r.chance(0.03);
        this.ev.push(h.id, peer, this.eph(h, r), 443, r.lognormal(420, 0.08), tasking ? r.lognormal(9000, 0.6) : r.lognormal(230, 0.1), ts, r.lognormal(0.25, 0.3) * 1e6, A_ALLOW, R_TCP_FIN, N_TRAFFIC, T_TCP);
        n++;
        ts += 60e6 + Math.max(-8, Math.min(8, 2.5 * r.normal())) * 1e6;
      }
    });
    return {
      host_ip: h.ip, kind: 'beaconing', start: isoMs(t.first), end: isoMs(t.last), peer_ip: peerIp, sessions: t.sessions, bytes_sent: t.bytes,
      description: `C2 beaconing: one small HTTPS session to the never-seen external ${peerIp} every ~60 s (±3 s jitter) around the clock, night included, with occasional larger tasking replies.`,
    };
  }

  lateralMovement(h: Host, r: Rng): Attacker {
    const net = this.net;
    const t = this.track(() => {
      const start = this.t0Us + this.attackHour(14) * HOUR_US + r.int(15 * 60e6);
      const pool = r.shuffled(net.hosts.filter((x) => x !== h && !x.v6));
      // Prefer a spread across segments: servers and admins first, then workstations.
      const servers = pool.filter((x) => x.kind !== 'workstation').slice(0, 35);
      const wks = pool.filter((x) => x.kind === 'workstation').slice(0, 35);
      const targets = r.shuffled([...servers, ...wks]);
      type Try = { t: Host; port: number };
      const tries: Try[] = [];
      for (const x of targets) {
        if (x.os === 'linux') {
          tries.push({ t: x, port: 22 });
          if (r.chance(0.3)) tries.push({ t: x, port: 22 });
        } else {
          tries.push({ t: x, port: 445 });
          if (r.chance(0.5)) tries.push({ t: x, port: 135 });
          if (r.chance(0.45)) tries.push({ t: x, port: 5985 });
          if (r.chance(0.35)) tries.push({ t: x, port: 3389 });
        }
      }
      const span = r.between(45, 55) * 60e6;
      let ts = start;
      for (const { t: x, port } of tries) {
        ts += r.exp(span / tries.length);
        const sport = this.eph(h, r);
        const blocked = x.kind === 'workstation' ? r.chance(0.35) : r.chance(0.15);
        if (blocked) {
          this.denied(r, h.id, sport, x.id, port, T_TCP, ts);
        } else if (port === 445) {
          this.tcp(r, h.id, sport, x.id, 445, ts, r.lognormal(4000, 0.5), r.lognormal(3000, 0.5), r.lognormal(1.5, 0.6));
        } else if (port === 135) {
          this.tcp(r, h.id, sport, x.id, 135, ts, r.lognormal(1200, 0.4), r.lognormal(900, 0.4), r.lognormal(0.3, 0.5));
        } else if (port === 22) {
          const ok = r.chance(0.4);
          this.ev.push(h.id, x.id, sport, 22, r.lognormal(2600, 0.3), r.lognormal(3200, 0.3), ts, r.lognormal(ok ? 20 : 3, 0.6) * 1e6, A_ALLOW, ok ? R_TCP_FIN : R_RST_SERVER, N_TRAFFIC, T_TCP);
        } else {
          const ok = r.chance(0.5);
          this.ev.push(h.id, x.id, sport, port, ok ? r.lognormal(9000, 0.5) : 180, ok ? r.lognormal(7000, 0.5) : 0, ts, (ok ? r.lognormal(8, 0.6) : 0.05) * 1e6, ok ? A_ALLOW : A_RESET_BOTH, ok ? R_TCP_FIN : R_POLICY_DENY, N_TRAFFIC, T_TCP);
        }
      }
    });
    return {
      host_ip: h.ip, kind: 'lateral_movement', start: isoMs(t.first), end: isoMs(t.last), sessions: t.sessions, bytes_sent: t.bytes,
      description: 'Lateral movement: a workstation touching dozens of internal hosts across the workstation, server and admin segments on SMB, RPC, WinRM, RDP and SSH within an hour.',
    };
  }

  // ---------------------------------------------------------------- DQ rows

  dqRows(exclude: Set<number>): DqCounts {
    const r = new Rng(seedOf(this.p.seed, 0xd9));
    const total = this.ev.length;
    const k = Math.min(Math.floor(total * 0.001), Math.max(8, Math.round(total * 0.0005)));
    const counts: DqCounts = { malformed_ip: 0, null_bytes_ports: 0, negative_bytes: 0, padded_ip: 0 };
    const sources = this.net.workstations.filter((w) => !w.v6 && !exclude.has(w.id));
    const bad = ['', 'not-an-ip', '10.10.1.300', '999.12.4.1', '10.20.0', '::ffff:zz'];
    const ipt = this.net.ipt;
    for (let i = 0; i < k; i++) {
      const h = r.pick(sources);
      const ts = this.t0Us + r.int(this.hours * HOUR_US);
      const dst = r.pick(this.net.popular);
      const sport = this.eph(h, r);
      switch (i % 6) {
        case 0:
        case 3: {
          const malformed = ipt.id(bad[(i >> 1) % bad.length]);
          if (i % 2) this.ev.push(h.id, malformed, sport, 443, 500, 1200, ts, 1e6, A_ALLOW, R_TCP_FIN, N_TRAFFIC, T_TCP);
          else this.ev.push(malformed, dst, sport, 443, 500, 1200, ts, 1e6, A_ALLOW, R_TCP_FIN, N_TRAFFIC, T_TCP);
          counts.malformed_ip++;
          break;
        }
        case 1:
        case 4:
          this.ev.push(h.id, dst, NULL_PORT, NULL_PORT, NaN, NaN, ts, 0, A_ALLOW, R_AGED_OUT, N_TRAFFIC, T_TCP);
          counts.null_bytes_ports++;
          break;
        case 2:
          this.ev.push(h.id, dst, sport, 443, 800, -1, ts, 2e6, A_ALLOW, R_TCP_FIN, N_TRAFFIC, T_TCP);
          counts.negative_bytes++;
          break;
        case 5:
          this.ev.push(ipt.id(` ${h.ip} `), dst, sport, 443, 700, 5000, ts, 1e6, A_ALLOW, R_TCP_FIN, N_TRAFFIC, T_TCP);
          counts.padded_ip++;
          break;
      }
    }
    return counts;
  }
}

export function generate(p: GenerateParams): Generated {
  const g = new Generator(p);
  const r = new Rng(seedOf(p.seed, 0xa77ac));
  const candidates = g.net.workstations.filter((w) => !w.v6 && !w.vdi);
  const [scanner, exfil, beacon, lateral] = r.shuffled(candidates).slice(0, 4);
  // A compromised beaconing machine stays on overnight.
  beacon.alwaysOn = true;
  const attackerIds = new Set([scanner.id, exfil.id, beacon.id, lateral.id]);

  g.baseline(attackerIds);
  g.internetBackground();
  const attackers = [
    g.portScan(scanner, new Rng(seedOf(p.seed, 0xa77ac, 1))),
    g.exfiltration(exfil, new Rng(seedOf(p.seed, 0xa77ac, 2))),
    g.beaconing(beacon, new Rng(seedOf(p.seed, 0xa77ac, 3))),
    g.lateralMovement(lateral, new Rng(seedOf(p.seed, 0xa77ac, 4))),
  ];
  const dq = g.dqRows(attackerIds);
  return { ev: g.ev, net: g.net, cal: g.cal, t0Us: g.t0Us, hours: g.hours, attackers, dq };
}

