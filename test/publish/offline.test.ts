/**
 * Offline target: SageMaker offline-store layout on a real s3rver, and on the
 * local file system. Files are downloaded and read back with DuckDB.
 */
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../../src/engine/session.ts';
import { DataError } from '../../src/errors/index.ts';
import { writeSampleRows } from '../../bench/publish.ts';
import { publishExitCode } from '../../src/publish/common.ts';
import { publish } from '../../src/publish/index.ts';
import { publishOffline, type PublicationRecord } from '../../src/publish/offline.ts';
import { publishSpecSchema, type PublishSpecInput } from '../../src/publish/spec.ts';
import { makeS3Client } from '../../src/publish/store.ts';
import { openTestSession } from './fake-featurestore.ts';

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  httpServer?: { closeAllConnections?: () => void };
}
const require = createRequire(import.meta.url);

let dir: string;
let session: Session;
let s3server: S3rverInstance;
let s3: S3Client;
let input: string;
const BUCKET = 'feature-store';
const FG = 'ndr-fg-c';

const spec = (extra: PublishSpecInput = {}) => publishSpecSchema.parse({ feature_group: FG, offline_s3_uri: `s3://${BUCKET}/offline`, ...extra });

async function listKeys(prefix: string): Promise<string[]> {
  const out = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key!).sort();
}

/** Download objects to a local dir and return their paths. */
async function download(keys: string[]): Promise<string[]> {
  const paths: string[] = [];
  const dl = await mkdtemp(join(dir, 'dl-'));
  for (const [i, key] of keys.entries()) {
    const obj = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    const p = join(dl, `${i}.parquet`);
    await writeFile(p, await obj.Body!.transformToByteArray());
    paths.push(p);
  }
  return paths;
}

const q = (s: Session, text: string) => s.all<Record<string, unknown>>(text);
const list = (paths: string[]) => `[${paths.map((p) => `'${p}'`).join(', ')}]`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ndr-publish-offline-'));
  const S3rver = require('s3rver') as new (opts: Record<string, unknown>) => S3rverInstance;
  s3server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: join(dir, 's3rver') });
  const addr = await s3server.run();
  s3 = makeS3Client({ endpoint: `http://127.0.0.1:${addr.port}`, region: 'us-east-1', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  session = await openTestSession();
  input = join(dir, 'fg_c.parquet');
  // 500 rows, 100 per 15-minute window end: 12:15, 12:30, 12:45 (hour 12: 300 rows), 13:00, 13:15 (hour 13: 200 rows).
  await writeSampleRows(session, input, { rows: 500, perBatch: 100, metrics: 3 });
});

