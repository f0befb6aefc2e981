/**
 * Writers: one file per UTC hour under <out>/raw/dt=YYYY-MM-DD/hh=HH/.
 * - Parquet: each hour's rows are dumped as a plain CSV (categories as codes),
 *   then DuckDB maps them to the canonical names and types and writes the real
 *   file with one `COPY ... TO` per hour, keeping the CSV's row order, so the
 *   bytes are deterministic. (The node-api Appender measured ~3x slower.)
 * - NDJSON: lines built in JS, gzip'd on the libuv pool (deterministic header:
 *   Node's zlib writes mtime 0).
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import { HOUR_US, dayString } from './calendar.ts';
import { ACTIONS, NAMES, REASONS, TRANSPORTS, type EventBuffer, type IpTable } from './events.ts';
import { inline, lit, litList, sql } from '../engine/sql.ts';

const gzip = promisify(gzipCb);

export interface HourFile {
  hour: number;
  dt: string;
  hh: string;
  path: string;
}

export function hourFiles(out: string, t0Us: number, hours: number, ext: string): HourFile[] {
  const files: HourFile[] = [];
  for (let h = 0; h < hours; h++) {
    const ms = (t0Us + h * HOUR_US) / 1000;
    const dt = dayString(ms);
    const hh = String(new Date(ms).getUTCHours()).padStart(2, '0');
    files.push({ hour: h, dt, hh, path: join(out, 'raw', `dt=${dt}`, `hh=${hh}`, `part-0.${ext}`) });
  }
  return files;
}

/** Civil date of a day number since 1970-01-01 (H. Hinnant's algorithm). */
function civil(days: number): [number, number, number] {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d];
}

/**
 * NDJSON lines written byte by byte into one buffer per hour: no per-row
 * strings, so no garbage (string concatenation spent most of its time in GC).
 */
class LineWriter {
  buf: Buffer;
  at = 0;
  private readonly dayPrefix = new Map<number, Buffer>();

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  put(b: Uint8Array): void {
    const n = b.length;
    if (n > 12) {
      // TypedArray#set is a memmove; Buffer#copy adds argument checks per call.
      this.buf.set(b, this.at);
      this.at += n;
      return;
    }
    const buf = this.buf;
    let at = this.at;
    for (let j = 0; j < n; j++) buf[at++] = b[j];
    this.at = at;
  }

  /** Non-negative integer (< 2^53) in decimal. */
  uint(n: number): void {
    const buf = this.buf;
    if (n < 10) {
      buf[this.at++] = 48 + n;
      return;
    }
    let digits = 0;
    for (let x = n; x >= 1; x = Math.floor(x / 10)) digits++;
    let at = this.at + digits;
    this.at = at;
    while (n >= 1) {
      const q = Math.floor(n / 10);
      buf[--at] = 48 + (n - q * 10);
      n = q;
    }
  }

  int(n: number): void {
    if (n < 0) {
      this.buf[this.at++] = 45; // '-'
      n = -n;
    }
    this.uint(n);
  }

  private two(n: number): void {
    this.buf[this.at++] = 48 + Math.floor(n / 10);
    this.buf[this.at++] = 48 + (n % 10);
  }

  /** ISO-8601 UTC with microseconds: 2026-11-24T12:03:04.123456Z */
  timestamp(us: number): void {
    const days = Math.floor(us / 86_400_000_000);
    let prefix = this.dayPrefix.get(days);
    if (!prefix) {
      const [y, m, d] = civil(days);
      prefix = Buffer.from(`${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}T`, 'latin1');
      this.dayPrefix.set(days, prefix);
    }
    this.put(prefix);
    let rest = us - days * 86_400_000_000;
    const micro = rest % 1_000_000;
    rest = (rest - micro) / 1_000_000;
    const sec = rest % 60;
    rest = (rest - sec) / 60;
    this.two(Math.floor(rest / 60));
    this.buf[this.at++] = 58; // ':'
    this.two(rest % 60);
    this.buf[this.at++] = 58;
    this.two(sec);
    this.buf[this.at++] = 46; // '.'
    let at = this.at + 6;
    this.at = at;
    let x = micro;
    for (let k = 0; k < 6; k++) {
      const q = Math.floor(x / 10);
      this.buf[--at] = 48 + (x - q * 10);
      x = q;
    }
    this.buf[this.at++] = 90; // 'Z'
  }
}

