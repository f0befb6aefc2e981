/**
 * An independent, deliberately naive TypeScript reading of FEATURES.md §1–§3
 * and §5, used to check the SQL templates on small fixtures. It shares no
 * code with src/ (IP validity and CIDR matching come from node:net).
 */
import { BlockList, isIP } from 'node:net';

export interface RawRow {
  source_ip: string | null;
  destination_ip: string | null;
  source_port: number | null;
  destination_port: number | null;
  source_bytes: number | null;
  destination_bytes: number | null;
  event_start: string | null;
  event_end: string | null;
  event_action?: string | null;
  event_reason?: string | null;
  event_name?: string | null;
  network_transport?: string | null;
}

const DENY = ['deny', 'drop', 'drop-icmp', 'reset-client', 'reset-server', 'reset-both'];
const PORT_SETS: Record<string, number[]> = {
  high_risk: [21, 23, 69, 135, 137, 138, 139, 445, 1433, 3389, 4444, 5900, 6667],
  admin: [22, 23, 3389, 5900, 5985, 5986],
  fileshare: [20, 21, 139, 445, 2049],
  directory: [88, 389, 464, 636, 3268, 3269],
  db: [1433, 1521, 3306, 5432, 6379, 9200, 27017],
};

const internal = new BlockList();
internal.addSubnet('10.0.0.0', 8, 'ipv4');
internal.addSubnet('172.16.0.0', 12, 'ipv4');
internal.addSubnet('192.168.0.0', 16, 'ipv4');
internal.addSubnet('fc00::', 7, 'ipv6');
const isInternal = (ip: string) => internal.check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4');
/** Strict dotted quads only (no leading zeros), as ndr-sql documents; IPv6 per node:net. */
const validIp = (ip: string | null) => ip !== null && (isIP(ip) === 6 ? !ip.includes('%') : isIP(ip) === 4 && !/(^|\.)0\d/.test(ip));

const us = (iso: string) => {
  const m = /\.(\d+)Z$/.exec(iso);
  const frac = m ? Number((m[1] + '000000').slice(0, 6)) : 0;
  return Math.floor(Date.parse(iso) / 1000) * 1_000_000 + frac;
};

export interface Event {
  src: string;
  dst: string;
  sport: number | null;
  dport: number | null;
  sbytes: number | null;
  dbytes: number | null;
  startUs: number;
  endUs: number | null;
  duration: number;
  batch: number; // ms
  action: string | null;
  reason: string | null;
  name: string | null;
  transport: string | null;
}

export function applyDq(rows: RawRow[], batchStartsMs: number[]) {
  const counts = { filter_null_bytes_ports: 0, drop_malformed_ip: 0, null_event_start: 0, outside_batch: 0, duration_non_negative: 0, bytes_non_negative: 0 };
  const events: Event[] = [];
  for (const r of rows) {
    const src = r.source_ip?.trim() ?? null;
    const dst = r.destination_ip?.trim() ?? null;
    if (r.source_bytes === null && r.destination_bytes === null && r.source_port === null && r.destination_port === null) {
      counts.filter_null_bytes_ports++;
      continue;
    }
    if (!validIp(src) || !validIp(dst)) {
      counts.drop_malformed_ip++;
      continue;
    }
    if (!r.event_start) {
      counts.null_event_start++;
      continue;
    }
    const startUs = us(r.event_start);
    const batch = Math.floor(startUs / 1000 / 900_000) * 900_000;
    if (!batchStartsMs.includes(batch)) {
      counts.outside_batch++;
      continue;
    }
    const endUs = r.event_end ? us(r.event_end) : null;
    let duration = endUs === null ? 0 : (endUs - startUs) / 1e6;
    if (duration < 0) {
      duration = 0;
      counts.duration_non_negative++;
    }
    const neg = (b: number | null) => (b !== null && b < 0 ? null : b);
    if ((r.source_bytes ?? 0) < 0 || (r.destination_bytes ?? 0) < 0) counts.bytes_non_negative++;
    events.push({
      src: src!, dst: dst!, sport: r.source_port, dport: r.destination_port,
      sbytes: neg(r.source_bytes), dbytes: neg(r.destination_bytes), startUs, endUs, duration, batch,
      action: r.event_action ?? null, reason: r.event_reason ?? null, name: r.event_name ?? null, transport: r.network_transport ?? null,
    });
  }
  return { events, counts };
}

