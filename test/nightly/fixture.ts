/**
 * Small raw fixtures for the nightly tests, generated with DuckDB: 6 internal
 * hosts talking to a handful of peers, roughly every other minute, over whole
 * UTC days; Palo Alto canonical column names (preset `paloalto`), Parquet.
 *
 * Layout: `<dir>/raw/dt=YYYY-MM-DD/hh=HH/data_0.parquet` (hourly), or with
 * `perBatch` `<dir>/raw/dt=/hh=/mm=/data_0.parquet` (one file per 15-minute batch).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { REPO } from '../support/context.ts';

export const HOSTS = 6;

export interface RawFixture {
  dir: string;
  /** The URI template to pass as --raw. */
  uri: string;
  days: string[];
}

export async function writeRawFixture(dir: string, days: string[], opts: { perBatch?: boolean; hosts?: number } = {}): Promise<RawFixture> {
  const hosts = opts.hosts ?? HOSTS;
  mkdirSync(dir, { recursive: true });
  const inst = await DuckDBInstance.create(':memory:');
  const c = await inst.connect();
  const raw = join(dir, 'raw');
  const start = `${days[0]} 00:00:00`;
  const minutes = days.length * 24 * 60;
  try {
    await c.run(`SET TimeZone = 'UTC'`);
    await c.run(`
      CREATE TABLE ev AS
      WITH grid AS (
        SELECT m.m AS minute, h.h AS host
        FROM range(${minutes}) m(m), range(1, ${hosts + 1}) h(h)
        WHERE (m.m * 7 + h.h * 13) % 5 < 2
      )
      SELECT
        '10.0.0.' || host AS source_ip,
        ['8.8.8.8', '1.1.1.1', '93.184.216.34', '10.0.0.' || (1 + (host % ${hosts})), '192.168.1.20'][1 + (minute + host) % 5] AS destination_ip,
        (40000 + (minute * 3 + host) % 20000)::INTEGER AS source_port,
        ([443, 80, 53, 22, 445][1 + (minute * host) % 5])::INTEGER AS destination_port,
        (200 + (minute * 37 + host * 101) % 5000)::BIGINT AS source_bytes,
        (100 + (minute * 53 + host * 31) % 20000)::BIGINT AS destination_bytes,
        TIMESTAMP '${start}' + to_seconds(minute * 60 + host * 5) AS event_start,
        TIMESTAMP '${start}' + to_seconds(minute * 60 + host * 5 + 1 + host % 3) AS event_end,
        CASE WHEN (minute + host) % 17 = 0 THEN 'deny' ELSE 'allow' END AS event_action,
        'aged-out' AS event_reason,
        'TRAFFIC' AS event_name,
        CASE WHEN (minute * host) % 5 = 2 THEN 'UDP' ELSE 'TCP' END AS network_transport
      FROM grid`);
    await c.run(`
      COPY (
        SELECT *, strftime(event_start, '%Y-%m-%d') AS dt, strftime(event_start, '%H') AS hh,
               lpad((15 * (minute(event_start) // 15))::VARCHAR, 2, '0') AS mm
        FROM ev
      ) TO '${raw}' (FORMAT parquet, PARTITION_BY (dt, hh${opts.perBatch ? ', mm' : ''}), OVERWRITE_OR_IGNORE true)`);
  } finally {
    c.closeSync();
    inst.closeSync();
  }
  const uri = opts.perBatch ? `${raw}/dt={dt}/hh={hh}/mm={mm}/*.parquet` : `${raw}/dt={dt}/hh={hh}/*.parquet`;
  return { dir: raw, uri, days };
}

/** Whether the templates a dataset needs exist yet (other helpers are still writing FG-B/FG-C). */
export function templatesReady(...names: string[]): boolean {
  return names.every((n) => existsSync(join(REPO, 'sql', 'v1', `${n}.sql`)));
}
export const FG_A_READY = templatesReady('fg_a', 'delta_peers_daily', 'delta_to_fg_a', 'ip_list_peers');

/** Common CLI flags of a test run. */
export function cliArgs(warehouse: string, raw: string, jobspecs = join(REPO, 'jobspecs')): string[] {
  return ['--warehouse', warehouse, '--raw', raw, '--raw-format', 'parquet', '--preset', 'paloalto', '--jobspecs', jobspecs, '--cache-dir', join(warehouse, '.cache')];
}

/** The FG-C score families' metrics: FG-C keeps its scores, at a fifth of the width of all 46 metrics. */
export const NARROW_METRICS = [
  'sessions_cnt',
  'bytes_src_sum',
  'bytes_dst_sum',
  'deny_ratio',
  'peer_ip_nunique',
  'max_sessions_per_minute',
  'bytes_asymmetry_ratio',
  'peer_segment_nunique',
  'admin_port_sessions_cnt',
];

/**
 * The demo JobSpecs, shrunk so that a whole day through FG-B and FG-C stays
 * cheap: one 1-day FG-B horizon (one day of history suffices), two FG-A
 * windows, NARROW_METRICS in FG-B and FG-C. Returns the --jobspecs directory.
 */