afterAll(async () => {
  session?.close();
  s3?.destroy();
  s3server?.httpServer?.closeAllConnections?.();
  await s3server?.close().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

describe('offline publish to S3 (s3rver)', () => {
  const batchId = 'fg_c-20261124T1200Z';
  const prefix = `offline/${FG}/data/`;
  const hour12 = `${prefix}year=2026/month=11/day=24/hour=12/${batchId}-0.parquet`;
  const hour13 = `${prefix}year=2026/month=11/day=24/hour=13/${batchId}-0.parquet`;

  it('writes the offline-store layout with the added columns, one upload per partition file', async () => {
    const now = new Date('2026-11-25T01:02:03.456Z');
    const s = await publish({ target: 'offline', session, files: [input], spec: spec(), batchId, workDir: join(dir, 'work'), s3, now: () => now });

    expect(await listKeys(prefix)).toEqual([hour12, hour13]);
    expect(s).toMatchObject({ target: 'offline', featureGroup: FG, records: 500, published: 500, deadLettered: 0, retries: 0 });
    expect(publishExitCode(s)).toBe(0);
    expect(s.offline!.dataUri).toBe(`s3://${BUCKET}/offline/${FG}/data`);
    expect(s.offline!.files.map((f) => [f.partition, f.rows])).toEqual([
      ['year=2026/month=11/day=24/hour=12', 300],
      ['year=2026/month=11/day=24/hour=13', 200],
    ]);
    expect(s.offline!.bytes).toBeGreaterThan(0);
    expect(s.offline!.removed).toEqual([]);

    const [f12, f13] = await download([hour12, hour13]);
    const schema = await session.describe(`SELECT * FROM read_parquet('${f12}')`);
    const types = Object.fromEntries(schema.map((c) => [c.name, c.type]));
    expect(types).toMatchObject({
      host_ip: 'VARCHAR',
      record_id: 'VARCHAR',
      window_end_ts: 'VARCHAR',
      sessions_cnt: 'BIGINT',
      deny_ratio: 'DOUBLE',
      z_mad: 'DOUBLE',
      is_cold_start: 'BIGINT',
      baseline_start_ts: 'VARCHAR',
      event_time: 'VARCHAR',
      write_time: 'TIMESTAMP',
      api_invocation_time: 'TIMESTAMP',
      is_deleted: 'BOOLEAN',
    });
    // Partition values are directories, not columns; the three Feature Store columns come last.
    expect(schema.map((c) => c.name)).not.toContain('year');
    expect(schema.map((c) => c.name).slice(-3)).toEqual(['write_time', 'api_invocation_time', 'is_deleted']);

    const agg12 = await q(
      session,
      `SELECT count(*) AS n, count(DISTINCT record_id) AS ids, min(event_time) AS lo, max(event_time) AS hi, bool_or(is_deleted) AS del,
        min(write_time) = max(write_time) AS one_write_time, any_value(api_invocation_time)::VARCHAR AS api
       FROM read_parquet('${f12}')`,
    );
    expect(agg12[0]).toEqual({ n: 300, ids: 300, lo: '2026-11-24T12:15:00Z', hi: '2026-11-24T12:45:00Z', del: false, one_write_time: true, api: '2026-11-25 01:02:03.456' });
    const agg13 = await q(session, `SELECT count(*) AS n, min(event_time) AS lo, max(event_time) AS hi FROM read_parquet('${f13}')`);
    expect(agg13[0]).toEqual({ n: 200, lo: '2026-11-24T13:00:00Z', hi: '2026-11-24T13:15:00Z' });

    // One row's values, exactly (row i = 10 of the generator).
    const row = await q(
      session,
      `SELECT record_id, host_ip, role, window_end_ts, event_time, sessions_cnt, deny_ratio, z_mad, is_cold_start, baseline_start_ts, m_0
       FROM read_parquet('${f12}') WHERE record_id LIKE '%|10'`,
    );
    expect(row).toEqual([
      {
        record_id: '10.0.0.11|outbound|w_24h|2026-11-24T12:15:00Z|30d|10',
        host_ip: '10.0.0.11',
        role: 'outbound',
        window_end_ts: '2026-11-24T12:15:00Z',
        event_time: '2026-11-24T12:15:00Z',
        sessions_cnt: 31,
        deny_ratio: null, // 10 % 7 = 3
        z_mad: -2.5,
        is_cold_start: 0,
        baseline_start_ts: '2026-11-15T12:15:00Z',
        m_0: 4.285714,
      },
    ]);
    const r12 = await q(session, `SELECT deny_ratio, sessions_cnt FROM read_parquet('${f12}') WHERE record_id LIKE '%|12'`);
    expect(r12).toEqual([{ deny_ratio: 0.12, sessions_cnt: 37 }]);
    // NULL stays NULL (deny_ratio is NULL on every row i % 7 = 3).
    const nulls = await q(session, `SELECT count(*) FILTER (WHERE deny_ratio IS NULL) AS n FROM read_parquet(${list([f12, f13])})`);
    expect(nulls[0].n).toBe(Math.floor((500 - 3 - 1) / 7) + 1);

    const rec = JSON.parse(await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: `offline/${FG}/_ndr_publish/${batchId}.json` }))).Body!.transformToString()) as PublicationRecord;
    expect(rec).toMatchObject({ batch_id: batchId, feature_group: FG, status: 'committed', rows: 500 });
    expect(rec.files).toEqual([`s3://${BUCKET}/${hour12}`, `s3://${BUCKET}/${hour13}`]);
  });

  it('is idempotent per batch: a rerun replaces the files, never duplicates rows', async () => {
    const s = await publishOffline({ session, files: [input], spec: spec(), batchId, workDir: join(dir, 'work'), s3 });
    expect(s.published).toBe(500);
    const keys = await listKeys(prefix);
    expect(keys).toEqual([hour12, hour13]);
    const files = await download(keys);
    const agg = await q(session, `SELECT count(*) AS n, count(DISTINCT record_id) AS ids FROM read_parquet(${list(files)})`);
    expect(agg[0]).toEqual({ n: 500, ids: 500 });
  });

  it('a rerun with different data removes the files the previous run wrote and this one did not', async () => {
    const only12 = join(dir, 'fg_c-hour12.parquet');
    await session.run(`COPY (SELECT * FROM read_parquet('${input}') WHERE window_end_ts < TIMESTAMP '2026-11-24 13:00:00') TO '${only12}' (FORMAT parquet)`);
    const s = await publishOffline({ session, files: [only12], spec: spec(), batchId, workDir: join(dir, 'work'), s3 });
    expect(s.published).toBe(300);
    expect(s.offline!.removed).toEqual([`s3://${BUCKET}/${hour13}`]);
    expect(await listKeys(prefix)).toEqual([hour12]);
  });

  it('a rerun cleans up after a run killed between upload and commit (pending record)', async () => {
    const stray = `${prefix}year=2026/month=11/day=24/hour=14/${batchId}-0.parquet`;
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: stray, Body: 'partial' }));
    const pending: PublicationRecord = {
      batch_id: batchId,
      feature_group: FG,
      status: 'pending',
      files: [`s3://${BUCKET}/${hour12}`, `s3://${BUCKET}/${stray}`],
      rows: 0,
      api_invocation_time: new Date().toISOString(),
      updated_at: new Date().toISOString(),
    };
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `offline/${FG}/_ndr_publish/${batchId}.json`, Body: JSON.stringify(pending) }));
    const s = await publishOffline({ session, files: [input], spec: spec(), batchId, workDir: join(dir, 'work'), s3 });
    expect(s.offline!.removed).toEqual([`s3://${BUCKET}/${stray}`]);
    expect(await listKeys(prefix)).toEqual([hour12, hour13]);
  });

  it('other batches are left alone', async () => {
    const s = await publishOffline({ session, files: [input], spec: spec(), batchId: 'other-batch', workDir: join(dir, 'work'), s3 });
    expect(s.published).toBe(500);
    const keys = await listKeys(prefix);
    expect(keys).toHaveLength(4);
    expect(keys.filter((k) => k.includes(`/${batchId}-`))).toEqual([hour12, hour13]);
  });

  it('uses offline_data_uri (a ResolvedOutputS3Uri) as is', async () => {
    const dataUri = `s3://${BUCKET}/acct/sagemaker/us-east-1/offline-store/${FG}-1764000000/data`;
    const s = await publishOffline({ session, files: [input], spec: spec({ offline_data_uri: dataUri }), batchId, workDir: join(dir, 'work'), s3 });
    expect(s.offline!.dataUri).toBe(dataUri);
    expect(await listKeys(`acct/sagemaker/us-east-1/offline-store/${FG}-1764000000/`)).toEqual([
      `acct/sagemaker/us-east-1/offline-store/${FG}-1764000000/_ndr_publish/${batchId}.json`,
      `acct/sagemaker/us-east-1/offline-store/${FG}-1764000000/data/year=2026/month=11/day=24/hour=12/${batchId}-0.parquet`,
      `acct/sagemaker/us-east-1/offline-store/${FG}-1764000000/data/year=2026/month=11/day=24/hour=13/${batchId}-0.parquet`,
    ]);
  });
});

