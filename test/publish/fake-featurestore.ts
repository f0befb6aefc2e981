/**
 * A local SageMaker Feature Store runtime that speaks PutRecord as the AWS SDK
 * v3 sends it (restJson1: `PUT /FeatureGroup/<name>`, JSON body
 * `{Record: [{FeatureName, ValueAsString}], TargetStores?}`, empty 200 reply;
 * errors carry `x-amzn-errortype` and a JSON `{message}` body).
 *
 * Records are stored keyed by (feature group, record identifier, event time),
 * like the service (PutRecord is a full overwrite of that key). Faults are
 * injected at configured rates with a seeded PRNG: HTTP 429
 * ThrottlingException, 500 InternalFailure / 503 ServiceUnavailable, and
 * dropped connections (the socket is destroyed before any response). It counts
 * requests and tracks the maximum number of requests in flight.
 *
 * Also exports `openTestSession()` and `startFakeFeatureStoreProcess()` (the
 * fake in a child process, for the bench).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Session } from '../../src/engine/session.ts';

export interface FaultRates {
  /** Fraction of requests answered 429 ThrottlingException. */
  throttle?: number;
  /** Fraction answered 500 InternalFailure or 503 ServiceUnavailable (half each). */
  error5xx?: number;
  /** Fraction whose socket is destroyed before responding. */
  drop?: number;
  /** Of the dropped requests, the fraction stored before the drop (the client cannot tell). Default 0. */
  dropAfterStore?: number;
}

export interface FeatureGroupKeys {
  recordIdentifier: string;
  eventTime: string;
}

export interface FakeFeatureStoreOptions {
  seed?: number;
  faults?: FaultRates;
  /** Added latency per request, ms: fixed or [min, max) uniform. */
  latencyMs?: number | [number, number];
  /** Known feature groups; others get 400 ResourceNotFound. Default: any name, with `defaultKeys`. */
  featureGroups?: Record<string, FeatureGroupKeys>;
  defaultKeys?: FeatureGroupKeys;
}

export interface StoredRecord {
  featureGroup: string;
  record: Record<string, string>;
  targetStores?: string[];
  writes: number;
}

export interface FakeStats {
  requests: number;
  stored: number;
  writes: number;
  throttled: number;
  errors500: number;
  errors503: number;
  dropped: number;
  droppedAfterStore: number;
  validationErrors: number;
  notFound: number;
  inFlight: number;
  maxInFlight: number;
}

