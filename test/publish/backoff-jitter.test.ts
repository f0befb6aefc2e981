/**
 * Online publish backoff: exponential with FULL jitter, capped, and bounded by
 * the run's retry budget, checked delay by delay against the fake Feature
 * Store over loopback (real SDK client, real HTTP, real 429s).
 *
 * The `sleep` hook only receives a number of milliseconds, so to know which
 * record and attempt each delay belongs to we log every PutRecord call with a
 * middleware on the publisher's own client. Concurrency 1 makes that
 * attribution sound: with one call in flight, the call that failed last is the
 * one whose backoff is being requested (asserted below, not assumed).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PutRecordCommandInput } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Session } from '../../src/engine/session.ts';
import { formatPublishSummary, publishExitCode, type PublishSummary } from '../../src/publish/common.ts';
import { describeError, makeFeatureStoreClient, publishOnline } from '../../src/publish/online.ts';
import { publishSpecSchema, type PublishSpecInput } from '../../src/publish/spec.ts';
import { FakeFeatureStore, openTestSession, seededRandom } from './fake-featurestore.ts';

const FG = 'ndr-fg-backoff';
const N = 40;
const BASE = 100;
const CAP = 700;
/**
 * Backoff ceiling after the given failed attempt, written out rather than
 * computed so that a wrong formula in the publisher cannot also be the
 * expectation: it doubles per retry and the cap (700, not 800) bites at the
 * fourth.
 */
const CEILING: Record<number, number> = { 1: 100, 2: 200, 3: 400, 4: 700, 5: 700, 6: 700, 7: 700 };
/** Jitter draws handed to the publisher, in order: mid, top, bottom (full jitter's 0), and a few in between. */
const DRAWS = [0.5, 0.999, 0, 0.25, 0.75, 0.1];

let dir: string;
let session: Session;
let fake: FakeFeatureStore;
let input: string;

interface Call {
  id: string;
  attempt: number;
  ok: boolean;
  error?: string;
}
interface Sleep {
  ms: number;
  draw: number;
  /** The record and attempt whose failure this backoff follows. */
  after: Call;
  callsSoFar: number;
  serverRequestsSoFar: number;
}

async function runLogged(extra: PublishSpecInput, batchId: string) {
  const spec = publishSpecSchema.parse({
    feature_group: FG,
    concurrency: 1,
    base_delay_ms: BASE,
    max_delay_ms: CAP,
    max_attempts: 8,
    ...extra,
  });
  const calls: Call[] = [];
  const sleeps: Sleep[] = [];
  let draws = 0;
  const client = makeFeatureStoreClient(fake.aws, spec);
  const attemptsOf = new Map<string, number>();
  client.middlewareStack.add(
    (next) => async (args) => {
      const rec = (args.input as PutRecordCommandInput).Record ?? [];
      const id = rec.find((f) => f.FeatureName === 'record_id')!.ValueAsString!;
      const attempt = (attemptsOf.get(id) ?? 0) + 1;
      attemptsOf.set(id, attempt);
      try {
        const out = await next(args);
        calls.push({ id, attempt, ok: true });
        return out;
      } catch (err) {
        calls.push({ id, attempt, ok: false, error: describeError(err) });
        throw err;
      }
    },
    { step: 'initialize', name: 'attemptLog', priority: 'high' },
  );
  try {
    const s = await publishOnline({
      session,
      files: [input],
      spec,
      batchId,
      workDir: join(dir, 'work'),
      aws: fake.aws,
      client,
      random: () => DRAWS[draws++ % DRAWS.length],
      sleep: async (ms) => {
        sleeps.push({ ms, draw: DRAWS[(draws - 1) % DRAWS.length], after: calls.at(-1)!, callsSoFar: calls.length, serverRequestsSoFar: fake.stats.requests });
      },
    });
    return { s, calls, sleeps, draws };
  } finally {
    client.destroy();
  }
}

/** Each backoff follows the failure just before it, and no two backoffs follow the same failure. */
function expectSoundAttribution(calls: Call[], sleeps: Sleep[]) {
  const seen = new Set<number>();
  for (const sl of sleeps) {
    expect(sl.after.ok).toBe(false);
    // Nothing else was sent between the failure and its backoff, not even as far as the server.
    expect(sl.serverRequestsSoFar).toBe(sl.callsSoFar);
    expect(seen.has(sl.callsSoFar)).toBe(false);
    seen.add(sl.callsSoFar);
  }
  expect(calls.length).toBe(fake.stats.requests);
}