describe('offline publish to the local file system', () => {
  it('works with a file:// URI, dead-letters bad rows and writes Fractional event times when asked', async () => {
    const bad = join(dir, 'bad.parquet');
    await session.run(`COPY (
      SELECT * FROM (VALUES
        ('r1', TIMESTAMP '2026-11-24 12:15:00', 1.5::DOUBLE, 10::BIGINT),
        ('r2', TIMESTAMP '2026-11-24 12:15:00.250', 'nan'::DOUBLE, 11::BIGINT),
        (NULL, TIMESTAMP '2026-11-24 12:15:00', 2.5::DOUBLE, 12::BIGINT),
        ('', TIMESTAMP '2026-11-24 12:15:00', 2.5::DOUBLE, 13::BIGINT),
        ('r5', NULL, 3.5::DOUBLE, 14::BIGINT),
        ('r6', TIMESTAMP '2026-11-24 23:59:59', 'inf'::DOUBLE, 15::BIGINT)
      ) t(record_id, window_end_ts, score, n)) TO '${bad}' (FORMAT parquet)`);
    const root = join(dir, 'local-offline');
    const workDir = join(dir, 'work-local');
    const s = await publishOffline({
      session,
      files: [bad],
      spec: publishSpecSchema.parse({ feature_group: 'local-fg', offline_s3_uri: pathToFileURL(root).href, event_time_format: 'fractional' }),
      batchId: 'b1',
      workDir,
    });
    expect(s).toMatchObject({ records: 6, published: 3, deadLettered: 3, nonFiniteNulled: 2 });
    expect(publishExitCode(s)).toBe(1);
    expect(s.deadLetterReasons).toEqual({
      'missing record identifier: column record_id is NULL or empty': 2,
      'missing event time: column window_end_ts is NULL or not a timestamp': 1,
    });
    const h12 = join(root, 'local-fg/data/year=2026/month=11/day=24/hour=12/b1-0.parquet');
    const h23 = join(root, 'local-fg/data/year=2026/month=11/day=24/hour=23/b1-0.parquet');
    expect(existsSync(h12) && existsSync(h23)).toBe(true);
    expect(readdirSync(join(root, 'local-fg/_ndr_publish'))).toEqual(['b1.json']);
    const rows = await q(session, `SELECT record_id, event_time, window_end_ts, score, n FROM read_parquet(['${h12}', '${h23}']) ORDER BY record_id`);
    expect(rows).toEqual([
      { record_id: 'r1', event_time: 1795522500, window_end_ts: '2026-11-24T12:15:00Z', score: 1.5, n: 10 },
      { record_id: 'r2', event_time: 1795522500.25, window_end_ts: '2026-11-24T12:15:00.250Z', score: null, n: 11 },
      { record_id: 'r6', event_time: 1795564799, window_end_ts: '2026-11-24T23:59:59Z', score: null, n: 15 },
    ]);
    const types = Object.fromEntries((await session.describe(`SELECT * FROM read_parquet('${h12}')`)).map((c) => [c.name, c.type]));
    expect(types.event_time).toBe('DOUBLE');

    // The dead-letter file holds the source rows as they were, plus why.
    expect(s.deadLetterFile).toBe(join(workDir, 'dead-letter/local-fg/offline-b1.parquet'));
    const dl = await q(session, `SELECT record_id, n, dead_letter_reason, dead_letter_attempts, dead_letter_target FROM read_parquet('${s.deadLetterFile}') ORDER BY n`);
    expect(dl).toEqual([
      { record_id: null, n: 12, dead_letter_reason: 'missing record identifier: column record_id is NULL or empty', dead_letter_attempts: 0, dead_letter_target: 'offline' },
      { record_id: '', n: 13, dead_letter_reason: 'missing record identifier: column record_id is NULL or empty', dead_letter_attempts: 0, dead_letter_target: 'offline' },
      { record_id: 'r5', n: 14, dead_letter_reason: 'missing event time: column window_end_ts is NULL or not a timestamp', dead_letter_attempts: 0, dead_letter_target: 'offline' },
    ]);

    // nan_policy dead_letter: the NaN/Infinity rows are dead-lettered instead of published with NULLs.
    const s2 = await publishOffline({
      session,
      files: [bad],
      spec: publishSpecSchema.parse({ feature_group: 'local-fg', offline_s3_uri: root, nan_policy: 'dead_letter' }),
      batchId: 'b1',
      workDir,
    });
    expect(s2).toMatchObject({ records: 6, published: 1, deadLettered: 5, nonFiniteNulled: 0 });
    expect(s2.deadLetterReasons['non-finite value (NaN/Infinity) in score (nan_policy dead_letter)']).toBe(2);
    // The rerun replaced the batch: hour 23 only had r6, which is now dead-lettered.
    expect(existsSync(h23)).toBe(false);
    expect(s2.offline!.removed).toEqual([h23]);
  });

  it('fails with one clear error, before writing anything, when a configured column is missing', async () => {
    const root = join(dir, 'local-missing');
    const err = await publishOffline({
      session,
      files: [input],
      spec: publishSpecSchema.parse({ feature_group: 'x', offline_s3_uri: root, features: ['record_id', 'sessions_cnt', 'no_such_metric', 'nor_this'] }),
      batchId: 'b',
      workDir: join(dir, 'work-missing'),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toMatch(/column no_such_metric, nor_this, rule publish\.columns: feature group x needs column\(s\) the data does not have/);
    expect(existsSync(root)).toBe(false);
  });

  it('refuses a feature whose type has no Feature Store type, and offline partition names', async () => {
    const odd = join(dir, 'odd.parquet');
    await session.run(`COPY (SELECT 'r1' AS record_id, TIMESTAMP '2026-11-24 12:15:00' AS window_end_ts, [1, 2] AS ports, 2026 AS "year") TO '${odd}' (FORMAT parquet)`);
    const run = (extra: PublishSpecInput) =>
      publishOffline({ session, files: [odd], spec: publishSpecSchema.parse({ feature_group: 'x', offline_s3_uri: join(dir, 'odd-out'), ...extra }), batchId: 'b', workDir: join(dir, 'w') });
    await expect(run({ exclude: ['year'] })).rejects.toThrow(/column ports, rule publish\.feature_type: type INTEGER\[\] has no Feature Store type/);
    await expect(run({ exclude: ['ports'] })).rejects.toThrow(/column year, rule publish\.feature_name/);
    const ok = await run({ exclude: ['ports', 'year'] });
    expect(ok.published).toBe(1);
  });

  it('an empty input still replaces the batch (its previous files are removed)', async () => {
    const root = join(dir, 'local-empty');
    const sp = publishSpecSchema.parse({ feature_group: 'e', offline_s3_uri: root });
    const first = await publishOffline({ session, files: [input], spec: sp, batchId: 'b', workDir: join(dir, 'we') });
    expect(first.offline!.files).toHaveLength(2);
    const second = await publishOffline({ session, files: [], spec: sp, batchId: 'b', workDir: join(dir, 'we') });
    expect(second).toMatchObject({ records: 0, published: 0, deadLettered: 0 });
    expect(second.offline!.removed).toHaveLength(2);
    expect(readdirSync(join(root, 'e/data/year=2026/month=11/day=24/hour=12'))).toEqual([]);
  });
});