export async function writeNdjson(ev: EventBuffer, ipt: IpTable, order: Uint32Array, offsets: Uint32Array, files: HourFile[]): Promise<void> {
  const ipJson = ipt.ips.map((ip) => Buffer.from(JSON.stringify(ip), 'utf8'));
  const maxIp = ipJson.reduce((m, b) => Math.max(m, b.length), 0);
  const lit = (s: string) => Buffer.from(s, 'latin1');
  const K_SRC = lit('{"source_ip":');
  const K_DST = lit(',"destination_ip":');
  const K_SPORT = lit(',"source_port":');
  const K_DPORT = lit(',"destination_port":');
  const K_SB = lit(',"source_bytes":');
  const K_DB = lit(',"destination_bytes":');
  const K_START = lit(',"event_start":"');
  const K_END = lit('","event_end":"');
  const NULL = lit('null');
  const act = ACTIONS.map((a) => lit(`","event_action":"${a}","event_reason":"`));
  const rsn = REASONS.map((r) => lit(`${r}","event_name":"`));
  const nm = NAMES.map((n) => lit(`${n}","network_transport":"`));
  const tr = TRANSPORTS.map((t) => lit(`${t}"}\n`));
  const fixed = [K_SRC, K_DST, K_SPORT, K_DPORT, K_SB, K_DB, K_START, K_END].reduce((s, b) => s + b.length, 0);
  const maxLine = fixed + 2 * maxIp + 4 * 24 + 2 * 32 + Math.max(...act.map((b) => b.length)) + Math.max(...rsn.map((b) => b.length)) + Math.max(...nm.map((b) => b.length)) + Math.max(...tr.map((b) => b.length));

  const inflight = new Set<Promise<void>>();
  for (const f of files) {
    const lo = offsets[f.hour];
    const hi = offsets[f.hour + 1];
    const w = new LineWriter((hi - lo) * maxLine + 16);
    for (let k = lo; k < hi; k++) {
      const i = order[k];
      w.put(K_SRC);
      w.put(ipJson[ev.src[i]]);
      w.put(K_DST);
      w.put(ipJson[ev.dst[i]]);
      w.put(K_SPORT);
      if (ev.sport[i] < 0) w.put(NULL);
      else w.uint(ev.sport[i]);
      w.put(K_DPORT);
      if (ev.dport[i] < 0) w.put(NULL);
      else w.uint(ev.dport[i]);
      w.put(K_SB);
      if (Number.isNaN(ev.sbytes[i])) w.put(NULL);
      else w.int(ev.sbytes[i]);
      w.put(K_DB);
      if (Number.isNaN(ev.dbytes[i])) w.put(NULL);
      else w.int(ev.dbytes[i]);
      w.put(K_START);
      w.timestamp(ev.start[i]);
      w.put(K_END);
      w.timestamp(ev.end[i]);
      w.put(act[ev.action[i]]);
      w.put(rsn[ev.reason[i]]);
      w.put(nm[ev.name[i]]);
      w.put(tr[ev.transport[i]]);
    }
    const body = w.buf.subarray(0, w.at);
    const job = (async () => {
      await mkdir(join(f.path, '..'), { recursive: true });
      await writeFile(f.path, await gzip(body, { level: 6 }));
    })();
    inflight.add(job);
    job.finally(() => inflight.delete(job)).catch(() => undefined);
    if (inflight.size >= 4) await Promise.race(inflight);
  }
  await Promise.all(inflight);
}