export function writeTestJobSpecs(dir: string, schedule: 'daily' | 'weekly' | 'monthly'): string {
  const project = join(dir, 'demo');
  mkdirSync(project, { recursive: true });
  cpSync(join(REPO, 'jobspecs', 'demo'), project, { recursive: true });
  const patch = (job: string, f: (j: Record<string, unknown>) => void) => {
    const file = join(project, `${job}#v1.json`);
    const j = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    f(j);
    writeFileSync(file, JSON.stringify(j, null, 2));
  };
  patch('project_parameters', (j) => (j.baseline_schedule = schedule));
  patch('fg_a_builder', (j) => (j.windows = { w_15m: 15, w_1h: 60 }));
  patch('fg_b_builder', (j) => {
    j.horizons = { '1d': { days: 1, tail: 0, head: 0 } };
    j.baseline_metrics = NARROW_METRICS;
  });
  patch('fg_c_builder', (j) => (j.metrics = NARROW_METRICS));
  return dir;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** `bin/ndr-sql ...` as a child process (stdout is a pipe: JSON lines). */
export function spawnCli(args: string[]): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(join(REPO, 'bin', 'ndr-sql'), args, { cwd: REPO, env: { ...process.env, NDR_LOG_FORMAT: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

export const runCli = (args: string[]) => spawnCli(args).done;

/** JSON-lines events of a CLI run's stdout. */
export function events(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
}

/** Every file under `root` (relative paths), skipping `_staging`, `_locks`, the ledger and the cache. */
export function listFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) {
        if (!['_staging', '_locks', '.cache'].includes(e)) walk(p);
      } else out.push(relative(root, p));
    }
  };
  if (existsSync(root)) walk(root);
  return out.sort();
}

/** Rows of every committed partition of `dataset` under a warehouse root, read through the manifests, in a stable order. */
export async function datasetRows(root: string, dataset: string): Promise<{ partitions: string[]; rows: Record<string, unknown>[] }> {
  const { LocalWarehouse } = await import('../../src/storage/local.ts');
  const wh = new LocalWarehouse(root);
  const partitions = await wh.listCommitted(dataset);
  const manifests = [...(await wh.readManifests(partitions)).values()];
  const files = (await Promise.all(manifests.map((m) => wh.localDataFiles(m)))).flat();
  if (!files.length) return { partitions, rows: [] };
  const inst = await DuckDBInstance.create(':memory:');
  const c = await inst.connect();
  try {
    await c.run(`SET TimeZone = 'UTC'`);
    const list = files.map((f) => `'${f.replaceAll("'", "''")}'`).join(',');
    const reader = await c.runAndReadAll(`SELECT * FROM read_parquet([${list}], hive_partitioning = false, union_by_name = true) ORDER BY ALL`);
    return { partitions, rows: reader.getRowObjectsJS() as Record<string, unknown>[] };
  } finally {
    c.closeSync();
    inst.closeSync();
  }
}

/** Equal row sets; doubles within a relative 1e-9 (parallel aggregation may change the last bits). */
export function sameRows(a: Record<string, unknown>[], b: Record<string, unknown>[]): string | undefined {
  if (a.length !== b.length) return `row counts differ: ${a.length} vs ${b.length}`;
  for (let i = 0; i < a.length; i++) {
    const ka = Object.keys(a[i]);
    for (const k of ka) {
      const x = a[i][k];
      const y = b[i][k];
      if (typeof x === 'number' && typeof y === 'number') {
        if (Number.isNaN(x) && Number.isNaN(y)) continue;
        if (Math.abs(x - y) > 1e-9 * Math.max(1, Math.abs(x), Math.abs(y))) return `row ${i} column ${k}: ${x} vs ${y}`;
      } else if (JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? String(v) : v)) !== JSON.stringify(y, (_k, v) => (typeof v === 'bigint' ? String(v) : v))) {
        return `row ${i} column ${k}: ${String(x)} vs ${String(y)}`;
      }
    }
  }
  return undefined;
}

/**
 * Orphans: data files in a partition directory that its manifest does not
 * list (or a partition directory with data files and no manifest), and
 * manifest entries whose file is gone. Staging, locks and the cache are not
 * partitions.
 */
export function orphans(root: string): string[] {
  const out: string[] = [];
  const byDir = new Map<string, string[]>();
  for (const f of listFiles(root)) {
    const i = f.lastIndexOf('/');
    const dir = i < 0 ? '' : f.slice(0, i);
    byDir.set(dir, [...(byDir.get(dir) ?? []), f.slice(i + 1)]);
  }
  for (const [dir, files] of byDir) {
    const data = files.filter((f) => f.endsWith('.parquet'));
    if (!files.includes('_manifest.json')) {
      out.push(...data.map((f) => `${dir}/${f} (no manifest)`));
      continue;
    }
    const m = JSON.parse(readFileSync(join(root, dir, '_manifest.json'), 'utf8')) as { files: { name: string }[] };
    const listed = new Set(m.files.map((x) => x.name));
    out.push(...data.filter((f) => !listed.has(f)).map((f) => `${dir}/${f} (not in manifest)`));
    out.push(...[...listed].filter((f) => !files.includes(f)).map((f) => `${dir}/${f} (listed, missing)`));
  }
  return out.sort();
}
