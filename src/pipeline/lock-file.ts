/**
 * Local lock files: `<warehouse>/_locks/<key>.lock`, created with O_EXCL
 * (`wx`), holding JSON {key, owner, pid, host, token, acquired_at, expires_at}.
 *
 * A stale lock (lease expired, or its pid dead on this host) is taken over,
 * and the takeover is logged. Takeover and heartbeat renewal both run under a
 * short-lived `<lock>.guard` file (also O_EXCL), so two processes can never
 * both replace the same stale lock, and a late heartbeat can never overwrite a
 * new holder's file.
 */
import { randomUUID, createHash } from 'node:crypto';
import { readFileSync, unlinkSync } from 'node:fs';
import { mkdir, open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ConfigError } from '../errors/index.ts';
import type { Logger } from '../log/logger.ts';
import {
  HOST,
  HeartbeatLock,
  busyError,
  describeHolder,
  pollDelay,
  sleep,
  staleReason,
  type AcquireOptions,
  type Lock,
  type LockHolder,
  type LockManager,
} from './lock.ts';

export const LOCK_DIR = '_locks';
/** A guard file older than this belongs to a crashed process and is removed. */
const GUARD_STALE_MS = 10_000;
/** A lock file that stays unparsable this long (creator died mid-write) is stale. */
const CORRUPT_STALE_MS = 5_000;

/** Locks held by this process: removed on exit if still ours. */
const heldFiles = new Map<string, string>(); // path -> token
let exitHookInstalled = false;
function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const [path, token] of heldFiles) {
      try {
        if ((JSON.parse(readFileSync(path, 'utf8')) as LockHolder).token === token) unlinkSync(path);
      } catch {
        /* already gone */
      }
    }
  });
}

const code = (e: unknown) => (e as NodeJS.ErrnoException)?.code;

/** A file name for any key: readable prefix + hash (keys hold `/`, `#`, `=`). */
export function lockFileName(key: string): string {
  const slug = key.replace(/[^A-Za-z0-9._=-]+/g, '_').slice(0, 150);
  const hash = createHash('sha256').update(key).digest('hex').slice(0, 12);
  return `${slug}.${hash}.lock`;
}

type ReadResult = { kind: 'held'; holder: LockHolder } | { kind: 'missing' } | { kind: 'corrupt'; ageMs: number };

async function readLock(path: string): Promise<ReadResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if (code(e) === 'ENOENT') return { kind: 'missing' };
    throw e;
  }
  try {
    const h = JSON.parse(text) as LockHolder;
    if (typeof h.token === 'string' && typeof h.expires_at === 'number') return { kind: 'held', holder: h };
  } catch {
    /* fall through */
  }
  const st = await stat(path).catch(() => undefined);
  return st ? { kind: 'corrupt', ageMs: Date.now() - st.mtimeMs } : { kind: 'missing' };
}

/** Create the lock file exclusively; false if it exists. */
async function createExclusive(path: string, body: LockHolder): Promise<boolean> {
  let fh;
  try {
    fh = await open(path, 'wx');
  } catch (e) {
    if (code(e) === 'EEXIST') return false;
    throw e;
  }
  try {
    await fh.writeFile(JSON.stringify(body) + '\n');
    await fh.sync().catch(() => undefined);
  } finally {
    await fh.close();
  }
  return true;
}

/** Run `fn` holding `<path>.guard`; undefined if another process holds the guard right now. */
async function withGuard<T>(path: string, fn: () => Promise<T>): Promise<T | undefined> {
  const guard = `${path}.guard`;
  let fh;
  try {
    fh = await open(guard, 'wx');
  } catch (e) {
    if (code(e) !== 'EEXIST') throw e;
    const st = await stat(guard).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs > GUARD_STALE_MS) await unlink(guard).catch(() => undefined);
    return undefined;
  }
  try {
    await fh.close();
    return await fn();
  } finally {
    await unlink(guard).catch(() => undefined);
  }
}

class FileLock extends HeartbeatLock {
  constructor(
    private readonly path: string,
    private readonly body: LockHolder,
    leaseMs: number,
    logger?: Logger,
  ) {
    super(body.key, body.owner, body.token, leaseMs, body.expires_at, logger);
    heldFiles.set(path, body.token);
    installExitHook();
  }

