/**
 * Deterministic synthetic enterprise traffic (Palo Alto preset canonical names)
 * with four injected attacks on the last day.
 *
 * Layout under `out`:
 *   raw/dt=YYYY-MM-DD/hh=HH/part-0.parquet | part-0.json.gz   one file per UTC hour (by event_start)
 *   ground_truth.json                                         seed, range, attack day, attackers, DQ rows
 *   inventory.csv                                             ip,machine_name,segment,kind,role
 * `raw/` is replaced whole on every run. Same options → byte-identical files.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DAY_MS, HOUR_US, dayString, parseDay } from './calendar.ts';
import { sortByHour } from './events.ts';
import { generate, type Attacker, type AttackKind, type DqCounts } from './generate.ts';
import { hourFiles, writeNdjson, writeParquet } from './write.ts';

export type { Attacker, AttackKind, DqCounts };

export interface SynthOptions {
  hosts: number;
  days: number;
  /** YYYY-MM-DD, the first day (UTC). */
  start: string;
  seed: number;
  /** Output directory. */
  out: string;
  format: 'parquet' | 'ndjson';
  /** Office timezone driving the diurnal rhythm and the Fri/Sat weekend. Default Asia/Jerusalem. */
  timezone?: string;
  /** Scale knob: events a typical workstation originates on a working day. Default 400. */
  eventsPerHostPerDay?: number;
  /** Parallel single-threaded DuckDB COPY workers for the Parquet writer (default: available cores, max 8). */
  threads?: number;
}

export interface GroundTruth {
  seed: number;
  start: string;
  days: number;
  /** YYYY-MM-DD (UTC) of the last day, the only day with attacks. */
  attack_day: string;
  attackers: Attacker[];
  timezone: string;
  hosts: number;
  events: number;
  /** Rows injected to exercise the DQ rules (each ≤ 0.1% of events in total). */
  dq_rows: DqCounts;
}

export interface SynthResult {
  files: string[];
  events: number;
  groundTruth: GroundTruth;
  groundTruthFile: string;
  inventoryFile: string;
}

export const DEFAULT_TIMEZONE = 'Asia/Jerusalem';
export const DEFAULT_EVENTS_PER_HOST_PER_DAY = 400;

function check(cond: boolean, message: string): void {
  if (!cond) throw new Error(`synth: ${message}`);
}

export async function synthesize(opts: SynthOptions): Promise<SynthResult> {
  check(Number.isInteger(opts.hosts) && opts.hosts >= 20 && opts.hosts <= 50_000, `hosts must be an integer in [20, 50000], got ${opts.hosts}`);
  check(Number.isInteger(opts.days) && opts.days >= 1 && opts.days <= 400, `days must be an integer in [1, 400], got ${opts.days}`);
  check(Number.isSafeInteger(opts.seed) && opts.seed >= 0, `seed must be a non-negative integer, got ${opts.seed}`);
  check(opts.format === 'parquet' || opts.format === 'ndjson', `format must be parquet or ndjson, got ${String(opts.format)}`);
  check(typeof opts.out === 'string' && opts.out.length > 0, 'out directory is required');
  const eventsPerHostPerDay = opts.eventsPerHostPerDay ?? DEFAULT_EVENTS_PER_HOST_PER_DAY;
  check(Number.isFinite(eventsPerHostPerDay) && eventsPerHostPerDay >= 20 && eventsPerHostPerDay <= 100_000, `eventsPerHostPerDay must be in [20, 100000], got ${eventsPerHostPerDay}`);
  const timezone = opts.timezone ?? DEFAULT_TIMEZONE;
  const startMs = parseDay(opts.start);

  const g = generate({ hosts: opts.hosts, days: opts.days, startMs, seed: opts.seed, timezone, eventsPerHostPerDay });
  const { order, offsets } = sortByHour(g.ev, g.t0Us, g.hours, HOUR_US);

  await rm(join(opts.out, 'raw'), { recursive: true, force: true });
  await mkdir(opts.out, { recursive: true });
  const files = hourFiles(opts.out, g.t0Us, g.hours, opts.format === 'parquet' ? 'parquet' : 'json.gz');
  if (opts.format === 'parquet') await writeParquet(g.ev, g.net.ipt, order, offsets, files, opts.threads);
  else await writeNdjson(g.ev, g.net.ipt, order, offsets, files);

  const groundTruth: GroundTruth = {
    seed: opts.seed,
    start: opts.start,
    days: opts.days,
    attack_day: dayString(startMs + (opts.days - 1) * DAY_MS),
    attackers: g.attackers,
    timezone,
    hosts: opts.hosts,
    events: g.ev.length,
    dq_rows: g.dq,
  };
  const groundTruthFile = join(opts.out, 'ground_truth.json');
  await writeFile(groundTruthFile, JSON.stringify(groundTruth, null, 2) + '\n');
  const inventoryFile = join(opts.out, 'inventory.csv');
  const inv = ['ip,machine_name,segment,kind,role', ...g.net.hosts.map((h) => `${h.ip},${h.machine},${h.segment},${h.kind},${h.role ?? ''}`)];
  await writeFile(inventoryFile, inv.join('\n') + '\n');

  return { files: files.map((f) => f.path), events: g.ev.length, groundTruth, groundTruthFile, inventoryFile };
}
