/**
 * End to end against the real local servers (s3rver + dynalite, no client mocks):
 * 1. JobSpecs pushed to DynamoDB, raw NDJSON on S3, `build fg-c --upstream` into an
 *    S3 warehouse and into a local one: identical FG-C rows;
 * 2. Zeek TSV on S3 through the zeek_conn preset: the golden delta values;
 * 3. the S3 server stopped mid-run (a child process): one-line error, exit 1, no
 *    committed partition pointing at a missing file; the rerun after a restart
 *    completes and equals a clean run;
 * 4. a second run with --force downloads no raw object again (counted server-side).
 */
import { spawn } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '../../src/aws/clients.ts';
import { Session } from '../../src/engine/session.ts';
import { openWarehouse } from '../../src/storage/open.ts';
import type { Warehouse } from '../../src/storage/warehouse.ts';
import type { Manifest } from '../../src/storage/manifest.ts';
import { synthesize } from '../../src/synth/index.ts';
import { runCli } from '../support/cli.ts';
import { FIXTURES, REPO } from '../support/context.ts';
import { endpoints, newBucket, s3Client, tmp, uniqueName } from './helpers.ts';

process.env.AWS_REGION = 'us-east-1';
delete process.env.NDR_PROJECT;
delete process.env.NDR_JOBSPECS;
delete process.env.NDR_WAREHOUSE;

const START = '2026-11-20';
const LAST = '2026-11-25'; // the last synthetic day
const EPS = 1e-9;

let dir: string;
let s3: S3Client;
let rawBucket: string;
let table: string;
let session: Session;

const childEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ ...process.env, NDR_PROJECT: '', ...extra });
const aws = () => ['--s3-endpoint', endpoints().s3, '--dynamodb-endpoint', endpoints().dynamodb];
const specsFlag = () => ['--jobspecs', `dynamodb:${table}`];

async function uploadDir(client: S3Client, bucket: string, root: string, prefix: string) {
  const walk = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
  const files = walk(root).sort();
  for (const f of files)
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/${relative(root, f).split('\\').join('/')}`, Body: readFileSync(f) }));
  return files.length;
}

/** Every committed row of a dataset, read through the manifests. */
async function readRows(wh: Warehouse, dataset: string, orderBy: string, under = dataset) {
  const parts = await wh.listCommitted(under);
  const manifests = [...(await wh.readManifests(parts)).values()].filter((m) => m.dataset === dataset);
  const files = (await Promise.all(manifests.map((m) => wh.localDataFiles(m)))).flat();
  if (!files.length) return [];
  const list = files.map((f) => `'${f.replaceAll("'", "''")}'`).join(',');
  return session.all(`SELECT * FROM read_parquet([${list}], hive_partitioning = false) ORDER BY ${orderBy}`);
}

const clients: S3Client[] = [];
function s3Warehouse(uri: string, cacheDir: string, endpoint = endpoints().s3) {
  const client = createS3Client({ s3Endpoint: endpoint });
  clients.push(client);
  return openWarehouse({ warehouse: uri, cacheDir, cacheMaxBytes: 1024 ** 3, s3Endpoint: endpoint }, { s3: client });
}

const norm = (v: unknown): unknown => (v instanceof Date ? v.toISOString() : typeof v === 'bigint' ? Number(v) : v);

/** Row-by-row equality, doubles within EPS; the first difference is reported. */
function expectSameRows(a: Record<string, unknown>[], b: Record<string, unknown>[]) {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    expect(Object.keys(a[i])).toEqual(Object.keys(b[i]));
    for (const k of Object.keys(a[i])) {
      const x = norm(a[i][k]);
      const y = norm(b[i][k]);
      if (typeof x === 'number' && typeof y === 'number' && !(Number.isNaN(x) && Number.isNaN(y))) {
        if (Math.abs(x - y) > EPS * Math.max(1, Math.abs(x), Math.abs(y))) expect({ row: i, column: k, value: x }).toEqual({ row: i, column: k, value: y });
      } else if (JSON.stringify(x) !== JSON.stringify(y)) {
        expect({ row: i, column: k, value: x }).toEqual({ row: i, column: k, value: y });
      }
    }
  }
}