function quantile(values: number[], q: number): number | null {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

export interface RoleRow extends Event {
  role: 'outbound' | 'inbound';
  host: string;
  peer: string;
  peerPort: number | null;
  sent: number | null;
  recv: number | null;
}

export function roleRows(events: Event[]): RoleRow[] {
  const out: RoleRow[] = [];
  for (const e of events) {
    if (isInternal(e.src)) out.push({ ...e, role: 'outbound', host: e.src, peer: e.dst, peerPort: e.dport, sent: e.sbytes, recv: e.dbytes });
    if (isInternal(e.dst)) out.push({ ...e, role: 'inbound', host: e.dst, peer: e.src, peerPort: e.dport, sent: e.dbytes, recv: e.sbytes });
  }
  return out;
}

const group = <T>(xs: T[], key: (x: T) => string) => {
  const m = new Map<string, T[]>();
  for (const x of xs) m.set(key(x), [...(m.get(key(x)) ?? []), x]);
  return m;
};
const fold = (a: string | null) => (a ?? '').trim().toLowerCase().replace(/[ _]/g, '-');
const cnt = <T>(xs: T[], p: (x: T) => boolean) => xs.filter(p).length;

export function referenceDelta(events: Event[]) {
  return [...group(roleRows(events), (r) => `${r.host}|${r.role}|${r.batch}`).values()].map((rs) => {
    const f = rs[0];
    const perMinute = group(rs, (r) => String(Math.floor(r.startUs / 60e6)));
    const row: Record<string, unknown> = {
      host_ip: f.host,
      role: f.role,
      slice_start_ms: f.batch,
      sessions_cnt: rs.length,
      bytes_sent_sum: rs.reduce((a, r) => a + (r.sent ?? 0), 0),
      bytes_recv_sum: rs.reduce((a, r) => a + (r.recv ?? 0), 0),
      duration_sum: rs.reduce((a, r) => a + r.duration, 0),
      allow_cnt: cnt(rs, (r) => fold(r.action) === 'allow'),
      drop_cnt: cnt(rs, (r) => DENY.includes(fold(r.action))),
      alert_cnt: cnt(rs, (r) => fold(r.action) === 'alert'),
      rst_cnt: cnt(rs, (r) => (r.reason ?? '').toLowerCase().startsWith('tcp-rst')),
      aged_out_cnt: cnt(rs, (r) => (r.reason ?? '').toLowerCase() === 'aged-out'),
      threat_cnt: cnt(rs, (r) => (r.name ?? '').toUpperCase() === 'THREAT'),
      traffic_cnt: cnt(rs, (r) => (r.name ?? '').toUpperCase() === 'TRAFFIC'),
      tcp_cnt: cnt(rs, (r) => (r.transport ?? '').toUpperCase() === 'TCP'),
      udp_cnt: cnt(rs, (r) => (r.transport ?? '').toUpperCase() === 'UDP'),
      icmp_cnt: cnt(rs, (r) => (r.transport ?? '').toUpperCase() === 'ICMP'),
      zero_reply_cnt: cnt(rs, (r) => r.dbytes === 0),
      short_session_cnt: cnt(rs, (r) => r.duration <= 1),
      max_sessions_per_minute: Math.max(...[...perMinute.values()].map((m) => m.length)),
    };
    for (const [set, ports] of Object.entries(PORT_SETS)) row[`${set}_port_sessions_cnt`] = cnt(rs, (r) => r.peerPort !== null && ports.includes(r.peerPort));
    for (const [name, get] of [['bytes_sent', (r: RoleRow) => r.sent], ['bytes_recv', (r: RoleRow) => r.recv], ['duration', (r: RoleRow) => r.duration]] as const) {
      const vals = rs.map(get).filter((v): v is number => v !== null);
      for (const q of [25, 50, 75, 95, 99]) row[`${name}_p${q}`] = quantile(vals, q / 100);
    }
    return row;
  });
}

export function referenceDeltaPeers(events: Event[]) {
  return [...group(roleRows(events), (r) => `${r.host}|${r.role}|${r.peer}|${r.peerPort}|${r.batch}`).values()].map((rs) => ({
    host_ip: rs[0].host,
    role: rs[0].role,
    peer_ip: rs[0].peer,
    peer_port: rs[0].peerPort,
    slice_start_ms: rs[0].batch,
    sessions_cnt: rs.length,
    bytes_sent_sum: rs.reduce((a, r) => a + (r.sent ?? 0), 0),
    bytes_recv_sum: rs.reduce((a, r) => a + (r.recv ?? 0), 0),
    last_event_us: Math.max(...rs.map((r) => r.endUs ?? -Infinity)),
  }));
}

export function referencePairCounts(events: Event[]) {
  const kept = events.filter((e) => e.dport !== null && e.dport > 0 && (e.name === null || e.name.toUpperCase() === 'TRAFFIC'));
  return [...group(kept, (e) => `${e.src}|${e.dst}|${e.dport}|${e.batch}`).values()].map((es) => ({
    src_ip: es[0].src,
    dst_ip: es[0].dst,
    dst_port: es[0].dport,
    slice_start_ms: es[0].batch,
    sessions_cnt: es.length,
    segment_id: isIP(es[0].src) === 4 ? es[0].src.split('.').slice(0, 3).join('.') + '.0/24' : null,
  }));
}
