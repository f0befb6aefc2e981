/**
 * The senders of an online run: the calling thread's own RecordSender plus
 * optional worker threads (online-worker.ts), each with a share of the
 * concurrency. The calling thread keeps reading rows from DuckDB and hands
 * small batches of record payloads (one JSON string per record) to the least
 * busy sender that has room in its window (8 × its share): memory stays
 * bounded for any input size.
 *
 * The calling thread sends from the first row on, so the second or so that a
 * worker needs to load the SDK costs no throughput; a worker takes records
 * once it is ready. The (file, row) of every record handed out is kept until
 * its sender reports it stored or failed; if a worker dies, its unsettled
 * records become dead letters instead of being lost.
 */
import { Worker } from 'node:worker_threads';
import type { SageMakerFeatureStoreRuntimeClient } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { describeError, makeFeatureStoreClient, RecordSender, type SendFailure, type SenderHooks, type SenderSettings } from './online-sender.ts';
import type { FromWorker, ToWorker, WorkerInit } from './online-worker.ts';
import type { AwsOptions } from './store.ts';

export interface PoolOptions {
  /** Worker threads besides the calling thread. */
  workers: number;
  /** Settings shared by all senders; `concurrency` is the run's total, split between them. */
  settings: SenderSettings;
  aws?: AwsOptions;
  requestTimeoutMs: number;
  counters: Int32Array;
  onAbort: (reason: string) => void;
  /** Called as records settle (stored or failed). */
  onSettled: (n: number) => void;
  /** The calling thread's client, used as is (default: one from `aws`, destroyed by close()). */
  client?: SageMakerFeatureStoreRuntimeClient;
  /** For tests: jitter and sleep of the calling thread's sender. */
  random?: SenderHooks['random'];
  sleep?: SenderHooks['sleep'];
}

export interface PooledFailure {
  file: string;
  row: number;
  failure: SendFailure;
}

type Batch = { seqs: number[]; records: string[]; keys: [string, number][] };

interface Slot {
  window: number;
  /** Handed out, not settled yet: seq → [file, row]. */
  pending: Map<number, [string, number]>;
  ready: boolean;
  alive: boolean;
  send(seqs: number[], records: string[]): void;
  worker?: Worker;
  closed?: Promise<void>;
}

/** Split `total` into `n` shares that differ by at most one. */
export function splitConcurrency(total: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => Math.floor(total / n) + (i < total % n ? 1 : 0));
}

const ENTRY = new URL('./online-worker-entry.mjs', import.meta.url);
const emptyBatch = (): Batch => ({ seqs: [], records: [], keys: [] });

export class SenderPool {
  readonly failures: PooledFailure[] = [];
  /** First error of a worker that could not start (the run goes on without it). */
  workerError?: string;
  private readonly slots: Slot[] = [];
  private readonly batchSize: number;
  private readonly client: SageMakerFeatureStoreRuntimeClient;
  private seq = 0;
  private batch = emptyBatch();
  private wake: (() => void) | undefined;

  constructor(private readonly opts: PoolOptions) {
    const shares = splitConcurrency(opts.settings.concurrency, Math.min(opts.workers + 1, opts.settings.concurrency));
    this.batchSize = Math.max(1, Math.min(32, shares.at(-1)! * 2));
    this.client = opts.client ?? makeFeatureStoreClient(opts.aws, { concurrency: shares[0], request_timeout_ms: opts.requestTimeoutMs });
    this.slots.push(this.localSlot(shares[0]));
    for (const share of shares.slice(1)) this.slots.push(this.workerSlot(share));
  }

  /** Worker threads that are serving (or served) records. */
  get workersStarted(): number {
    return this.slots.filter((s) => s.worker && s.ready).length;
  }

  /** Resolves once every worker thread is serving or has failed to start. */
  async workersReady(): Promise<void> {
    while (this.slots.some((s) => s.worker && s.alive && !s.ready)) await this.settled();
  }

  /** Queue one record; resolves once it has been handed out or is waiting in the current batch. */
  async submit(file: string, row: number, recordJson: string): Promise<void> {
    const b = this.batch;
    b.seqs.push(this.seq++);
    b.records.push(recordJson);
    b.keys.push([file, row]);
    if (b.seqs.length >= this.batchSize) await this.dispatch();
  }

