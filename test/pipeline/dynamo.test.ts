/**
 * DynamoLedger and DynamoLockManager against a real dynalite server started
 * here (self-contained: no dependency on the global AWS setup).
 */
import { DescribeTableCommand, DynamoDBClient, GetItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { spawn } from 'node:child_process';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT, LockBusyError } from '../../src/errors/index.ts';
import { Logger } from '../../src/log/logger.ts';
import { DEFAULT_LEDGER_TABLE, DynamoLedger, createLedgerTable, ledgerTableName } from '../../src/pipeline/ledger-dynamo.ts';
import { DEFAULT_LOCK_TABLE, DynamoLockManager, createLockTable, lockTableName } from '../../src/pipeline/lock-dynamo.ts';
import { HOST } from '../../src/pipeline/lock.ts';

const require = createRequire(import.meta.url);
let server: Server;
let client: DynamoDBClient;
const LEDGER = 'test_ledger';
const LOCKS = 'test_locks';

beforeAll(async () => {
  const dynalite = require('dynalite') as (opts: Record<string, unknown>) => Server;
  server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  client = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, // dynalite accepts any
    maxAttempts: 2,
  });
  await createLedgerTable(client, LEDGER);
  await createLockTable(client, LOCKS);
});

afterAll(async () => {
  client?.destroy();
  await new Promise((r) => server?.close(r));
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const part = (hh: string, mm: string) => `delta/feature_spec_version=v1/dt=2026-11-24/hh=${hh}/mm=${mm}`;
const key = { project: 'acme', version: 'v1', dataset: 'delta', partition: part('12', '15') };

function captureLogger() {
  const lines: Record<string, unknown>[] = [];
  const log = new Logger({ format: 'json', level: 'debug', stdout: { write: (s: string) => lines.push(JSON.parse(s)) }, stderr: { write: () => true } });
  return { log, lines };
}

describe('table names', () => {
  it('come from NDR_LEDGER_TABLE_NAME / NDR_LOCK_TABLE_NAME with documented defaults', () => {
    expect(ledgerTableName({})).toBe(DEFAULT_LEDGER_TABLE);
    expect(DEFAULT_LEDGER_TABLE).toBe('ndr_sql_ledger');
    expect(ledgerTableName({ NDR_LEDGER_TABLE_NAME: 'x' })).toBe('x');
    expect(lockTableName({})).toBe('ndr_sql_locks');
    expect(DEFAULT_LOCK_TABLE).toBe('ndr_sql_locks');
    expect(lockTableName({ NDR_LOCK_TABLE_NAME: 'y' })).toBe('y');
  });

  it('createLedgerTable is idempotent and keys the table (pk, partition)', async () => {
    await createLedgerTable(client, LEDGER);
    const d = await client.send(new DescribeTableCommand({ TableName: LEDGER }));
    expect(d.Table?.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'partition', KeyType: 'RANGE' },
    ]);
    await createLockTable(client, LOCKS);
    const l = await client.send(new DescribeTableCommand({ TableName: LOCKS }));
    expect(l.Table?.KeySchema).toEqual([{ AttributeName: 'pk', KeyType: 'HASH' }]);
  });
});