beforeAll(async () => {
  dir = await tmp('ndr-e2e-');
  s3 = s3Client();
  clients.push(s3);
  session = await Session.open({ threads: 1 });

  // synthetic Palo Alto NDJSON, hourly files, uploaded as-is
  await synthesize({ hosts: 20, days: 6, start: START, seed: 3, out: join(dir, 'synth'), format: 'ndjson', eventsPerHostPerDay: 60 });
  rawBucket = await newBucket(s3, 'ndr-e2e-raw');
  expect(await uploadDir(s3, rawBucket, join(dir, 'synth', 'raw'), 'raw')).toBe(6 * 24);

  // the demo JobSpecs with S3 raw input and a short FG-B horizon, pushed to DynamoDB
  const specDir = join(dir, 'specs', 'demo');
  mkdirSync(specDir, { recursive: true });
  cpSync(join(REPO, 'jobspecs', 'demo'), specDir, { recursive: true });
  const patch = (name: string, f: (j: Record<string, any>) => void) => {
    const file = join(specDir, `${name}#v1.json`);
    const j = JSON.parse(readFileSync(file, 'utf8'));
    f(j);
    writeFileSync(file, JSON.stringify(j, null, 2));
  };
  patch('project_parameters', (j) => {
    j.raw_input = { uri: `s3://${rawBucket}/raw/dt={dt}/hh={hh}/*.json.gz`, format: 'ndjson', preset: 'paloalto' };
    j.baseline_schedule = 'daily';
  });
  patch('fg_b_builder', (j) => {
    j.horizons = { '3d': { days: 3, tail: 1, head: 1 } };
    j.support_min = 5;
  });
  table = uniqueName('ndr_e2e_specs');
  const created = await runCli(['jobspec', 'create-table', ...specsFlag(), ...aws()]);
  expect(created.stderr).toBe('');
  expect(created.code).toBe(0);
  const pushed = await runCli(['jobspec', 'push', '--from', specDir, ...specsFlag(), ...aws()]);
  expect(pushed.stderr).toBe('');
  expect(pushed.code).toBe(0);
  expect(pushed.stdout).toContain('6 created');
});

afterAll(() => {
  for (const c of clients) c.destroy();
  session?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('end to end on s3rver + dynalite', () => {
  let whBucket: string;

  it('build fg-c --upstream: an S3 warehouse and a local one hold identical FG-C rows', async () => {
    whBucket = await newBucket(s3, 'ndr-e2e-wh');
    // FG-C for the first two hours of the last day (one FG-C step): --upstream still builds the
    // whole chain (raw -> delta ... -> fg_a over the 3-day horizon -> fg_b), the costly part.
    const common = ['build', 'fg-c', '--from', `${LAST}T00:00:00Z`, '--to', `${LAST}T02:00:00Z`, '--upstream', ...specsFlag(), ...aws(), '--log-format', 'json'];
    // two processes at once: the S3 run is mostly waiting on s3rver, which lives in this process
    const [onS3, local] = await Promise.all([
      runChild([...common, '--warehouse', `s3://${whBucket}/wh`, '--cache-dir', join(dir, 'cache-s3')], childEnv()),
      runChild([...common, '--warehouse', join(dir, 'wh-local'), '--cache-dir', join(dir, 'cache-local')], childEnv()),
    ]);
    expect(onS3.stderr).toBe('');
    expect(onS3.code).toBe(0);
    expect(local.stderr).toBe('');
    expect(local.code).toBe(0);

    const order = 'host_ip, role, window_label, window_end_ts';
    const s3Rows = await readRows(s3Warehouse(`s3://${whBucket}/wh`, join(dir, 'cache-read')), 'fg_c', order);
    const localRows = await readRows(openWarehouse({ warehouse: join(dir, 'wh-local'), cacheDir: join(dir, 'cache-read'), cacheMaxBytes: 1024 ** 3 }), 'fg_c', order);
    expect(s3Rows.length).toBeGreaterThan(0);
    expect(s3Rows.some((r) => r.baseline_source === 'host')).toBe(true);
    expect(s3Rows.every((r) => r.baseline_reference_date === LAST)).toBe(true);
    expectSameRows(s3Rows, localRows);
  }, 420_000);

  it('Zeek TSV on S3 through the zeek_conn preset matches the golden delta', async () => {
    const bucket = await newBucket(s3, 'ndr-e2e-zeek');
    await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: 'zeek/conn.2026-11-24-12.log.gz', Body: readFileSync(join(FIXTURES, 'raw', 'zeek', 'conn.2026-11-24-12.log.gz')) }),
    );
    const r = await runCli([
      'build', 'delta', '--from', '2026-11-24T12:00:00Z', '--to', '2026-11-24T12:30:00Z',
      '--preset', 'zeek_conn', '--raw', `s3://${bucket}/zeek/*.log.gz`,
      '--jobspecs', join(REPO, 'jobspecs'), '--warehouse', `s3://${bucket}/wh`, '--cache-dir', join(dir, 'cache-zeek'), ...aws(),
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const rows = await readRows(s3Warehouse(`s3://${bucket}/wh`, join(dir, 'cache-zeek-read')), 'delta', 'host_ip, role, slice_start_ts');

    const [header, ...lines] = readFileSync(join(FIXTURES, 'golden', 'zeek-small', 'delta.csv'), 'utf8').trim().split('\n');
    const cols = header.split(',');
    const golden = lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [cols[i], v])));
    expect(golden).toHaveLength(8);
    expect(rows).toHaveLength(golden.length);
    const out = rows.find((x) => x.host_ip === '192.168.1.10' && x.role === 'outbound' && String(norm(x.slice_start_ts)).startsWith('2026-11-24T12:00'));
    expect(out?.sessions_cnt).toBe(6);
    // and every numeric golden value, row by row
    rows.forEach((row, i) => {
      expect([row.host_ip, row.role]).toEqual([golden[i].host_ip, golden[i].role]);
      for (const c of cols) {
        const g = golden[i][c];
        if (typeof norm(row[c]) === 'number' && g !== '') expect(Math.abs(Number(norm(row[c])) - Number(g))).toBeLessThanOrEqual(EPS * Math.max(1, Math.abs(Number(g))));
      }
    });
  });
});

