/**
 * Columnar event buffer: typed arrays, IPs interned to ids, categorical fields
 * as small codes. Writers turn it into Parquet (through DuckDB) or NDJSON.gz.
 */

export const ACTIONS = ['allow', 'deny', 'drop', 'reset-both', 'reset-client', 'alert'] as const;
export const REASONS = ['aged-out', 'tcp-fin', 'tcp-rst-from-client', 'tcp-rst-from-server', 'policy-deny', 'n/a'] as const;
export const NAMES = ['TRAFFIC', 'THREAT'] as const;
export const TRANSPORTS = ['TCP', 'UDP', 'ICMP'] as const;

export const A_ALLOW = 0, A_DENY = 1, A_DROP = 2, A_RESET_BOTH = 3, A_RESET_CLIENT = 4, A_ALERT = 5;
export const R_AGED_OUT = 0, R_TCP_FIN = 1, R_RST_CLIENT = 2, R_RST_SERVER = 3, R_POLICY_DENY = 4, R_NA = 5;
export const N_TRAFFIC = 0, N_THREAT = 1;
export const T_TCP = 0, T_UDP = 1, T_ICMP = 2;

/** Port value meaning NULL. */
export const NULL_PORT = -1;

/** Interned IP strings (any text, including malformed ones for DQ rows). */
export class IpTable {
  readonly ips: string[] = [];
  private readonly index = new Map<string, number>();

  id(ip: string): number {
    let id = this.index.get(ip);
    if (id === undefined) {
      id = this.ips.length;
      this.ips.push(ip);
      this.index.set(ip, id);
    }
    return id;
  }

  has(ip: string): boolean {
    return this.index.has(ip);
  }
}

export class EventBuffer {
  length = 0;
  src: Int32Array;
  dst: Int32Array;
  sport: Int32Array;
  dport: Int32Array;
  /** Bytes; NaN = NULL. */
  sbytes: Float64Array;
  dbytes: Float64Array;
  /** Epoch microseconds (integers, exact in a double). */
  start: Float64Array;
  end: Float64Array;
  action: Uint8Array;
  reason: Uint8Array;
  name: Uint8Array;
  transport: Uint8Array;

  constructor(capacity = 1 << 16) {
    this.src = new Int32Array(capacity);
    this.dst = new Int32Array(capacity);
    this.sport = new Int32Array(capacity);
    this.dport = new Int32Array(capacity);
    this.sbytes = new Float64Array(capacity);
    this.dbytes = new Float64Array(capacity);
    this.start = new Float64Array(capacity);
    this.end = new Float64Array(capacity);
    this.action = new Uint8Array(capacity);
    this.reason = new Uint8Array(capacity);
    this.name = new Uint8Array(capacity);
    this.transport = new Uint8Array(capacity);
  }

  private grow(): void {
    const cap = Math.ceil(this.src.length * 1.6) + 1024;
    const g = <T extends Int32Array | Float64Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a);
      return b;
    };
    this.src = g(this.src, (n) => new Int32Array(n));
    this.dst = g(this.dst, (n) => new Int32Array(n));
    this.sport = g(this.sport, (n) => new Int32Array(n));
    this.dport = g(this.dport, (n) => new Int32Array(n));
    this.sbytes = g(this.sbytes, (n) => new Float64Array(n));
    this.dbytes = g(this.dbytes, (n) => new Float64Array(n));
    this.start = g(this.start, (n) => new Float64Array(n));
    this.end = g(this.end, (n) => new Float64Array(n));
    this.action = g(this.action, (n) => new Uint8Array(n));
    this.reason = g(this.reason, (n) => new Uint8Array(n));
    this.name = g(this.name, (n) => new Uint8Array(n));
    this.transport = g(this.transport, (n) => new Uint8Array(n));
  }

  /**
   * Append one session. Times in epoch µs (start) and µs (duration); byte
   * counts are rounded here (NaN stays NULL).
   */
  push(
    src: number,
    dst: number,
    sport: number,
    dport: number,
    sbytes: number,
    dbytes: number,
    startUs: number,
    durUs: number,
    action: number,
    reason: number,
    name: number,
    transport: number,
  ): void {
    if (this.length === this.src.length) this.grow();
    const i = this.length++;
    const s = Math.floor(startUs);
    this.src[i] = src;
    this.dst[i] = dst;
    this.sport[i] = sport;
    this.dport[i] = dport;
    this.sbytes[i] = Math.round(sbytes);
    this.dbytes[i] = Math.round(dbytes);
    this.start[i] = s;
    this.end[i] = s + Math.max(0, Math.round(durUs));
    this.action[i] = action;
    this.reason[i] = reason;
    this.name[i] = name;
    this.transport[i] = transport;
  }
}

/**
 * Order events by UTC hour, then start time, then generation order.
 * Returns the permutation and, per hour, the [offset, offset+count) range in it.
 */
export function sortByHour(ev: EventBuffer, t0Us: number, hours: number, hourUs: number): { order: Uint32Array; offsets: Uint32Array } {
  const n = ev.length;
  const hourOf = new Int32Array(n);
  const counts = new Uint32Array(hours + 1);
  for (let i = 0; i < n; i++) {
    const h = Math.floor((ev.start[i] - t0Us) / hourUs);
    if (h < 0 || h >= hours) throw new Error(`internal: synthetic event outside the range (hour ${h})`);
    hourOf[i] = h;
    counts[h + 1]++;
  }
  const offsets = new Uint32Array(hours + 1);
  for (let h = 0; h < hours; h++) offsets[h + 1] = offsets[h] + counts[h + 1];
  const fill = offsets.slice(0, hours);
  const byHour = new Uint32Array(n);
  for (let i = 0; i < n; i++) byHour[fill[hourOf[i]]++] = i;

  // Within an hour: key = (µs into the hour) * 2^21 + rank in generation order.
  // Both fit: 3.6e9 * 2^21 < 2^53, and an hour holds < 2^21 events.
  const SHIFT = 2097152;
  const order = new Uint32Array(n);
  for (let h = 0; h < hours; h++) {
    const lo = offsets[h];
    const hi = offsets[h + 1];
    const m = hi - lo;
    if (m === 0) continue;
    if (m >= SHIFT) throw new Error('synth: more than 2^21 events in one hour; lower eventsPerHostPerDay or hosts');
    const base = t0Us + h * hourUs;
    const keys = new Float64Array(m);
    for (let k = 0; k < m; k++) keys[k] = (ev.start[byHour[lo + k]] - base) * SHIFT + k;
    keys.sort();
    for (let k = 0; k < m; k++) order[lo + k] = byHour[lo + (keys[k] % SHIFT)];
  }
  return { order, offsets };
}