/** The exact delay of every backoff: floor(draw × ceiling of that record's failed attempt). */
function expectFullJitter(sleeps: Sleep[], draws: number) {
  // One jitter draw per backoff: no draw is wasted on a record that is not retried.
  expect(draws).toBe(sleeps.length);
  sleeps.forEach((sl, i) => {
    expect(sl.draw).toBe(DRAWS[i % DRAWS.length]);
    const ceiling = CEILING[sl.after.attempt];
    expect(ceiling).toBe(Math.min(CAP, BASE * 2 ** (sl.after.attempt - 1)));
    expect({ i, attempt: sl.after.attempt, ms: sl.ms }).toEqual({ i, attempt: sl.after.attempt, ms: Math.floor(sl.draw * ceiling) });
    expect(sl.ms).toBeGreaterThanOrEqual(0);
    expect(sl.ms).toBeLessThan(ceiling);
  });
}

/** Every record is stored exactly once or dead-lettered, never both, never neither. */
async function expectNothingLost(s: PublishSummary) {
  const stored = fake.recordsOf(FG).map((r) => r.record.record_id);
  expect(fake.recordsOf(FG).every((r) => r.writes === 1)).toBe(true);
  const dead = s.deadLetterFile ? (await deadLetters(s)).map((d) => d.record_id) : [];
  expect(s.published).toBe(stored.length);
  expect(s.deadLettered).toBe(dead.length);
  expect(stored.length + dead.length).toBe(N);
  expect(new Set([...stored, ...dead]).size).toBe(N);
}

const deadLetters = (s: PublishSummary) =>
  session.all<{ record_id: string; reason: string; attempts: number }>(
    `SELECT record_id, dead_letter_reason AS reason, dead_letter_attempts AS attempts FROM read_parquet('${s.deadLetterFile}') ORDER BY record_id`,
  );

/** The record ids whose last call failed, with that call. */
const lastFailures = (calls: Call[]) => {
  const last = new Map<string, Call>();
  for (const c of calls) last.set(c.id, c);
  return [...last.values()].filter((c) => !c.ok).sort((a, b) => a.id.localeCompare(b.id));
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ndr-publish-backoff-'));
  session = await openTestSession();
  fake = await FakeFeatureStore.start();
  input = join(dir, 'rows.parquet');
  await session.run(
    `COPY (SELECT 'r' || lpad(i::VARCHAR, 2, '0') AS record_id, TIMESTAMP '2026-11-24 12:15:00' AS window_end_ts, i AS n FROM range(${N}) t(i)) TO '${input}' (FORMAT parquet)`,
  );
});

beforeEach(() => fake.reset());