// ---------------------------------------------------------------- fault and cache

const require = createRequire(import.meta.url);
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  httpServer?: Server;
}
const S3rver = require('s3rver') as new (opts: Record<string, unknown>) => S3rverInstance;

async function freePort(): Promise<number> {
  const srv = createNetServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/**
 * A second S3 on a fixed port: s3rver behind a counting HTTP proxy (the endpoint the
 * child process uses). stop() takes both down (connection refused); start() brings them
 * back on the same ports over the same directory.
 *
 * The proxy forwards a request only once its body is complete, and stop() lets the
 * forwarded requests finish: a PUT is all or nothing, as on S3. (s3rver truncates the
 * object file before streaming the body in, so a PUT cut mid-body would leave an empty
 * object behind, which real S3 never does.)
 */
class StoppableS3 {
  gets: string[] = [];
  onManifestPut?: () => void;
  private s3?: S3rverInstance;
  private proxy?: Server;
  private down = true;
  private inflight = 0;
  private idle: (() => void)[] = [];
  private settled() {
    if (--this.inflight === 0) for (const f of this.idle.splice(0)) f();
  }
  constructor(
    readonly dir: string,
    readonly port: number,
    readonly upstreamPort: number,
  ) {}
  get endpoint() {
    return `http://127.0.0.1:${this.port}`;
  }
  async start() {
    this.s3 = new S3rver({ address: '127.0.0.1', port: this.upstreamPort, silent: true, directory: this.dir, resetOnClose: false });
    await this.s3.run();
    this.down = false;
    this.proxy = createServer((req, res) => {
      const url = req.url ?? '';
      const path = decodeURIComponent(url.split('?')[0]);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('error', () => undefined);
      req.on('end', () => {
        if (this.down) return void res.destroy();
        if (req.method === 'GET' && path.split('/').length > 2) this.gets.push(path);
        this.inflight++;
        const up = httpRequest({ host: '127.0.0.1', port: this.upstreamPort, method: req.method, path: url, headers: req.headers, agent: false }, (upRes) => {
          const body: Buffer[] = [];
          upRes.on('data', (c: Buffer) => body.push(c));
          upRes.on('end', () => {
            this.settled();
            if (res.destroyed) return;
            res.writeHead(upRes.statusCode ?? 502, upRes.headers);
            res.end(Buffer.concat(body), () => {
              if (req.method === 'PUT' && path.endsWith('/_manifest.json') && (upRes.statusCode ?? 500) < 300) this.onManifestPut?.();
            });
          });
        });
        up.on('error', () => {
          this.settled();
          res.destroy();
        });
        up.end(Buffer.concat(chunks));
      });
    });
    await new Promise<void>((r, j) => {
      this.proxy!.once('error', j);
      this.proxy!.listen(this.port, '127.0.0.1', () => r());
    });
  }
  async stop() {
    this.down = true;
    const proxy = this.proxy;
    this.proxy = undefined;
    if (proxy) {
      const closed = new Promise<void>((r) => proxy.close(() => r()));
      proxy.closeAllConnections();
      await closed;
    }
    // requests already forwarded run to completion on s3rver
    if (this.inflight > 0) await new Promise<void>((r) => this.idle.push(r));
    const s3 = this.s3;
    this.s3 = undefined;
    if (s3) {
      s3.httpServer?.closeAllConnections?.();
      await s3.close().catch(() => undefined);
    }
  }
}

interface ChildResult {
  code: number | null;
  stderr: string;
  stdout: string;
}

function runChild(args: string[], env: NodeJS.ProcessEnv): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(REPO, 'bin', 'ndr-sql'), ...args], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (c) => (stdout += String(c)));
    child.stderr.on('data', (c) => (stderr += String(c)));
    const timer = setTimeout(() => child.kill('SIGKILL'), 400_000); // a safety net against a hung child, not a time limit
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, stdout });
    });
  });
}

