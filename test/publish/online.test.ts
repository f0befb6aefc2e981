/**
 * Online target: PutRecord through the real AWS SDK against the local fake
 * Feature Store (test/publish/fake-featurestore.ts), with injected faults.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import type { Worker } from 'node:worker_threads';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutRecordCommand, SageMakerFeatureStoreRuntimeClient } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Session } from '../../src/engine/session.ts';
import { DataError } from '../../src/errors/index.ts';
import { writeSampleRows } from '../../bench/publish.ts';
import { formatPublishSummary, publishExitCode, type PublishSummary } from '../../src/publish/common.ts';
import { publish } from '../../src/publish/index.ts';
import { makeFeatureStoreClient, publishOnline } from '../../src/publish/online.ts';
import { newCounters } from '../../src/publish/online-sender.ts';
import { SenderPool } from '../../src/publish/online-workers.ts';
import { publishSpecSchema, type PublishSpecInput } from '../../src/publish/spec.ts';
import { FakeFeatureStore, openTestSession } from './fake-featurestore.ts';

const FG = 'ndr-fg-c';
let dir: string;
let session: Session;
let fake: FakeFeatureStore;
let input: string;
const N = 2000;
let sub500: string;

const spec = (extra: PublishSpecInput = {}) => publishSpecSchema.parse({ feature_group: FG, base_delay_ms: 5, max_delay_ms: 200, ...extra });
const run = (extra: PublishSpecInput, opts: { files?: string[]; batchId?: string; featureGroup?: string } = {}) =>
  publishOnline({
    session,
    files: opts.files ?? [input],
    spec: spec(extra),
    featureGroup: opts.featureGroup,
    batchId: opts.batchId ?? 'fg_c-20261124T1200Z',
    workDir: join(dir, 'work'),
    aws: fake.aws,
    awaitWorkers: true,
  });

const ids = (path: string) => session.all<{ record_id: string }>(`SELECT record_id FROM read_parquet('${path}')`).then((r) => r.map((x) => x.record_id));
const allIds = () => session.all<{ record_id: string }>(`SELECT record_id FROM read_parquet('${input}')`).then((r) => r.map((x) => x.record_id));
const storedIds = () => fake.recordsOf(FG).map((r) => r.record.record_id);

/** Row i = 10 as PutRecord must carry it: NULL features omitted, timestamps ISO-8601 UTC with Z, numbers as DuckDB prints them. */
const R10_ID = '10.0.0.11|outbound|w_24h|2026-11-24T12:15:00Z|30d|10';
const R10 = {
  host_ip: '10.0.0.11',
  role: 'outbound',
  window_label: 'w_24h',
  window_end_ts: '2026-11-24T12:15:00Z',
  baseline_horizon: '30d',
  record_id: '10.0.0.11|outbound|w_24h|2026-11-24T12:15:00Z|30d|10',
  segment_id: 'seg-0',
  sessions_cnt: '31',
  z_mad: '-2.5',
  is_cold_start: '0',
  baseline_start_ts: '2026-11-15T12:15:00Z',
  m_0: '4.285714',
  m_1: '5.714286',
  m_2: '7.142857',
  dt: '2026-11-24',
  hh: '12',
  mm: '00',
  mini_batch_id: '20261124T1200Z',
  feature_spec_version: 'v1',
  event_time: '2026-11-24T12:15:00Z',
};

/** Every input record is stored exactly once or dead-lettered, never both, never neither. */
async function expectNothingLost(s: PublishSummary) {
  const stored = storedIds();
  expect(new Set(stored).size).toBe(stored.length);
  expect(fake.recordsOf(FG).every((r) => r.writes === 1)).toBe(true);
  const dead = s.deadLetterFile ? await ids(s.deadLetterFile) : [];
  expect(stored.length + dead.length).toBe(N);
  expect(s.published).toBe(stored.length);
  expect(s.deadLettered).toBe(dead.length);
  const storedSet = new Set(stored);
  expect(dead.filter((id) => storedSet.has(id))).toEqual([]);
  expect(new Set([...stored, ...dead])).toEqual(new Set(await allIds()));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ndr-publish-online-'));
  session = await openTestSession();
  fake = await FakeFeatureStore.start({ seed: 1234 });
  input = join(dir, 'fg_c.parquet');
  await writeSampleRows(session, input, { rows: N, perBatch: 800, metrics: 3 });
  sub500 = join(dir, 'fg_c-500.parquet');
  await session.run(`COPY (SELECT * FROM read_parquet('${input}') ORDER BY sessions_cnt LIMIT 500) TO '${sub500}' (FORMAT parquet)`);
});