describe('DynamoLedger', () => {
  it('upserts one item per (project, version, dataset, partition) with pk = project#version#dataset', async () => {
    const ledger = new DynamoLedger({ client, tableName: LEDGER });
    expect((await ledger.record({ ...key, status: 'running' })).attempts).toBe(1);
    const failed = await ledger.record({ ...key, status: 'failed', last_error: 'S3 503', seconds: 1.5 });
    expect(failed).toMatchObject({ status: 'failed', attempts: 1, last_error: 'S3 503', seconds: 1.5 });
    expect(failed.finished_at).not.toBeNull();
    const again = await ledger.record({ ...key, status: 'running' });
    expect(again).toMatchObject({ attempts: 2, last_error: 'S3 503', finished_at: null });
    const done = await ledger.record({ ...key, status: 'committed', rows: 77, seconds: 3, manifest: { partition: key.partition, run_id: 'r-2' } });
    expect(done).toMatchObject({ status: 'committed', attempts: 2, last_error: null, rows: 77, seconds: 3, manifest: { partition: key.partition, run_id: 'r-2' } });
    expect(done.partition_ms).toBe(Date.parse('2026-11-24T12:15:00Z'));
    expect(await ledger.get(key)).toEqual(done);
    expect(await ledger.get({ ...key, partition: part('12', '30') })).toBeUndefined();

    const raw = await client.send(new GetItemCommand({ TableName: LEDGER, Key: { pk: { S: 'acme#v1#delta' }, partition: { S: key.partition } } }));
    expect(raw.Item?.status).toEqual({ S: 'committed' });
    expect(raw.Item?.attempts).toEqual({ N: '2' });
    const scan = await client.send(new ScanCommand({ TableName: LEDGER }));
    expect(scan.Items?.filter((i) => i.pk.S === 'acme#v1#delta')).toHaveLength(1);
    await ledger.close();
  });

  it('increments attempts atomically under concurrent writers', async () => {
    const ledger = new DynamoLedger({ client, tableName: LEDGER });
    const k = { ...key, project: 'conc' };
    await Promise.all(Array.from({ length: 12 }, () => ledger.record({ ...k, status: 'running' })));
    expect((await ledger.get(k))?.attempts).toBe(12);
  });

  it('lists across the DAG datasets, filtered by dataset, status and partition time', async () => {
    const ledger = new DynamoLedger({ client, tableName: LEDGER });
    const p = { project: 'listing', version: 'v1' };
    for (const mm of ['00', '15', '30', '45']) {
      await ledger.record({ ...p, dataset: 'delta', partition: part('10', mm), status: mm === '30' ? 'missing_input' : 'committed', rows: 1 });
      await ledger.record({ ...p, dataset: 'fg_a', partition: part('10', mm).replace('delta/', 'fg_a/'), status: 'committed', rows: 2 });
    }
    await ledger.record({ ...p, dataset: 'fg_b', partition: 'fg_b/host/feature_spec_version=v1/baseline_horizon=7d/reference_date=2026-11-01', status: 'committed' });
    await ledger.record({ ...p, version: 'v2', dataset: 'delta', partition: part('10', '00'), status: 'committed' });

    const all = await ledger.list(p);
    expect(all.map((e) => e.dataset)).toEqual(['delta', 'delta', 'delta', 'delta', 'fg_a', 'fg_a', 'fg_a', 'fg_a', 'fg_b']);
    expect(all.reduce((n, e) => n + (e.rows ?? 0), 0)).toBe(12);
    const range = await ledger.list({ ...p, dataset: 'delta', fromMs: Date.parse('2026-11-24T10:15:00Z'), toMs: Date.parse('2026-11-24T10:45:00Z') });
    expect(range.map((e) => e.partition)).toEqual([part('10', '15'), part('10', '30')]);
    expect((await ledger.list({ ...p, status: 'missing_input' })).map((e) => [e.partition, e.attempts])).toEqual([[part('10', '30'), 0]]);
    expect((await ledger.list({ ...p, fromMs: Date.parse('2026-11-01T00:00:00Z'), toMs: Date.parse('2026-11-02T00:00:00Z') })).map((e) => e.dataset)).toEqual(['fg_b']);
    expect(await ledger.list({ ...p, version: 'v2' })).toHaveLength(1);
  });
});

