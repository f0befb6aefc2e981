/**
 * The Tracker around real builder steps: transient errors retried with the
 * attempts in the ledger, deterministic errors not retried and recorded as
 * failed, --lock-wait, a lost lock stops the run; and the same run against an
 * s3:// warehouse with the DynamoDB ledger and locks (s3rver, dynalite).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { endpoints, uniqueName } from '../aws/helpers.ts';
import { createDynamoClient, createS3Client } from '../../src/aws/clients.ts';
import { DataError, EXIT, LockBusyError, TransientError, exitCodeOf } from '../../src/errors/index.ts';
import { parseDay } from '../../src/engine/batches.ts';
import { resolveRuntime } from '../../src/config/runtime.ts';
import { LocalLedger } from '../../src/pipeline/ledger-local.ts';
import { FileLockManager } from '../../src/pipeline/lock-file.ts';
import { createLedgerTable } from '../../src/pipeline/ledger-dynamo.ts';
import { createLockTable } from '../../src/pipeline/lock-dynamo.ts';
import { lockKey } from '../../src/pipeline/lock.ts';
import { Tracker, openCoordination, reportExitCode, runNightly, runStreaming, streamingSteps } from '../../src/pipeline/nightly.ts';
import { LockLostError } from '../../src/pipeline/tracked.ts';
import { batchPartition } from '../../src/storage/layout.ts';
import { openWarehouse } from '../../src/storage/open.ts';
import { LocalJobSpecSource, loadJobSpecs } from '../../src/config/jobspec-source.ts';
import { openRunContext } from '../../src/pipeline/context.ts';
import { silentLogger } from '../../src/log/index.ts';
import { REPO, tempDir, testContext } from '../support/context.ts';
import { writeRawFixture, type RawFixture } from './fixture.ts';

const DAY = '2026-03-01';
const B1 = { start: Date.parse(`${DAY}T08:00:00Z`) };
const B2 = { start: Date.parse(`${DAY}T08:15:00Z`) };
const tmp = tempDir('ndr-tracked-');
let fx: RawFixture;

beforeAll(async () => {
  fx = await writeRawFixture(join(tmp.dir, 'fx'), [DAY]);
}, 120_000);
afterAll(() => tmp.cleanup());

async function setup(name: string) {
  const wh = join(tmp.dir, name);
  const ctx = await testContext({ warehouse: wh, raw: fx.uri, rawFormat: 'parquet', preset: 'paloalto' });
  const ledger = LocalLedger.forWarehouse(wh);
  const locks = new FileLockManager(wh);
  const close = async () => {
    ctx.session.close();
    await ledger.close();
  };
  return { wh, ctx, ledger, locks, close };
}

const noSleep = () => Promise.resolve();

describe('retries', () => {
  it('a transient error is retried; the ledger counts the attempts', async () => {
    const { ctx, ledger, locks, close } = await setup('wh-transient');
    try {
      const tracker = new Tracker(ctx, { ledger, locks, lockWaitMs: 0, owner: 'test', retry: { attempts: 3, sleep: noSleep } });
      const [raw] = streamingSteps(ctx, [B1], { skip: ['fg_a'] });
      let realCalls = 0;
      const outcome = await tracker.step({
        ...raw,
        run: async () => {
          if (!ctx.dryRun && ++realCalls === 1) throw new TransientError('S3 503 SlowDown (injected)');
          return raw.run();
        },
      });
      expect(await tracker.close()).toBe(true);
      expect(realCalls).toBe(2);
      expect(outcome).toMatchObject({ status: 'committed', attempts: 2 });
      expect(outcome.committed).toHaveLength(3);
      const e = await ledger.get({ project: 'demo', version: 'v1', dataset: 'delta', partition: batchPartition('delta', 'v1', B1) });
      expect(e).toMatchObject({ status: 'committed', attempts: 2, last_error: null, manifest: { run_id: ctx.runId } });
    } finally {
      await close();
    }
  });

  it('a deterministic error is not retried: failed in the ledger with the error, the run stops (exit 1)', async () => {
    const { ctx, ledger, locks, close } = await setup('wh-deterministic');
    try {
      const tracker = new Tracker(ctx, { ledger, locks, lockWaitMs: 0, owner: 'test', retry: { attempts: 3, sleep: noSleep } });
      const [raw] = streamingSteps(ctx, [B1], { skip: ['fg_a'] });
      let realCalls = 0;
      const err = await tracker
        .step({
          ...raw,
          run: async () => {
            if (!ctx.dryRun) {
              realCalls++;
              throw new DataError({ file: 'raw.parquet', column: 'event_start', rule: 'timestamp_format iso' }, 'value "x" cannot be parsed');
            }
            return raw.run();
          },
        })
        .catch((e) => e);
      expect(await tracker.close()).toBe(true);
      expect(err).toBeInstanceOf(DataError);
      expect(exitCodeOf(err)).toBe(EXIT.failure);
      expect(realCalls).toBe(1);
      expect(tracker.lastOutcome).toMatchObject({ status: 'failed', attempts: 1 });
      const e = await ledger.get({ project: 'demo', version: 'v1', dataset: 'pair_counts', partition: batchPartition('pair_counts', 'v1', B1) });
      expect(e).toMatchObject({ status: 'failed', attempts: 1, manifest: null });
      expect(e!.last_error).toContain('column event_start, rule timestamp_format iso');
    } finally {
      await close();
    }
  });
});

describe('locks', () => {
  it('a busy run lock: waits --lock-wait, then LockBusyError (exit 3); proceeds once released', async () => {
    const { wh, ctx, ledger, locks, close } = await setup('wh-busy');
    const other = new FileLockManager(wh);
    const held = await other.acquire(lockKey('demo', 'v1', 'streaming', `batch=${DAY}T08:00:00Z`), { waitMs: 0, leaseMs: 60_000, owner: 'another run' });
    try {
      const tracker = new Tracker(ctx, { ledger, locks, lockWaitMs: 300, owner: 'test' });
      const t0 = Date.now();
      const busy = await runStreaming(ctx, tracker, B1, { skip: ['fg_a'] });
      const err = busy.error as LockBusyError;
      expect(busy.outcomes).toEqual([]);
      expect(err).toBeInstanceOf(LockBusyError);
      expect(exitCodeOf(err)).toBe(EXIT.notReady);
      expect(String(err.message)).toContain('held by another run');
      expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
      // Nothing was written.
      expect(await ctx.warehouse.listCommitted('delta')).toEqual([]);

      const waiting = new Tracker(ctx, { ledger, locks, lockWaitMs: 10_000, owner: 'test' });
      setTimeout(() => void held.release(), 400);
      const report = await runStreaming(ctx, waiting, B1, { skip: ['fg_a'] });
      expect(await waiting.close()).toBe(true);
      expect(reportExitCode(report)).toBe(0);
      expect(report.outcomes[0].committed).toHaveLength(3);
    } finally {
      await held.release();
      await close();
    }
  });

  it('a lock taken over by another run stops the run before its next step', async () => {
    const { ctx, ledger, locks, close } = await setup('wh-lost');
    try {
      const tracker = new Tracker(ctx, { ledger, locks, lockWaitMs: 0, leaseMs: 90, owner: 'test' });
      const [lock] = await tracker.lock([{ dataset: 'nightly', range: `dt=${DAY}` }]);
      // Another process replaces our lock file (as a takeover after our lease lapsed would).
      const path = locks.pathFor(lock.key);
      writeFileSync(path, JSON.stringify({ key: lock.key, owner: 'thief', pid: 1, host: 'elsewhere', token: 'other', acquired_at: new Date().toISOString(), expires_at: Date.now() + 60_000 }));
      await new Promise((r) => setTimeout(r, 200));
      expect(lock.lost).toBe(true);
      const [raw] = streamingSteps(ctx, [B2], { skip: ['fg_a'] });
      await expect(tracker.step(raw)).rejects.toBeInstanceOf(LockLostError);
      await tracker.close();
      expect(await ctx.warehouse.listCommitted('delta')).toEqual([]);
    } finally {
      await close();
    }
  });
});

describe('s3:// warehouse: DynamoDB ledger and locks', () => {
  it('runs streaming batches, records the ledger in DynamoDB, refuses a busy lock', async () => {
    const ep = endpoints();
    process.env.NDR_LEDGER_TABLE_NAME = uniqueName('ledger');
    process.env.NDR_LOCK_TABLE_NAME = uniqueName('locks');
    const bucket = uniqueName('wh');
    const s3 = createS3Client({ s3Endpoint: ep.s3, awsRegion: 'us-east-1' });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    s3.destroy();
    const dyn = createDynamoClient({ dynamodbEndpoint: ep.dynamodb, awsRegion: 'us-east-1' });
    await createLedgerTable(dyn);
    await createLockTable(dyn);
    dyn.destroy();

    const runtime = resolveRuntime(
      {
        warehouse: `s3://${bucket}/warehouse`,
        raw: fx.uri,
        rawFormat: 'parquet',
        preset: 'paloalto',
        jobspecs: join(REPO, 'jobspecs'),
        cacheDir: join(tmp.dir, 's3-cache'),
        s3Endpoint: ep.s3,
        dynamodbEndpoint: ep.dynamodb,
        awsRegion: 'us-east-1',
      },
      {},
      REPO,
    );
    const specs = await loadJobSpecs(new LocalJobSpecSource(runtime.jobspecs), runtime.project, runtime.specVersion);
    const coord = openCoordination(runtime, 'auto');
    expect(coord.ledger.description).toContain(process.env.NDR_LEDGER_TABLE_NAME);
    const ctx = await openRunContext({ specs, runtime, warehouse: openWarehouse(runtime), log: silentLogger });
    try {
      const tracker = new Tracker(ctx, { ledger: coord.ledger, locks: coord.locks, lockWaitMs: 0, owner: 'test s3' });
      for (const b of [B1, B2]) expect(reportExitCode(await runStreaming(ctx, tracker, b, { skip: ['fg_a'] }))).toBe(0);
      expect(await tracker.close()).toBe(true);
      const entries = await coord.ledger.list({ project: 'demo', version: 'v1', fromMs: parseDay(DAY), toMs: parseDay(DAY) + 86_400_000 });
      expect(entries.map((e) => `${e.dataset} ${e.status}`).sort()).toEqual(['delta', 'delta', 'delta_peers', 'delta_peers', 'pair_counts', 'pair_counts'].map((d) => `${d} committed`));
      const m = await ctx.warehouse.readManifest(batchPartition('delta', 'v1', B2));
      expect(entries.find((e) => e.partition === m!.partition)!.manifest).toEqual({ partition: m!.partition, run_id: m!.run_id });

      // A second "host" holding the day's nightly lock in DynamoDB: this run exits 3 at once.
      const other = openCoordination(runtime, 'dynamodb');
      const held = await other.locks.acquire(lockKey('demo', 'v1', 'nightly', `dt=${DAY}`), { waitMs: 0, leaseMs: 60_000, owner: 'nightly on another host' });
      try {
        const t2 = new Tracker(ctx, { ledger: coord.ledger, locks: coord.locks, lockWaitMs: 0, owner: 'test s3 nightly' });
        const err = (await runNightly(ctx, t2, [parseDay(DAY)], { skip: ['fg_a'] })).error as LockBusyError;
        await t2.close();
        expect(err).toBeInstanceOf(LockBusyError);
        expect(String(err.message)).toContain('nightly on another host');
      } finally {
        await held.release();
        await other.close();
      }
    } finally {
      ctx.session.close();
      await coord.close();
      delete process.env.NDR_LEDGER_TABLE_NAME;
      delete process.env.NDR_LOCK_TABLE_NAME;
    }
  }, 300_000);
});
