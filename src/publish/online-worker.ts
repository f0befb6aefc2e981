/**
 * A publish worker thread (online-workers.ts starts it through
 * online-worker-entry.mjs): its own Feature Store client and its share of the
 * concurrency, so the SDK's per-call CPU (serialisation, signing, HTTP) of
 * several threads runs on several cores. Counters, retry budget and the abort
 * flag are shared with the other threads (online-sender.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { makeFeatureStoreClient, RecordSender, type SendFailure, type SenderSettings } from './online-sender.ts';
import type { AwsOptions } from './store.ts';

export interface WorkerInit {
  settings: SenderSettings;
  aws?: AwsOptions;
  requestTimeoutMs: number;
  counters: Int32Array;
}

/** main → worker */
export type ToWorker = { seqs: number[]; records: string[] } | { close: true };
/** worker → main */
export type FromWorker =
  | { type: 'ready' }
  | { type: 'abort'; reason: string }
  | { type: 'settled'; stored: number[]; failed: [number, SendFailure][] }
  | { type: 'closed' };

function run(port: NonNullable<typeof parentPort>, init: WorkerInit): void {
  const post = (m: FromWorker) => port.postMessage(m);
  const client = makeFeatureStoreClient(init.aws, { concurrency: init.settings.concurrency, request_timeout_ms: init.requestTimeoutMs });
  const sender = new RecordSender(client, init.settings, init.counters, { onAbort: (reason) => post({ type: 'abort', reason }) });

  // Outcomes are sent in one message per turn of the event loop, not one per record.
  let stored: number[] = [];
  let failed: [number, SendFailure][] = [];
  let flushQueued = false;
  const flush = () => {
    flushQueued = false;
    post({ type: 'settled', stored, failed });
    stored = [];
    failed = [];
  };
  const settle = (seq: number, failure: SendFailure | undefined) => {
    if (failure) failed.push([seq, failure]);
    else stored.push(seq);
    if (!flushQueued) {
      flushQueued = true;
      setImmediate(flush);
    }
  };

  port.on('message', (m: ToWorker) => {
    if ('close' in m) {
      client.destroy();
      post({ type: 'closed' });
      port.close();
      return;
    }
    for (let i = 0; i < m.seqs.length; i++) {
      const seq = m.seqs[i];
      sender.put(m.records[i]).then(
        (f) => settle(seq, f),
        (err: unknown) => settle(seq, { reason: `publish worker error: ${String(err)}`, attempts: 0, key: 'publish worker error' }),
      );
    }
  });
  post({ type: 'ready' });
}

if (parentPort) run(parentPort, workerData as WorkerInit);