beforeEach(() => {
  fake.reset();
  fake.setFaults({}, 1234);
});

afterAll(async () => {
  await fake?.close();
  session?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('online publish (PutRecord) against the fake Feature Store', () => {
  it('stores every record exactly once with Feature Store string values (no faults)', async () => {
    const s = await publish({ target: 'online', session, files: [input], spec: spec(), batchId: 'b0', workDir: join(dir, 'work'), aws: fake.aws });
    expect(s).toMatchObject({ target: 'online', records: N, published: N, deadLettered: 0, retries: 0, throttled: 0 });
    expect(s.deadLetterFile).toBeUndefined();
    expect(publishExitCode(s)).toBe(0);
    expect(fake.stats.requests).toBe(N);
    expect(fake.stats.stored).toBe(N);
    expect(s.online!.attempts).toBe(N);
    expect(s.online!.maxInFlight).toBeLessThanOrEqual(32);
    // The default spec (`workers: 'auto'`): one worker thread beside the calling thread where a
    // second CPU exists; the fake counted every request of both.
    expect(s.online!.workers).toBe(availableParallelism() >= 2 ? 1 : 0);
    await expectNothingLost(s);

    const r10 = fake.get(FG, R10_ID, '2026-11-24T12:15:00Z')!;
    expect(r10.targetStores).toEqual(['OnlineStore']);
    expect(r10.record).toEqual(R10);
    const r3 = fake.get(FG, '10.0.0.4|inbound|w_1h|2026-11-24T12:15:00Z|7d|3', '2026-11-24T12:15:00Z')!;
    expect(r3.record.sessions_cnt).toBe('10');
    expect('deny_ratio' in r3.record).toBe(false);
    const r12 = fake.recordsOf(FG).find((r) => r.record.record_id.endsWith('|12'))!;
    expect(r12.record.deny_ratio).toBe('0.12');
    // Rows 1600..1999 have the 12:45 event time.
    expect(fake.recordsOf(FG).filter((r) => r.record.event_time === '2026-11-24T12:45:00Z')).toHaveLength(400);
  });

  it('with 5% throttling, 2% 5xx and 1% dropped connections: every record stored exactly once, retries counted, concurrency bounded', async () => {
    fake.setFaults({ throttle: 0.05, error5xx: 0.02, drop: 0.01 }, 99);
    fake.setLatency([1, 4]);
    const s = await run({ concurrency: 16 }).finally(() => fake.setLatency(undefined));
    await expectNothingLost(s);
    expect(s.deadLettered).toBe(0);
    expect(s.published).toBe(N);
    // Requests really overlap at the server, and never more than configured.
    expect(fake.stats.maxInFlight).toBeGreaterThan(4);
    expect(fake.stats.maxInFlight).toBeLessThanOrEqual(16);
    expect(s.online!.maxInFlight).toBeLessThanOrEqual(16);
    expect(fake.stats.throttled).toBeGreaterThan(0);
    expect(fake.stats.errors500 + fake.stats.errors503).toBeGreaterThan(0);
    expect(fake.stats.dropped).toBeGreaterThan(0);
    // Every failed request was retried exactly once more: requests = records + retries.
    expect(fake.stats.requests).toBe(N + s.retries);
    expect(s.online!.attempts).toBe(fake.stats.requests);
    expect(s.throttled).toBe(fake.stats.throttled);
    expect(s.retries).toBe(fake.stats.throttled + fake.stats.errors500 + fake.stats.errors503 + fake.stats.dropped);
    expect(s.online!.budgetExhausted).toBe(false);
    expect(publishExitCode(s)).toBe(0);
  });

  it('a lost response after the write is retried safely (PutRecord overwrites the same key)', async () => {
    fake.setFaults({ drop: 0.05, dropAfterStore: 1 }, 5);
    const s = await run({}, { files: [sub500] });
    expect(s).toMatchObject({ records: 500, published: 500, deadLettered: 0 });
    expect(fake.stats.droppedAfterStore).toBeGreaterThan(0);
    expect(fake.recordsOf(FG)).toHaveLength(500);
    expect(fake.stats.writes).toBe(500 + fake.stats.droppedAfterStore);
  });

  it('with a tiny retry budget: dead letters appear, nothing is lost, exit status signals failure', async () => {
    fake.setFaults({ throttle: 0.3 }, 7);
    const s = await run({ retry_budget: 20, concurrency: 8 });
    expect(s.online!.retryBudget).toBe(20);
    expect(s.retries).toBe(20);
    expect(s.online!.budgetExhausted).toBe(true);
    expect(s.deadLettered).toBeGreaterThan(N / 5);
    expect(publishExitCode(s)).toBe(1);
    expect(formatPublishSummary(s)).toMatch(/budget 20 exhausted\), \d+ dead letters in .*online-fg_c-20261124T1200Z\.parquet$/);
    await expectNothingLost(s);

    const dl = await session.all<{ reason: string; attempts: number; target: string; n: number }>(
      `SELECT dead_letter_reason AS reason, dead_letter_attempts AS attempts, dead_letter_target AS target, count(*) AS n
       FROM read_parquet('${s.deadLetterFile}') GROUP BY ALL ORDER BY attempts`,
    );
    expect(dl[0]).toMatchObject({ reason: 'ThrottlingException (HTTP 429): Rate exceeded (run retry budget of 20 exhausted)', attempts: 1, target: 'online' });
    expect(dl.reduce((a, r) => a + r.n, 0)).toBe(s.deadLettered);
    expect(s.deadLetterReasons).toEqual({ 'ThrottlingException with retry budget exhausted': s.deadLettered });
    // The dead-letter file keeps the source columns with their types.
    const types = Object.fromEntries((await session.describe(`SELECT * FROM read_parquet('${s.deadLetterFile}')`)).map((c) => [c.name, c.type]));
    expect(types).toMatchObject({ window_end_ts: 'TIMESTAMP', sessions_cnt: 'BIGINT', dead_letter_attempts: 'INTEGER', dead_letter_at: 'TIMESTAMP' });

    // Replaying the dead-letter file once the store is healthy publishes the rest; dead_letter_* columns are not features.
    fake.setFaults({});
    const replay = await run({}, { files: [s.deadLetterFile!], batchId: 'replay' });
    expect(replay).toMatchObject({ records: s.deadLettered, published: s.deadLettered, deadLettered: 0 });
    expect(new Set(storedIds())).toEqual(new Set(await allIds()));
    expect(fake.recordsOf(FG).some((r) => 'dead_letter_reason' in r.record)).toBe(false);
  });

  it('gives up on a record after max_attempts and says so', async () => {
    fake.setFaults({ error5xx: 1 }, 3);
    const small = join(dir, 'small.parquet');
    await session.run(`COPY (SELECT * FROM read_parquet('${input}') LIMIT 5) TO '${small}' (FORMAT parquet)`);
    const s = await run({ max_attempts: 3, retry_budget: 100 }, { files: [small], batchId: 'small' });
    expect(s).toMatchObject({ records: 5, published: 0, deadLettered: 5, retries: 10 });
    expect(fake.stats.requests).toBe(15);
    const dl = await session.all<{ reason: string; attempts: number }>(`SELECT dead_letter_reason AS reason, dead_letter_attempts AS attempts FROM read_parquet('${s.deadLetterFile}')`);
    expect(dl.every((r) => r.attempts === 3 && /^(InternalFailure \(HTTP 500\)|ServiceUnavailable \(HTTP 503\)): .* \(gave up after 3 attempts\)$/.test(r.reason))).toBe(true);
  });

  it('NaN and ±Infinity: omitted under nan_policy null, dead-lettered under dead_letter; never a crash', async () => {
    const nan = join(dir, 'nan.parquet');
    await session.run(`COPY (SELECT * FROM (VALUES
        ('n1', TIMESTAMP '2026-11-24 12:15:00', 'nan'::DOUBLE, 1.0::DOUBLE),
        ('n2', TIMESTAMP '2026-11-24 12:15:00', 0.5::DOUBLE, 'inf'::DOUBLE),
        ('n3', TIMESTAMP '2026-11-24 12:15:00', 0.25::DOUBLE, 2.0::DOUBLE),
        ('n4', TIMESTAMP '2026-11-24 12:15:00', '-inf'::DOUBLE, 'nan'::DOUBLE)
      ) t(record_id, window_end_ts, ratio, score)) TO '${nan}' (FORMAT parquet)`);
    const s = await run({}, { files: [nan], batchId: 'nan' });
    expect(s).toMatchObject({ records: 4, published: 4, deadLettered: 0, nonFiniteNulled: 3 });
    const got = (id: string) => fake.get(FG, id, '2026-11-24T12:15:00Z')!.record;
    expect(got('n1')).toEqual({ record_id: 'n1', window_end_ts: '2026-11-24T12:15:00Z', score: '1.0', event_time: '2026-11-24T12:15:00Z' });
    expect(got('n2')).toEqual({ record_id: 'n2', window_end_ts: '2026-11-24T12:15:00Z', ratio: '0.5', event_time: '2026-11-24T12:15:00Z' });
    expect(got('n3')).toMatchObject({ ratio: '0.25', score: '2.0' });
    expect(got('n4')).toEqual({ record_id: 'n4', window_end_ts: '2026-11-24T12:15:00Z', event_time: '2026-11-24T12:15:00Z' });

    fake.reset();
    const s2 = await run({ nan_policy: 'dead_letter' }, { files: [nan], batchId: 'nan' });
    expect(s2).toMatchObject({ records: 4, published: 1, deadLettered: 3, nonFiniteNulled: 0 });
    expect(fake.recordsOf(FG).map((r) => r.record.record_id)).toEqual(['n3']);
    const dl = await session.all<{ record_id: string; reason: string; attempts: number }>(
      `SELECT record_id, dead_letter_reason AS reason, dead_letter_attempts AS attempts FROM read_parquet('${s2.deadLetterFile}') ORDER BY record_id`,
    );
    expect(dl).toEqual([
      { record_id: 'n1', reason: 'non-finite value (NaN/Infinity) in ratio (nan_policy dead_letter)', attempts: 0 },
      { record_id: 'n2', reason: 'non-finite value (NaN/Infinity) in score (nan_policy dead_letter)', attempts: 0 },
      { record_id: 'n4', reason: 'non-finite value (NaN/Infinity) in ratio, score (nan_policy dead_letter)', attempts: 0 },
    ]);
    // The NaN survives in the dead-letter file as it was.
    const raw = await session.all<{ nan: boolean }>(`SELECT isnan(ratio) AS nan FROM read_parquet('${s2.deadLetterFile}') WHERE record_id = 'n1'`);
    expect(raw).toEqual([{ nan: true }]);
  });

  it('a record without identifier or event time is dead-lettered with a clear reason; the others are stored', async () => {
    const bad = join(dir, 'missing-id.parquet');
    await session.run(`COPY (SELECT * FROM (VALUES
        ('ok1', '2026-11-24T12:15:00Z', 1::BIGINT),
        (NULL, '2026-11-24T12:15:00Z', 2::BIGINT),
        ('', '2026-11-24T12:15:00Z', 3::BIGINT),
        ('no-time', NULL, 4::BIGINT),
        ('bad-time', 'yesterday-ish', 5::BIGINT),
        ('ok2', '2026-11-24T14:15:00+02:00', 6::BIGINT)
      ) t(record_id, window_end_ts, n)) TO '${bad}' (FORMAT parquet)`);
    const s = await run({}, { files: [bad], batchId: 'missing' });
    expect(s).toMatchObject({ records: 6, published: 2, deadLettered: 4 });
    expect(publishExitCode(s)).toBe(1);
    expect(s.deadLetterReasons).toEqual({
      'missing record identifier: column record_id is NULL or empty': 2,
      'missing event time: column window_end_ts is NULL or not a timestamp': 2,
    });
    // ISO text with an offset is normalised to UTC for the event time; the text feature itself is passed through.
    expect(fake.get(FG, 'ok2', '2026-11-24T12:15:00Z')!.record).toEqual({ record_id: 'ok2', window_end_ts: '2026-11-24T14:15:00+02:00', n: '6', event_time: '2026-11-24T12:15:00Z' });
    expect(fake.get(FG, 'ok1', '2026-11-24T12:15:00Z')).toBeDefined();
    const dl = await session.all<{ record_id: string | null; n: number; attempts: number }>(
      `SELECT record_id, n, dead_letter_attempts AS attempts FROM read_parquet('${s.deadLetterFile}') ORDER BY n`,
    );
    expect(dl).toEqual([
      { record_id: null, n: 2, attempts: 0 },
      { record_id: '', n: 3, attempts: 0 },
      { record_id: 'no-time', n: 4, attempts: 0 },
      { record_id: 'bad-time', n: 5, attempts: 0 },
    ]);
  });

  it('a configured column missing from the data is one clear error before any call', async () => {
    const err = await run({ features: ['record_id', 'sessions_cnt', 'no_such_metric'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toMatch(/column no_such_metric, rule publish\.columns: feature group ndr-fg-c needs column\(s\) the data does not have/);
    const err2 = await run({ record_identifier: 'rid' }).catch((e: unknown) => e);
    expect((err2 as Error).message).toMatch(/column rid, rule publish\.columns/);
    expect(fake.stats.requests).toBe(0);
  });

  it('publishes only the configured features, with the event time feature added', async () => {
    const s = await run({ features: ['record_id', 'sessions_cnt', 'z_mad'], event_time_format: 'fractional' }, { files: [sub500] });
    expect(s.published).toBe(500);
    expect(fake.get(FG, '10.0.0.11|outbound|w_24h|2026-11-24T12:15:00Z|30d|10', '1795522500.0')!.record).toEqual({
      record_id: '10.0.0.11|outbound|w_24h|2026-11-24T12:15:00Z|30d|10',
      sessions_cnt: '31',
      z_mad: '-2.5',
      event_time: '1795522500.0',
    });
  });

  it('an error no retry can fix (unknown feature group) aborts the run: everything dead-lettered, few calls', async () => {
    const strict = await FakeFeatureStore.start({ featureGroups: { [FG]: { recordIdentifier: 'record_id', eventTime: 'event_time' } } });
    try {
      const s = await publishOnline({
        session,
        files: [input],
        spec: spec({ concurrency: 8 }),
        featureGroup: 'no-such-group',
        batchId: 'abort',
        workDir: join(dir, 'work'),
        aws: strict.aws,
      });
      expect(s.aborted).toMatch(/^ResourceNotFound \(HTTP 400\): Resource Not Found/);
      expect(s).toMatchObject({ published: 0, deadLettered: N, retries: 0 });
      expect(strict.stats.requests).toBeLessThanOrEqual(8);
      expect(publishExitCode(s)).toBe(1);
      expect(s.deadLetterReasons['not attempted: run aborted']).toBe(N - strict.stats.requests);
    } finally {
      await strict.close();
    }
  });

  it('an unreachable endpoint ends in dead letters, not a hang or a crash', async () => {
    const gone = await FakeFeatureStore.start();
    const aws = gone.aws;
    await gone.close();
    const small = join(dir, 'small2.parquet');
    await session.run(`COPY (SELECT * FROM read_parquet('${input}') LIMIT 20) TO '${small}' (FORMAT parquet)`);
    const s = await publishOnline({ session, files: [small], spec: spec({ retry_budget: 5 }), batchId: 'gone', workDir: join(dir, 'work'), aws });
    expect(s).toMatchObject({ records: 20, published: 0, deadLettered: 20, retries: 5 });
    expect(Object.keys(s.deadLetterReasons).every((k) => k.startsWith('ECONNREFUSED'))).toBe(true);
  });
});

describe('the Feature Store client', () => {
  it('sends the user agent the SDK would, computed once per client (without the per-call m/ feature list)', async () => {
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const record = [{ FeatureName: 'record_id', ValueAsString: 'ua' }, { FeatureName: 'event_time', ValueAsString: '2026-11-24T12:15:00Z' }];
    const sdk = new SageMakerFeatureStoreRuntimeClient({ ...fake.aws, maxAttempts: 1 });
    await sdk.send(new PutRecordCommand({ FeatureGroupName: FG, Record: record }));
    sdk.destroy();
    const [sdkUa] = [...fake.userAgents];
    const [sdkAmz] = [...fake.amzUserAgents];
    fake.reset();
    const ours = makeFeatureStoreClient(fake.aws);
    for (let i = 0; i < 3; i++) await ours.send(new PutRecordCommand({ FeatureGroupName: FG, Record: record }));
    ours.destroy();
    expect(sdkUa).toMatch(/^aws-sdk-js\/\S+ ua\/2\.1 .*api\/sagemaker-featurestore-runtime#\S+ m\/\S+$/);
    expect([...fake.userAgents]).toEqual([sdkUa.replace(/ m\/\S+/, '')]);
    expect([...fake.amzUserAgents]).toEqual([sdkAmz]);
    expect(fake.stats.stored).toBe(1);
  });
});

describe('online publish fanned out over worker threads', () => {
  it('with faults: every record stored exactly once, the same values, one retry budget, concurrency bounded across workers', async () => {
    fake.setFaults({ throttle: 0.05, error5xx: 0.02, drop: 0.01 }, 99);
    fake.setLatency([1, 4]);
    const s = await run({ concurrency: 16, workers: 3 }).finally(() => fake.setLatency(undefined));
    expect(s.online!.workers).toBe(3);
    await expectNothingLost(s);
    expect(s).toMatchObject({ records: N, published: N, deadLettered: 0 });
    expect(fake.get(FG, R10_ID, '2026-11-24T12:15:00Z')!.record).toEqual(R10);
    // 16 split as 4 per sender (this thread and three workers): together they never exceed it.
    expect(fake.stats.maxInFlight).toBeGreaterThan(4);
    expect(fake.stats.maxInFlight).toBeLessThanOrEqual(16);
    expect(s.online!.maxInFlight).toBeLessThanOrEqual(16);
    expect(fake.stats.requests).toBe(N + s.retries);
    expect(s.online!.attempts).toBe(fake.stats.requests);
    expect(s.throttled).toBe(fake.stats.throttled);
    expect(s.retries).toBe(fake.stats.throttled + fake.stats.errors500 + fake.stats.errors503 + fake.stats.dropped);
    expect(fake.stats.throttled).toBeGreaterThan(0);
    expect(publishExitCode(s)).toBe(0);
  });

  it('the retry budget is shared: exactly the budget is spent, the rest is dead-lettered into one file', async () => {
    fake.setFaults({ throttle: 0.3 }, 7);
    const s = await run({ retry_budget: 20, concurrency: 8, workers: 2 });
    expect(s.online!.workers).toBe(2);
    expect(s.retries).toBe(20);
    expect(s.online!.budgetExhausted).toBe(true);
    expect(fake.stats.requests).toBe(s.online!.attempts);
    expect(fake.stats.requests).toBe(s.published + s.deadLettered + 20);
    expect(s.deadLettered).toBeGreaterThan(N / 5);
    expect(s.deadLetterReasons).toEqual({ 'ThrottlingException with retry budget exhausted': s.deadLettered });
    expect(publishExitCode(s)).toBe(1);
    await expectNothingLost(s);
  });

  it('an error no retry can fix stops every worker: few calls, everything else dead-lettered as not attempted', async () => {
    const strict = await FakeFeatureStore.start({ featureGroups: { [FG]: { recordIdentifier: 'record_id', eventTime: 'event_time' } } });
    try {
      const s = await publishOnline({
        session,
        files: [input],
        spec: spec({ concurrency: 8, workers: 2 }),
        featureGroup: 'no-such-group',
        batchId: 'abort-workers',
        workDir: join(dir, 'work'),
        aws: strict.aws,
        awaitWorkers: true,
      });
      expect(s.online!.workers).toBe(2);
      expect(s.aborted).toMatch(/^ResourceNotFound \(HTTP 400\): Resource Not Found/);
      expect(s).toMatchObject({ published: 0, deadLettered: N, retries: 0 });
      expect(strict.stats.requests).toBeGreaterThan(0);
      expect(strict.stats.requests).toBeLessThanOrEqual(8);
      expect(s.deadLetterReasons['not attempted: run aborted']).toBe(N - strict.stats.requests);
      expect(s.deadLetterReasons.ResourceNotFound).toBe(strict.stats.requests);
      const dl = await session.all<{ n: number; reasons: number }>(
        `SELECT count(*) AS n, count(DISTINCT dead_letter_reason) AS reasons FROM read_parquet('${s.deadLetterFile}') WHERE dead_letter_reason LIKE 'not attempted: run aborted (ResourceNotFound%'`,
      );
      expect(dl).toEqual([{ n: N - strict.stats.requests, reasons: 1 }]);
    } finally {
      await strict.close();
    }
  });

  it('a worker that dies mid-run leaves dead letters for its unsettled records, and the other senders finish the run', async () => {
    fake.setLatency([20, 30]);
    const total = 300;
    let settled = 0;
    const pool = new SenderPool({
      workers: 2,
      settings: {
        featureGroup: FG,
        targetStores: ['OnlineStore'],
        featureNames: ['record_id', 'event_time', 'n'],
        concurrency: 6,
        maxAttempts: 3,
        baseDelayMs: 1,
        maxDelayMs: 5,
        retryBudget: 10,
      },
      aws: fake.aws,
      requestTimeoutMs: 5000,
      counters: newCounters(10),
      onAbort: () => undefined,
      onSettled: (n) => (settled += n),
    });
    try {
      for (let t = 0; pool.workersStarted < 2 && t < 600; t++) await new Promise((r) => setTimeout(r, 50));
      expect(pool.workersStarted).toBe(2);
      const doomed = (pool as unknown as { slots: { worker?: Worker }[] }).slots[1].worker!;
      for (let i = 0; i < total; i++) {
        if (i === 100) await doomed.terminate();
        await pool.submit('rows.parquet', i, JSON.stringify([`w${i}`, '2026-11-24T12:15:00Z', String(i)]));
      }
      await pool.drain();
    } finally {
      await pool.close();
      fake.setLatency(undefined);
    }
    const stored = new Set(storedIds());
    const failed = pool.failures.map((f) => f.row);
    expect(settled).toBe(total);
    expect(failed.length).toBeGreaterThan(0);
    expect(pool.failures.every((f) => !f.failure.notAttempted && /^publish worker exited with code 1 \(the record may or may not have been stored\)$/.test(f.failure.reason))).toBe(true);
    // Every record is stored or dead-lettered; only the dead worker's unsettled ones can be both.
    for (let i = 0; i < total; i++) expect(stored.has(`w${i}`) || failed.includes(i)).toBe(true);
    expect(failed.every((row) => row < 100)).toBe(true);
    expect(stored.size).toBeGreaterThanOrEqual(total - failed.length);
  });
});