describe('the S3 server stopped mid-run, then a --force rerun', () => {
  let server: StoppableS3;
  const bucket = 'ndr-fault';
  let client: S3Client;

  beforeAll(async () => {
    const [port, upstreamPort] = [await freePort(), await freePort()];
    server = new StoppableS3(join(dir, 's3-fault'), port, upstreamPort);
    mkdirSync(server.dir, { recursive: true });
    await server.start();
    client = createS3Client({ s3Endpoint: server.endpoint }, { maxAttempts: 2 });
    clients.push(client);
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    // the raw files of the last day only: delta depends on its own batch
    await uploadDir(client, bucket, join(dir, 'synth', 'raw', `dt=${LAST}`), `raw/dt=${LAST}`);
  });
  afterAll(async () => {
    await server?.stop();
  });

  const args = () => [
    'build', 'delta', '--from', `${LAST}T00:00:00Z`, '--to', `${LAST}T04:00:00Z`,
    '--raw', `s3://${bucket}/raw/dt={dt}/hh={hh}/*.json.gz`,
    '--jobspecs', `dynamodb:${table}`, '--dynamodb-endpoint', endpoints().dynamodb,
    '--s3-endpoint', server.endpoint,
    '--warehouse', `s3://${bucket}/wh`, '--cache-dir', join(dir, 'cache-fault'), '--log-format', 'json',
  ];
  const env = () => childEnv({ NDR_AWS_MAX_ATTEMPTS: '2' });

  async function listKeys(prefix: string) {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const r = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      out.push(...(r.Contents ?? []).map((o) => o.Key!));
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  it('fails with one line and exit 1, leaves no partition pointing at a missing file, and the rerun equals a clean run', async () => {
    let stopped: Promise<void> | undefined;
    server.onManifestPut = () => {
      server.onManifestPut = undefined;
      stopped = server.stop();
    };
    const failed = await runChild(args(), env());
    await stopped;
    expect(stopped, 'the run committed no partition at all').toBeDefined();
    const lines = failed.stderr.trim().split('\n');
    expect(lines, failed.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^ndr-sql: error: S3 \w+ s3:\/\/ndr-fault\/.* failed/);
    expect(lines[0]).toMatch(/ECONNREFUSED|ECONNRESET|socket hang up/);
    expect(failed.code).toBe(1);

    await server.start();
    const raw = server.gets.filter((k) => k.includes('/raw/'));
    expect(raw.length).toBeGreaterThan(0); // the first run did download the raw input
    const keys = new Set(await listKeys('wh/'));
    const manifests = [...keys].filter((k) => k.endsWith('/_manifest.json'));
    expect(manifests.length).toBeGreaterThan(0);
    expect(manifests.length).toBeLessThan(16);
    for (const k of manifests) {
      const m = JSON.parse(await (await client.send(new GetObjectCommand({ Bucket: bucket, Key: k }))).Body!.transformToString()) as Manifest;
      for (const f of m.files) expect(keys.has(`${k.slice(0, -'_manifest.json'.length)}${f.name}`), `${k} lists ${f.name}`).toBe(true);
    }

    const rerun = await runChild(args(), env());
    expect(rerun.stderr).toBe('');
    expect(rerun.code).toBe(0);
    const order = 'host_ip, role, slice_start_ts';
    const day = `delta/feature_spec_version=v1/dt=${LAST}`;
    const faultWh = s3Warehouse(`s3://${bucket}/wh`, join(dir, 'cache-fault-read'), server.endpoint);
    expect(await faultWh.listCommitted(day)).toHaveLength(16);
    // the clean run: the local warehouse of the first test built delta for at least LAST 00:00-02:00
    const firstTwoHours = (rows: Record<string, unknown>[]) => rows.filter((r) => String(norm(r.slice_start_ts)) < `${LAST}T02:00`);
    const rows = firstTwoHours(await readRows(faultWh, 'delta', order, day));
    const clean = firstTwoHours(
      await readRows(openWarehouse({ warehouse: join(dir, 'wh-local'), cacheDir: join(dir, 'cache-read'), cacheMaxBytes: 1024 ** 3 }), 'delta', order, day),
    );
    expect(new Set(rows.map((r) => r.mini_batch_id)).size).toBe(8);
    expectSameRows(rows, clean);
  });

  it('a second run with --force downloads no raw object again', async () => {
    server.gets = [];
    const again = await runChild([...args(), '--force'], env());
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout.trim().split('\n').filter((l) => l.includes('"step"')).at(-1)!)).toMatchObject({ committed: 16 });
    expect(server.gets.filter((k) => k.includes('/raw/'))).toEqual([]);
  });
});