/** mulberry32: small, fast, seeded. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ISO_EVENT_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;
const FRACTIONAL = /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/;

const emptyStats = (): FakeStats => ({
  requests: 0,
  stored: 0,
  writes: 0,
  throttled: 0,
  errors500: 0,
  errors503: 0,
  dropped: 0,
  droppedAfterStore: 0,
  validationErrors: 0,
  notFound: 0,
  inFlight: 0,
  maxInFlight: 0,
});

export class FakeFeatureStore {
  readonly records = new Map<string, StoredRecord>();
  /** Distinct `user-agent` and `x-amz-user-agent` headers received. */
  readonly userAgents = new Set<string>();
  readonly amzUserAgents = new Set<string>();
  stats: FakeStats = emptyStats();
  private random: () => number;
  private faults: Required<FaultRates>;
  private sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    private opts: FakeFeatureStoreOptions,
  ) {
    this.random = seededRandom(opts.seed ?? 42);
    this.faults = { throttle: 0, error5xx: 0, drop: 0, dropAfterStore: 0, ...opts.faults };
  }

  static async start(opts: FakeFeatureStoreOptions = {}): Promise<FakeFeatureStore> {
    let fake: FakeFeatureStore | undefined;
    const server = createServer((req, res) => void fake!.handle(req, res));
    server.keepAliveTimeout = 30_000;
    fake = new FakeFeatureStore(server, opts);
    server.on('connection', (s) => {
      fake!.sockets.add(s);
      s.on('close', () => fake!.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return fake;
  }

  get endpoint(): string {
    const a = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${a.port}`;
  }

  /** SDK client settings that point at this server. */
  get aws() {
    return { endpoint: this.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIDFAKE', secretAccessKey: 'fake-secret' } };
  }

  setFaults(f: FaultRates, seed?: number): void {
    this.faults = { throttle: 0, error5xx: 0, drop: 0, dropAfterStore: 0, ...f };
    if (seed !== undefined) this.random = seededRandom(seed);
  }

  /** Per-request latency from now on (ms, or [min, max)); makes concurrent requests overlap at the server. */
  setLatency(latencyMs: number | [number, number] | undefined): void {
    this.opts.latencyMs = latencyMs;
  }

  reset(): void {
    this.records.clear();
    this.userAgents.clear();
    this.amzUserAgents.clear();
    this.stats = emptyStats();
  }

  static key(featureGroup: string, id: string, eventTime: string): string {
    return `${featureGroup}\u0000${id}\u0000${eventTime}`;
  }

  get(featureGroup: string, id: string, eventTime: string): StoredRecord | undefined {
    return this.records.get(FakeFeatureStore.key(featureGroup, id, eventTime));
  }

  recordsOf(featureGroup: string): StoredRecord[] {
    return [...this.records.values()].filter((r) => r.featureGroup === featureGroup);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private keysOf(fg: string): FeatureGroupKeys | undefined {
    if (this.opts.featureGroups) return this.opts.featureGroups[fg];
    return this.opts.defaultKeys ?? { recordIdentifier: 'record_id', eventTime: 'event_time' };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.stats.requests++;
    this.stats.inFlight++;
    if (this.stats.inFlight > this.stats.maxInFlight) this.stats.maxInFlight = this.stats.inFlight;
    let released = false;
    const release = () => {
      if (!released) {
        released = true;
        this.stats.inFlight--;
      }
    };
    res.on('close', release);
    this.userAgents.add(String(req.headers['user-agent']));
    this.amzUserAgents.add(String(req.headers['x-amz-user-agent']));
    try {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = Buffer.concat(chunks).toString('utf8');

      const lat = this.opts.latencyMs;
      if (lat) await new Promise((r) => setTimeout(r, Array.isArray(lat) ? lat[0] + this.random() * (lat[1] - lat[0]) : lat));

      const m = /^\/FeatureGroup\/([^/?]+)\/?(\?.*)?$/.exec(req.url ?? '');
      if (req.method !== 'PUT' || !m) return this.error(res, 404, 'UnknownOperationException', `no operation ${req.method} ${req.url}`);
      const fg = decodeURIComponent(m[1]);

      // Faults, decided per request by the seeded PRNG.
      const r = this.random();
      const f = this.faults;
      if (r < f.throttle) {
        this.stats.throttled++;
        return this.error(res, 429, 'ThrottlingException', 'Rate exceeded');
      }
      if (r < f.throttle + f.error5xx) {
        if (this.random() < 0.5) {
          this.stats.errors500++;
          return this.error(res, 500, 'InternalFailure', 'An internal failure occurred');
        }
        this.stats.errors503++;
        return this.error(res, 503, 'ServiceUnavailable', 'The service is currently unavailable');
      }
      const drop = r < f.throttle + f.error5xx + f.drop;
      const storeThenDrop = drop && this.random() < f.dropAfterStore;
      if (drop && !storeThenDrop) {
        this.stats.dropped++;
        req.socket.destroy();
        return;
      }

      const keys = this.keysOf(fg);
      if (!keys) {
        this.stats.notFound++;
        return this.error(res, 400, 'ResourceNotFound', `Resource Not Found: Amazon SageMaker can't find a feature group with name ${fg}`);
      }
      let payload: { Record?: unknown; TargetStores?: unknown };
      try {
        payload = JSON.parse(body);
      } catch {
        return this.validation(res, 'request body is not JSON');
      }
      if (!Array.isArray(payload.Record) || payload.Record.length === 0) return this.validation(res, 'Record must be a non-empty list');
      const record: Record<string, string> = {};
      for (const fv of payload.Record as { FeatureName?: unknown; ValueAsString?: unknown }[]) {
        if (typeof fv?.FeatureName !== 'string' || typeof fv.ValueAsString !== 'string')
          return this.validation(res, 'every FeatureValue needs FeatureName and ValueAsString strings');
        if (fv.FeatureName in record) return this.validation(res, `duplicate feature ${fv.FeatureName}`);
        record[fv.FeatureName] = fv.ValueAsString;
      }
      const id = record[keys.recordIdentifier];
      const et = record[keys.eventTime];
      if (!id) return this.validation(res, `record is missing the record identifier feature ${keys.recordIdentifier}`);
      if (!et) return this.validation(res, `record is missing the event time feature ${keys.eventTime}`);
      if (!ISO_EVENT_TIME.test(et) && !FRACTIONAL.test(et)) return this.validation(res, `event time ${et} is neither yyyy-MM-ddTHH:mm:ss[.SSS]Z nor Unix seconds`);
      if (payload.TargetStores !== undefined) {
        const ts = payload.TargetStores;
        if (!Array.isArray(ts) || ts.length === 0 || ts.some((t) => t !== 'OnlineStore' && t !== 'OfflineStore'))
          return this.validation(res, 'TargetStores must be a non-empty list of OnlineStore/OfflineStore');
      }

      const key = FakeFeatureStore.key(fg, id, et);
      const prev = this.records.get(key);
      this.stats.writes++;
      if (!prev) this.stats.stored++;
      this.records.set(key, { featureGroup: fg, record, targetStores: payload.TargetStores as string[] | undefined, writes: (prev?.writes ?? 0) + 1 });

      if (storeThenDrop) {
        this.stats.dropped++;
        this.stats.droppedAfterStore++;
        req.socket.destroy();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'x-amzn-requestid': `req-${this.stats.requests}` });
      res.end();
    } catch (e) {
      if (!res.headersSent) this.error(res, 500, 'InternalFailure', (e as Error).message);
    } finally {
      if (req.socket.destroyed) release();
    }
  }

  private validation(res: ServerResponse, message: string) {
    this.stats.validationErrors++;
    this.error(res, 400, 'ValidationError', message);
  }

  private error(res: ServerResponse, status: number, type: string, message: string) {
    const body = JSON.stringify({ message });
    res.writeHead(status, {
      'content-type': 'application/json',
      'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazonaws.sagemaker.featurestore/`,
      'x-amzn-requestid': `req-${this.stats.requests}`,
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  }
}

/** A Session for the publish tests and bench (UTC, no extension downloads). */
export function openTestSession(): Promise<Session> {
  return Session.open();
}

/** Remote control of a fake running in a child process (bench): the server's CPU stays out of the client's event loop. */
export interface FakeChildMessage {
  id: number;
  cmd: 'stats' | 'reset' | 'setFaults' | 'count' | 'close';
  faults?: FaultRates;
  seed?: number;
  featureGroup?: string;
}

export interface FakeFeatureStoreProcess {
  endpoint: string;
  aws: FakeFeatureStore['aws'];
  stats(): Promise<FakeStats>;
  reset(): Promise<void>;
  setFaults(f: FaultRates, seed?: number): Promise<void>;
  count(featureGroup: string): Promise<number>;
  close(): Promise<void>;
}

/** The fake in its own Node process (through tsx), controlled over IPC. */
export async function startFakeFeatureStoreProcess(opts: FakeFeatureStoreOptions = {}): Promise<FakeFeatureStoreProcess> {
  const { fork } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const child = fork(fileURLToPath(import.meta.url), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, NDR_FAKE_FS_CHILD: '1', NDR_FAKE_FS_OPTIONS: JSON.stringify(opts) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, (v: unknown) => void>();
  let seq = 0;
  const endpoint = await new Promise<string>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`fake Feature Store process exited with ${code}`)));
    child.on('message', (m: { id: number; result: unknown }) => {
      if (m.id === 0) resolve(m.result as string);
      else {
        pending.get(m.id)?.(m.result);
        pending.delete(m.id);
      }
    });
  });
  const call = (msg: Omit<FakeChildMessage, 'id'>) =>
    new Promise<unknown>((resolve) => {
      const id = ++seq;
      pending.set(id, resolve);
      child.send({ ...msg, id });
    });
  return {
    endpoint,
    aws: { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIDFAKE', secretAccessKey: 'fake-secret' } },
    stats: () => call({ cmd: 'stats' }) as Promise<FakeStats>,
    reset: async () => void (await call({ cmd: 'reset' })),
    setFaults: async (faults, seed) => void (await call({ cmd: 'setFaults', faults, seed })),
    count: (featureGroup) => call({ cmd: 'count', featureGroup }) as Promise<number>,
    close: async () => {
      child.removeAllListeners('exit');
      await Promise.race([call({ cmd: 'close' }), new Promise((r) => setTimeout(r, 2000))]);
      if (child.exitCode === null) child.kill();
    },
  };
}

if (process.env.NDR_FAKE_FS_CHILD === '1' && typeof process.send === 'function') {
  const opts = JSON.parse(process.env.NDR_FAKE_FS_OPTIONS ?? '{}') as FakeFeatureStoreOptions;
  const fake = await FakeFeatureStore.start(opts);
  // A parent that crashed never sends 'close': without this the server would keep the process alive.
  process.on('disconnect', () => void fake.close().finally(() => process.exit(0)));
  process.on('message', async (m: FakeChildMessage) => {
    let result: unknown = null;
    if (m.cmd === 'stats') result = fake.stats;
    else if (m.cmd === 'reset') fake.reset();
    else if (m.cmd === 'setFaults') fake.setFaults(m.faults ?? {}, m.seed);
    else if (m.cmd === 'count') result = fake.recordsOf(m.featureGroup ?? '').length;
    else if (m.cmd === 'close') {
      await fake.close();
      process.send!({ id: m.id, result: null });
      process.disconnect();
      return;
    }
    process.send!({ id: m.id, result });
  });
  process.send({ id: 0, result: fake.endpoint });
}