export async function writeParquet(
  ev: EventBuffer,
  ipt: IpTable,
  order: Uint32Array,
  offsets: Uint32Array,
  files: HourFile[],
  threads?: number,
): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), 'ndr-synth-'));
  const config: Record<string, string> = { autoinstall_known_extensions: 'false', preserve_insertion_order: 'true' };
  // Each hour file is one row group, so a COPY is single-threaded anyway: run one
  // DuckDB thread per connection and several connections side by side instead
  // (idle worker threads cost more than they help on hundreds of small COPYs).
  config.threads = '1';
  const parallel = Math.max(1, Math.min(8, threads ?? availableParallelism()));
  let instance: DuckDBInstance | undefined;
  const conns: DuckDBConnection[] = [];
  try {
    instance = await DuckDBInstance.create(':memory:', config);
    // Intermediate CSV files, one per hour, rows already in output order
    // (IPs as text, categories as codes, NULL as \\N).
    const hourTmp: string[] = [];
    for (const f of files) {
      const lo = offsets[f.hour];
      const hi = offsets[f.hour + 1];
      const lines: string[] = [];
      // '\\N' marks NULL, so that an empty IP string stays an empty string.
      const int = (v: number) => (v < 0 ? '\\N' : String(v));
      const num = (v: number) => (Number.isNaN(v) ? '\\N' : String(v));
      for (let k = lo; k < hi; k++) {
        const r = order[k];
        lines.push(
          `${ipt.ips[ev.src[r]]},${ipt.ips[ev.dst[r]]},${int(ev.sport[r])},${int(ev.dport[r])},${num(ev.sbytes[r])},${num(ev.dbytes[r])},` +
            `${ev.start[r]},${ev.end[r]},${ev.action[r]},${ev.reason[r]},${ev.name[r]},${ev.transport[r]}`,
        );
      }
      const path = join(tmp, `h${f.hour}.csv`);
      await writeFile(path, lines.join('\n') + (lines.length ? '\n' : ''));
      hourTmp.push(path);
      await mkdir(join(f.path, '..'), { recursive: true });
    }

    // A pure projection of a one-row-group file: with preserve_insertion_order
    // the output keeps the intermediate's (sorted) row order.
    const projection = (path: string) =>
      sql`SELECT
        src AS source_ip,
        dst AS destination_ip,
        sport AS source_port,
        dport AS destination_port,
        sb::BIGINT AS source_bytes,
        db::BIGINT AS destination_bytes,
        make_timestamp(ts::BIGINT) AS event_start,
        make_timestamp(te::BIGINT) AS event_end,
        ${litList(ACTIONS)}[act + 1] AS event_action,
        ${litList(REASONS)}[rsn + 1] AS event_reason,
        ${litList(NAMES)}[nm + 1] AS event_name,
        ${litList(TRANSPORTS)}[tr + 1] AS network_transport
      FROM read_csv(${lit(path)}, header = false, auto_detect = false, quote = '', escape = '', nullstr = '\\N',
        columns = {'src': 'VARCHAR', 'dst': 'VARCHAR', 'sport': 'INTEGER', 'dport': 'INTEGER', 'sb': 'DOUBLE', 'db': 'DOUBLE',
                   'ts': 'DOUBLE', 'te': 'DOUBLE', 'act': 'INTEGER', 'rsn': 'INTEGER', 'nm': 'INTEGER', 'tr': 'INTEGER'})`;
    for (let i = 0; i < parallel; i++) conns.push(await instance.connect());
    let next = 0;
    let failed = false;
    // allSettled: never close the instance under a COPY that is still running.
    const results = await Promise.allSettled(
      conns.map(async (conn) => {
        while (next < files.length && !failed) {
          const k = next++;
          try {
            await conn.run(inline(sql`COPY (${projection(hourTmp[k])}) TO ${lit(files[k].path)} (FORMAT parquet)`));
          } catch (e) {
            failed = true;
            throw e;
          }
        }
      }),
    );
    const error = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (error) throw error.reason;
  } finally {
    for (const c of conns) c.closeSync();
    instance?.closeSync();
    await rm(tmp, { recursive: true, force: true });
  }
}