describe('DynamoLockManager', () => {
  const KEY = 'acme#v1#delta#delta/feature_spec_version=v1/dt=2026-11-24';

  it('stores owner, token and a TTL in epoch seconds; deletes on release', async () => {
    const m = new DynamoLockManager({ client, tableName: LOCKS });
    const t0 = Date.now();
    const lock = await m.acquire(`${KEY}#ttl`, { waitMs: 0, leaseMs: 30_000, owner: 'run A' });
    const raw = await client.send(new GetItemCommand({ TableName: LOCKS, Key: { pk: { S: `${KEY}#ttl` } } }));
    expect(raw.Item?.owner).toEqual({ S: 'run A' });
    expect(raw.Item?.host).toEqual({ S: HOST });
    expect(raw.Item?.pid).toEqual({ N: String(process.pid) });
    const ttl = Number(raw.Item?.expires_at.N);
    expect(Number.isInteger(ttl)).toBe(true);
    expect(ttl).toBeGreaterThanOrEqual(Math.floor((t0 + 30_000) / 1000));
    expect(ttl).toBeLessThanOrEqual(Math.ceil((Date.now() + 30_000) / 1000));
    await lock.release();
    expect((await client.send(new GetItemCommand({ TableName: LOCKS, Key: { pk: { S: `${KEY}#ttl` } } }))).Item).toBeUndefined();
  });

  it('a second acquirer waits waitMs, then fails with LockBusyError naming the holder; gets it once released', async () => {
    const m = new DynamoLockManager({ client, tableName: LOCKS });
    const a = await m.acquire(KEY, { waitMs: 0, leaseMs: 10_000, owner: 'run A' });
    const t0 = Date.now();
    const err = await m.acquire(KEY, { waitMs: 400, leaseMs: 10_000, owner: 'run B' }).catch((e) => e);
    expect(err).toBeInstanceOf(LockBusyError);
    expect(err.exitCode).toBe(EXIT.notReady);
    expect(err.message).toContain(`lock ${KEY} is held by run A (pid ${process.pid} on ${HOST}`);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(390);
    setTimeout(() => void a.release(), 200);
    const b = await m.acquire(KEY, { waitMs: 5_000, leaseMs: 10_000, owner: 'run B' });
    expect((await m.holder(KEY))?.owner).toBe('run B');
    await b.release();
  });

  it('takes over an expired lease (and logs it); the heartbeat keeps a live one past leaseMs', async () => {
    const { log, lines } = captureLogger();
    const m = new DynamoLockManager({ client, tableName: LOCKS, logger: log });
    const k = `${KEY}#expiry`;
    // A holder on another host that stopped heartbeating: its lease ran out.
    const ghost = new DynamoLockManager({ client, tableName: LOCKS });
    const g = await ghost.acquire(k, { waitMs: 0, leaseMs: 250, owner: 'ghost' });
    (g as unknown as { stopTimer(): void }).stopTimer(); // simulate a frozen process: no more heartbeats
    await sleep(400);
    const lock = await m.acquire(k, { waitMs: 0, leaseMs: 1000, owner: 'fresh' });
    expect(lines.find((l) => l.event === 'lock_takeover')).toMatchObject({ lock: k, owner: 'fresh', reason: 'expired' });

    const first = lock.expiresAt;
    await sleep(2500); // 2.5 leases
    expect(lock.lost).toBe(false);
    expect(lock.expiresAt).toBeGreaterThan(first + 1000);
    expect((await m.holder(k))!.expires_at).toBeGreaterThan(Date.now());
    const err = await m.acquire(k, { waitMs: 0, leaseMs: 1000, owner: 'intruder' }).catch((e) => e);
    expect(err).toBeInstanceOf(LockBusyError);
    expect(err.message).toContain('held by fresh');
    // the ghost's release must not delete the new holder's lock
    await g.release();
    expect((await m.holder(k))?.owner).toBe('fresh');
    await lock.release();
    expect(await m.holder(k)).toBeUndefined();
  });

  it('takes over the lock of a dead process on this host before its lease ends', async () => {
    const child = spawn(process.execPath, ['-e', '']);
    await new Promise((r) => child.once('exit', r));
    const deadPid = child.pid!;
    const { log, lines } = captureLogger();
    const m = new DynamoLockManager({ client, tableName: LOCKS, logger: log });
    const k = `${KEY}#dead`;
    const { DynamoDBDocumentClient, PutCommand } = await import('@aws-sdk/lib-dynamodb');
    const until = Date.now() + 60_000;
    await DynamoDBDocumentClient.from(client).send(
      new PutCommand({
        TableName: LOCKS,
        Item: { pk: k, owner: 'killed run', token: 'dead-token', pid: deadPid, host: HOST, acquired_at: '', lease_expires_ms: until, expires_at: Math.ceil(until / 1000) },
      }),
    );
    const lock = await m.acquire(k, { waitMs: 0, leaseMs: 5_000, owner: 'rescuer' });
    expect((await m.holder(k))).toMatchObject({ owner: 'rescuer', pid: process.pid });
    expect(lines.find((l) => l.event === 'lock_takeover')).toMatchObject({ reason: 'dead_pid', owner: 'rescuer' });
    await lock.release();
  });
});