afterAll(async () => {
  await fake?.close();
  session?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('online publish backoff against the fake Feature Store', () => {
  it('retries throttled records after floor(random × min(max_delay, base × 2^(attempt−1))) ms: full jitter, doubling, capped', async () => {
    const SEED = 11;
    const RATE = 0.7;
    fake.setFaults({ throttle: RATE }, SEED);
    const { s, calls, sleeps, draws } = await runLogged({ retry_budget: 1000 }, 'jitter');

    // The fake decides each request with one draw of its seeded PRNG: replaying it proves the call log is in server order.
    const serverPrng = seededRandom(SEED);
    expect(calls.map((c) => c.ok)).toEqual(calls.map(() => serverPrng() >= RATE));
    expect(calls.filter((c) => !c.ok).every((c) => c.error === 'ThrottlingException (HTTP 429): Rate exceeded')).toBe(true);
    expect(s.online!.maxInFlight).toBe(1);
    expect(fake.stats.maxInFlight).toBe(1);
    expectSoundAttribution(calls, sleeps);
    expectFullJitter(sleeps, draws);

    // The run must have exercised the whole curve, or the checks above prove little.
    const attempts = new Set(sleeps.map((sl) => sl.after.attempt));
    for (const a of [1, 2, 3, 4, 5]) expect(attempts).toContain(a);
    const ceilings = [...new Set(sleeps.map((sl) => CEILING[sl.after.attempt]))].sort((a, b) => a - b);
    expect(ceilings.slice(0, 4)).toEqual([100, 200, 400, 700]);
    expect(Math.max(...sleeps.map((sl) => sl.ms))).toBeLessThan(CAP);
    // Full jitter, not "equal jitter" (ceiling/2 + random × ceiling/2): a draw of 0 waits 0 ms even where the ceiling is the cap,
    // and the top draw waits just under the ceiling.
    const zeros = sleeps.filter((sl) => sl.draw === 0);
    expect(zeros.length).toBeGreaterThan(0);
    expect(zeros.every((sl) => sl.ms === 0)).toBe(true);
    expect(zeros.some((sl) => CEILING[sl.after.attempt] >= 400)).toBe(true);
    expect(sleeps.filter((sl) => sl.draw === 0.999).every((sl) => sl.ms === CEILING[sl.after.attempt] - 1)).toBe(true);
    expect(sleeps.some((sl) => sl.ms > 0 && sl.ms < CEILING[sl.after.attempt] / 2)).toBe(true);

    // Counting: one retry per backoff, and every request is a first attempt or a retry.
    expect(s.retries).toBe(sleeps.length);
    expect(s.online!.attempts).toBe(calls.length);
    expect(fake.stats.requests).toBe(N + s.retries);
    expect(s.throttled).toBe(fake.stats.throttled);
    expect(s.throttled).toBe(calls.filter((c) => !c.ok).length);
    expect(s.online!.budgetExhausted).toBe(false);

    // At a 70% throttle rate some records (with this seed, 4) fail all 8 attempts: their last failure gets no backoff,
    // and they are dead-lettered with that error and attempt count.
    await expectNothingLost(s);
    const gaveUp = lastFailures(calls);
    expect(gaveUp.length).toBeGreaterThan(0);
    expect(gaveUp.every((c) => c.attempt === 8)).toBe(true);
    expect(s.throttled - s.retries).toBe(gaveUp.length);
    expect(await deadLetters(s)).toEqual(
      gaveUp.map((c) => ({ record_id: c.id, reason: 'ThrottlingException (HTTP 429): Rate exceeded (gave up after 8 attempts)', attempts: 8 })),
    );
    expect(s.deadLetterReasons).toEqual({ 'ThrottlingException after max_attempts': gaveUp.length });
    expect(publishExitCode(s)).toBe(1);
  });

  it('once the run retry budget is spent, each further failure is dead-lettered with its error instead of retried', async () => {
    const SEED = 5;
    fake.setFaults({ throttle: 0.5 }, SEED);
    // 25% of 40 records: a budget of 10 retries for the run.
    const { s, calls, sleeps, draws } = await runLogged({ retry_budget: '25%' }, 'budget');

    expect(s.online!.retryBudget).toBe(10);
    expect(s.online!.budgetExhausted).toBe(true);
    expect(s.retries).toBe(10);
    expect(sleeps).toHaveLength(10);
    expectSoundAttribution(calls, sleeps);
    expectFullJitter(sleeps, draws);

    // Every failure got either a backoff (the first 10) or a dead letter (all later ones); none gave up on max_attempts.
    const failures = calls.filter((c) => !c.ok);
    expect(failures.length).toBe(s.retries + s.deadLettered);
    expect(s.throttled).toBe(failures.length);
    expect(fake.stats.requests).toBe(N + s.retries);
    const tenth = calls.indexOf(sleeps[9].after);
    expect(calls.slice(tenth + 1).filter((c) => !c.ok)).toHaveLength(s.deadLettered);

    expect(s.deadLettered).toBeGreaterThan(0);
    expect(s.published).toBeGreaterThan(0);
    await expectNothingLost(s);
    expect(await deadLetters(s)).toEqual(
      lastFailures(calls).map((c) => ({
        record_id: c.id,
        reason: 'ThrottlingException (HTTP 429): Rate exceeded (run retry budget of 10 exhausted)',
        attempts: c.attempt,
      })),
    );
    expect(s.deadLetterReasons).toEqual({ 'ThrottlingException with retry budget exhausted': s.deadLettered });
    expect(publishExitCode(s)).toBe(1);
    expect(formatPublishSummary(s)).toMatch(
      new RegExp(`: ${s.published}/${N} records, .*, 10 retries \\(${s.throttled} throttled, budget 10 exhausted\\), ${s.deadLettered} dead letters in .*online-budget\\.parquet$`),
    );
  });
});