  /** Hand out what is queued and wait until every record has settled. */
  async drain(): Promise<void> {
    if (this.batch.seqs.length) await this.dispatch();
    while (this.slots.some((s) => s.alive && s.pending.size > 0)) await this.settled();
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.filter((s) => s.worker).map((s) => this.stop(s)));
    if (!this.opts.client) this.client.destroy();
  }

  private localSlot(concurrency: number): Slot {
    const { opts } = this;
    const sender = new RecordSender(this.client, { ...opts.settings, concurrency }, opts.counters, {
      random: opts.random,
      sleep: opts.sleep,
      onAbort: opts.onAbort,
    });
    const slot: Slot = {
      window: concurrency * 8,
      pending: new Map(),
      ready: true,
      alive: true,
      send: (seqs, records) => {
        for (let i = 0; i < seqs.length; i++) {
          const seq = seqs[i];
          sender.put(records[i]).then(
            (f) => this.onSettled(slot, f ? [] : [seq], f ? [[seq, f]] : []),
            (err: unknown) => this.onSettled(slot, [], [[seq, { reason: describeError(err), attempts: 0, key: 'publish error' }]]),
          );
        }
      },
    };
    return slot;
  }

  private workerSlot(concurrency: number): Slot {
    const { opts } = this;
    const init: WorkerInit = { settings: { ...opts.settings, concurrency }, aws: opts.aws, requestTimeoutMs: opts.requestTimeoutMs, counters: opts.counters };
    const worker = new Worker(ENTRY, { workerData: init });
    const slot: Slot = {
      window: concurrency * 8,
      pending: new Map(),
      ready: false,
      alive: true,
      worker,
      send: (seqs, records) => worker.postMessage({ seqs, records } satisfies ToWorker),
    };
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'ready') {
        slot.ready = true;
        this.notify();
      } else if (m.type === 'abort') opts.onAbort(m.reason);
      else if (m.type === 'settled') this.onSettled(slot, m.stored, m.failed);
    });
    worker.on('error', (err) => this.lost(slot, `publish worker failed: ${err.message}`));
    worker.on('exit', (code) => this.lost(slot, `publish worker exited with code ${code}`));
    return slot;
  }

  private async dispatch(): Promise<void> {
    const b = this.batch;
    this.batch = emptyBatch();
    for (;;) {
      // The calling thread's slot never goes away, so there always is one.
      const slot = this.leastBusy()!;
      if (slot.pending.size + b.seqs.length <= slot.window || slot.pending.size === 0) {
        for (let i = 0; i < b.seqs.length; i++) slot.pending.set(b.seqs[i], b.keys[i]);
        slot.send(b.seqs, b.records);
        return;
      }
      await this.settled();
    }
  }

  private leastBusy(): Slot | undefined {
    let best: Slot | undefined;
    for (const s of this.slots) if (s.alive && s.ready && (!best || s.pending.size < best.pending.size)) best = s;
    return best;
  }

  private settled(): Promise<void> {
    return new Promise((r) => (this.wake = r));
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private onSettled(slot: Slot, stored: number[], failed: [number, SendFailure][]): void {
    for (const seq of stored) slot.pending.delete(seq);
    for (const [seq, failure] of failed) {
      const [file, row] = slot.pending.get(seq)!;
      slot.pending.delete(seq);
      this.failures.push({ file, row, failure });
    }
    this.opts.onSettled(stored.length + failed.length);
    this.notify();
  }

  private lost(slot: Slot, why: string): void {
    if (!slot.alive) return;
    slot.alive = false;
    if (!slot.ready) this.workerError ??= why;
    const failure: SendFailure = { reason: `${why} (the record may or may not have been stored)`, attempts: 0, key: 'publish worker failed' };
    for (const [file, row] of slot.pending.values()) this.failures.push({ file, row, failure });
    this.opts.onSettled(slot.pending.size);
    slot.pending.clear();
    this.notify();
  }

  private stop(slot: Slot): Promise<void> {
    const worker = slot.worker!;
    const wasServing = slot.alive && slot.ready;
    slot.alive = false;
    // One still loading the SDK has nothing to finish.
    if (!wasServing) return worker.terminate().then(() => undefined);
    slot.closed ??= new Promise<void>((resolve) => {
      // A worker that does not finish closing (a hung socket) must not hold the run.
      const kill = setTimeout(() => void worker.terminate(), 5000);
      worker.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      worker.postMessage({ close: true } satisfies ToWorker);
    });
    return slot.closed;
  }
}
