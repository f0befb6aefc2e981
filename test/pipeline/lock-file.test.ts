import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXIT, LockBusyError } from '../../src/errors/index.ts';
import { Logger } from '../../src/log/logger.ts';
import { FileLockManager, lockFileName } from '../../src/pipeline/lock-file.ts';
import { HOST, lockKey, pidAlive, type LockHolder } from '../../src/pipeline/lock.ts';

const LOCK_MODULE = resolve('src/pipeline/lock-file.ts');
const dirs: string[] = [];
const children: ChildProcess[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'ndr-lock-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

/** A logger whose json lines are collected. */
function captureLogger() {
  const lines: Record<string, unknown>[] = [];
  const log = new Logger({ format: 'json', level: 'debug', stdout: { write: (s: string) => lines.push(JSON.parse(s)) }, stderr: { write: () => true } });
  return { log, lines };
}

const KEY = lockKey('acme', 'v1', 'delta', 'delta/feature_spec_version=v1/dt=2026-11-24/hh=00/mm=00..hh=23/mm=45');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('FileLockManager', () => {
  it('creates a lock file with owner, pid, host and lease under <warehouse>/_locks, and removes it on release', async () => {
    const wh = tmp();
    const m = new FileLockManager(wh);
    const t0 = Date.now();
    const lock = await m.acquire(KEY, { waitMs: 0, leaseMs: 10_000, owner: 'nightly A' });
    const path = join(wh, '_locks', lockFileName(KEY));
    const body = JSON.parse(readFileSync(path, 'utf8')) as LockHolder;
    expect(body).toMatchObject({ key: KEY, owner: 'nightly A', pid: process.pid, host: HOST });
    expect(body.expires_at).toBeGreaterThanOrEqual(t0 + 10_000);
    expect(lockFileName(KEY)).toMatch(/^acme_v1_delta_delta_feature_spec_version=v1_dt=2026-11-24_hh=00_mm=00\.\.hh=23_mm=45\.[0-9a-f]{12}\.lock$/);
    await lock.release();
    expect(existsSync(path)).toBe(false);
    await lock.release(); // idempotent
    expect(readdirSync(join(wh, '_locks'))).toEqual([]);
  });

  it('a second acquirer in the same process waits waitMs, then fails with LockBusyError (exit 3) naming the holder', async () => {
    const m = new FileLockManager(tmp());
    const a = await m.acquire(KEY, { waitMs: 0, leaseMs: 10_000, owner: 'run A' });
    const t0 = Date.now();
    const err = await m.acquire(KEY, { waitMs: 400, leaseMs: 10_000, owner: 'run B' }).catch((e) => e);
    const waited = Date.now() - t0;
    expect(err).toBeInstanceOf(LockBusyError);
    expect(err.exitCode).toBe(EXIT.notReady);
    expect(err.message).toContain(`lock ${KEY} is held by run A (pid ${process.pid} on ${HOST}, lease until `);
    expect(err.message).toContain('gave up after waiting 400 ms');
    expect(waited).toBeGreaterThanOrEqual(390);
    expect(waited).toBeLessThan(3000);

    // a waiter gets the lock as soon as the holder releases it
    setTimeout(() => void a.release(), 200);
    const b = await m.acquire(KEY, { waitMs: 5_000, leaseMs: 10_000, owner: 'run B' });
    expect(b.owner).toBe('run B');
    expect((await m.holder(KEY))?.owner).toBe('run B');
    await b.release();
  });

  it('different keys do not block each other', async () => {
    const m = new FileLockManager(tmp());
    const a = await m.acquire(`${KEY}#1`, { waitMs: 0, leaseMs: 5_000, owner: 'a' });
    const b = await m.acquire(`${KEY}#2`, { waitMs: 0, leaseMs: 5_000, owner: 'b' });
    await Promise.all([a.release(), b.release()]);
  });

  it('takes over an expired lease and logs it', async () => {
    const wh = tmp();
    const { log, lines } = captureLogger();
    const m = new FileLockManager(wh, { logger: log });
    mkdirSync(join(wh, '_locks'), { recursive: true });
    const ghost: LockHolder = { key: KEY, owner: 'crashed run', pid: process.pid, host: 'other-host', token: 'ghost', acquired_at: '2026-11-24T00:00:00Z', expires_at: Date.now() - 1000 };
    writeFileSync(m.pathFor(KEY), JSON.stringify(ghost));
    const lock = await m.acquire(KEY, { waitMs: 0, leaseMs: 5_000, owner: 'new run' });
    expect((await m.holder(KEY))?.owner).toBe('new run');
    const takeover = lines.find((l) => l.event === 'lock_takeover');
    expect(takeover).toMatchObject({ level: 'warn', lock: KEY, owner: 'new run', reason: 'expired' });
    expect(String(takeover?.previous)).toContain('crashed run (pid');
    await lock.release();
  });

  it('the heartbeat keeps a held lock alive well past leaseMs', async () => {
    const m = new FileLockManager(tmp());
    const lock = await m.acquire(KEY, { waitMs: 0, leaseMs: 1000, owner: 'long run' });
    const firstExpiry = lock.expiresAt;
    await sleep(2500); // 2.5 leases without a release
    expect(lock.lost).toBe(false);
    expect(lock.expiresAt).toBeGreaterThan(firstExpiry + 1000);
    expect((await m.holder(KEY))!.expires_at).toBeGreaterThan(Date.now());
    const err = await m.acquire(KEY, { waitMs: 100, leaseMs: 1000, owner: 'intruder' }).catch((e) => e);
    expect(err).toBeInstanceOf(LockBusyError);
    expect(err.message).toContain('held by long run');
    await lock.release();
    const next = await m.acquire(KEY, { waitMs: 0, leaseMs: 1000, owner: 'next' });
    await next.release();
  });

  it('a holder whose lock was taken over notices on its next heartbeat and does not delete the new lock', async () => {
    const { log, lines } = captureLogger();
    const m = new FileLockManager(tmp(), { logger: log });
    const lock = await m.acquire(KEY, { waitMs: 0, leaseMs: 300, owner: 'paused run' });
    const other: LockHolder = { key: KEY, owner: 'other', pid: process.pid, host: HOST, token: 'other-token', acquired_at: new Date().toISOString(), expires_at: Date.now() + 60_000 };
    writeFileSync(m.pathFor(KEY), JSON.stringify(other));
    await sleep(400);
    expect(lock.lost).toBe(true);
    expect(lines.some((l) => l.event === 'lock_lost' && l.lock === KEY)).toBe(true);
    await lock.release();
    expect((await m.holder(KEY))?.token).toBe('other-token');
  });

  it('a lock held by a child process blocks the parent; after kill -9 the dead pid is taken over', async () => {
    const wh = tmp();
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        `import { FileLockManager } from ${JSON.stringify(LOCK_MODULE)};
         const m = new FileLockManager(${JSON.stringify(wh)});
         await m.acquire(${JSON.stringify(KEY)}, { waitMs: 0, leaseMs: 60000, owner: 'child run' });
         console.log('locked');
         setInterval(() => {}, 1000);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(child);
    const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_code, signal) => r(signal)));
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d) => {
        out += d;
        if (out.includes('locked')) resolve();
      });
      void exited.then(() => reject(new Error(`child exited before locking: ${out}`)));
    });

    const { log, lines } = captureLogger();
    const m = new FileLockManager(wh, { logger: log });
    const err = await m.acquire(KEY, { waitMs: 500, leaseMs: 5_000, owner: 'parent run' }).catch((e) => e);
    expect(err).toBeInstanceOf(LockBusyError);
    expect(err.message).toContain(`held by child run (pid ${child.pid} on ${HOST}`);
    expect(pidAlive(child.pid!)).toBe(true);

    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect(pidAlive(child.pid!)).toBe(false);
    // the child's 60 s lease has not expired: only the dead pid makes it stale
    expect((await m.holder(KEY))!.expires_at).toBeGreaterThan(Date.now() + 30_000);

    const t0 = Date.now();
    const lock = await m.acquire(KEY, { waitMs: 0, leaseMs: 5_000, owner: 'parent run' });
    expect(Date.now() - t0).toBeLessThan(1000);
    expect((await m.holder(KEY))).toMatchObject({ owner: 'parent run', pid: process.pid });
    expect(lines.find((l) => l.event === 'lock_takeover')).toMatchObject({ reason: 'dead_pid', owner: 'parent run' });
    expect(String(lines.find((l) => l.event === 'lock_takeover')?.previous)).toContain(`child run (pid ${child.pid}`);
    await lock.release();
  }, 60_000);

  it('concurrent acquirers of a stale lock: exactly one wins', async () => {
    const wh = tmp();
    const managers = Array.from({ length: 6 }, () => new FileLockManager(wh));
    mkdirSync(join(wh, '_locks'), { recursive: true });
    writeFileSync(managers[0].pathFor(KEY), JSON.stringify({ key: KEY, owner: 'dead', pid: 999_999_999, host: HOST, token: 't', acquired_at: '', expires_at: Date.now() + 60_000 }));
    const results = await Promise.allSettled(managers.map((m, i) => m.acquire(KEY, { waitMs: 300, leaseMs: 10_000, owner: `w${i}` })));
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason instanceof LockBusyError)).toBe(true);
    await (won[0] as PromiseFulfilledResult<{ release(): Promise<void> }>).value.release();
  });

  it('refuses an s3:// warehouse', () => {
    expect(() => new FileLockManager('s3://bucket/wh')).toThrow('file locks need a local warehouse');
  });
});