  protected async renew(newExpiresAt: number): Promise<boolean | 'skip'> {
    const result = await withGuard(this.path, async () => {
      const cur = await readLock(this.path);
      if (cur.kind !== 'held' || cur.holder.token !== this.token) return false;
      const tmp = `${this.path}.${this.token}.tmp`;
      await writeFile(tmp, JSON.stringify({ ...this.body, expires_at: newExpiresAt }) + '\n');
      await rename(tmp, this.path);
      return true;
    });
    return result === undefined ? 'skip' : result;
  }

  override async release(): Promise<void> {
    heldFiles.delete(this.path);
    await super.release();
  }

  protected async remove(): Promise<void> {
    // Under the guard so a concurrent takeover cannot be deleted by mistake; retry briefly if busy.
    for (let i = 0; i < 50; i++) {
      const done = await withGuard(this.path, async () => {
        const cur = await readLock(this.path);
        if (cur.kind === 'held' && cur.holder.token === this.token) await unlink(this.path).catch(() => undefined);
        return true;
      });
      if (done) return;
      await sleep(20);
    }
    this.logger?.warn('lock_release_skipped', { lock: this.key, msg: 'guard busy; the lease will expire' });
  }
}

export interface FileLockManagerOptions {
  logger?: Logger;
}

export class FileLockManager implements LockManager {
  readonly dir: string;
  private readonly logger?: Logger;

  /** Lock files live in `<warehouseRoot>/_locks/`; the root must be a local path. */
  constructor(warehouseRoot: string, opts: FileLockManagerOptions = {}) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(warehouseRoot)) {
      throw new ConfigError(`file locks need a local warehouse, got ${warehouseRoot}; use DynamoDB locks (NDR_LOCK_TABLE_NAME) for ${warehouseRoot.split(':')[0]} warehouses`);
    }
    this.dir = join(resolve(warehouseRoot), LOCK_DIR);
    this.logger = opts.logger;
  }

  get description() {
    return `lock files in ${this.dir}`;
  }

  pathFor(key: string): string {
    return join(this.dir, lockFileName(key));
  }

  /** The current holder of a key, if any (for `status` and tests). */
  async holder(key: string): Promise<LockHolder | undefined> {
    const r = await readLock(this.pathFor(key));
    return r.kind === 'held' ? r.holder : undefined;
  }

  async acquire(key: string, opts: AcquireOptions): Promise<Lock> {
    if (!(opts.leaseMs > 0)) throw new ConfigError(`lock lease must be positive, got ${opts.leaseMs}`);
    await mkdir(this.dir, { recursive: true });
    const path = this.pathFor(key);
    const deadline = Date.now() + Math.max(0, opts.waitMs);
    let last: LockHolder | undefined;
    for (;;) {
      const body: LockHolder = {
        key,
        owner: opts.owner,
        pid: process.pid,
        host: HOST,
        token: randomUUID(),
        acquired_at: new Date().toISOString(),
        expires_at: Date.now() + opts.leaseMs,
      };
      if (await createExclusive(path, body)) return new FileLock(path, body, opts.leaseMs, this.logger);

      const cur = await readLock(path);
      if (cur.kind === 'missing') continue; // released between our create and read: try again now
      if (cur.kind === 'held') {
        last = cur.holder;
        const why = staleReason(cur.holder);
        if (why) {
          const took = await withGuard(path, async () => {
            const again = await readLock(path);
            if (again.kind !== 'held' || again.holder.token !== cur.holder.token) return false; // renewed or replaced meanwhile
            await unlink(path).catch((e) => {
              if (code(e) !== 'ENOENT') throw e;
            });
            body.expires_at = Date.now() + opts.leaseMs;
            return createExclusive(path, body);
          });
          if (took) {
            this.logger?.warn('lock_takeover', { lock: key, owner: opts.owner, reason: why, previous: describeHolder(cur.holder) });
            return new FileLock(path, body, opts.leaseMs, this.logger);
          }
          // renewed, replaced or guard busy: wait like any held lock
        }
      } else if (cur.ageMs > CORRUPT_STALE_MS) {
        const took = await withGuard(path, async () => {
          const again = await readLock(path);
          if (again.kind !== 'corrupt') return false;
          await unlink(path).catch(() => undefined);
          return createExclusive(path, body);
        });
        if (took) {
          this.logger?.warn('lock_takeover', { lock: key, owner: opts.owner, reason: 'unreadable lock file' });
          return new FileLock(path, body, opts.leaseMs, this.logger);
        }
      }
      const left = deadline - Date.now();
      if (left <= 0) throw busyError(key, last, opts.waitMs);
      await sleep(Math.min(left, pollDelay(opts.waitMs)));
    }
  }
}
