/**
 * Partition locks (ARCHITECTURE.md, Pipeline operation): one lock per
 * (project, version, dataset, partition range); a second concurrent run waits
 * up to `waitMs`, then fails with LockBusyError (exit 3). It never double-writes.
 *
 * A lock is a lease: the holder renews it every leaseMs/3 (heartbeat). A lease
 * that expired, or whose holder process is dead on this host, is taken over.
 * Implementations: FileLockManager (lock-file.ts), DynamoLockManager (lock-dynamo.ts).
 */
import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { LockBusyError } from '../errors/index.ts';
import type { Logger } from '../log/logger.ts';

export { LockBusyError };

export interface AcquireOptions {
  /** How long to wait for a held lock before throwing LockBusyError (0: try once). */
  waitMs: number;
  /** Lease length; the heartbeat renews it every leaseMs/3. */
  leaseMs: number;
  /** Who holds it (shown to a waiting run), e.g. `nightly run 20261125T0300Z`. */
  owner: string;
}

export interface Lock {
  readonly key: string;
  readonly owner: string;
  /** Current lease end, epoch ms (moves forward with each heartbeat). */
  readonly expiresAt: number;
  /** True once a heartbeat found the lock taken over or gone: stop writing. */
  readonly lost: boolean;
  /** Stop the heartbeat and delete the lock if still ours. Idempotent. */
  release(): Promise<void>;
}

export interface LockManager {
  readonly description: string;
  acquire(key: string, opts: AcquireOptions): Promise<Lock>;
}

/** What is stored for a held lock. */
export interface LockHolder {
  key: string;
  owner: string;
  pid: number;
  host: string;
  /** Unique per acquisition: tells our lock from a later holder's. */
  token: string;
  acquired_at: string;
  /** Lease end, epoch ms. */
  expires_at: number;
}

/** The dataset and range parts of a key, e.g. `fg_a` and `dt=2026-11-24`, or `fg_b` and `reference_date=2026-11-01`. */
export interface LockSpec {
  dataset: string;
  range: string;
}

/** Default lease; the heartbeat renews it every third of it, so only a stalled or dead holder loses it. */
export const LEASE_MS = 120_000;

/** The conventional key: `<project>#<version>#<dataset>#<partition or range>`. */
export const lockKey = (project: string, version: string, dataset: string, partition: string) => `${project}#${version}#${dataset}#${partition}`;

export const HOST = hostname();

/** Is `pid` a live process on this host? (Zombies count as dead.) */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // /proc/<pid>/stat: "pid (comm) S ..."; state Z = zombie (killed, not yet reaped)
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return true; // no /proc (macOS): trust kill(0)
  }
}

/** Why a holder may be taken over, or undefined if it is live. */
export function staleReason(holder: LockHolder, now = Date.now()): 'expired' | 'dead_pid' | undefined {
  if (!(holder.expires_at >= now)) return 'expired';
  if (holder.host === HOST && !pidAlive(holder.pid)) return 'dead_pid';
  return undefined;
}

export function describeHolder(h: LockHolder): string {
  const until = Number.isFinite(h.expires_at) ? new Date(h.expires_at).toISOString() : String(h.expires_at);
  return `${h.owner} (pid ${h.pid} on ${h.host}, lease until ${until})`;
}

export function busyError(key: string, holder: LockHolder | undefined, waitMs: number): LockBusyError {
  return new LockBusyError(`lock ${key} is held by ${holder ? describeHolder(holder) : 'another run'}; gave up after waiting ${waitMs} ms`);
}

/**
 * Take every key, in sorted order so that two holders of overlapping sets
 * cannot deadlock; all or none: on failure the ones taken are released and
 * the error (LockBusyError when one stays busy) is rethrown.
 */
export async function acquireAll(manager: LockManager, keys: Iterable<string>, opts: AcquireOptions): Promise<Lock[]> {
  const taken: Lock[] = [];
  try {
    for (const key of [...new Set(keys)].sort()) taken.push(await manager.acquire(key, opts));
  } catch (e) {
    await releaseAll(taken);
    throw e;
  }
  return taken;
}

/** Release each lock; a failed release is reported to `onError` and does not stop the others (the lease expires anyway). */
export async function releaseAll(locks: Iterable<Lock>, onError: (lock: Lock, e: unknown) => void = () => {}): Promise<void> {
  for (const l of locks) await l.release().catch((e) => onError(l, e));
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

/** Poll interval while waiting: a tenth of the wait, 20..500 ms, with jitter. */
export const pollDelay = (waitMs: number) => Math.min(500, Math.max(20, waitMs / 10)) * (0.75 + Math.random() * 0.5);

/**
 * A held lease with a heartbeat. Subclasses implement one renewal and one
 * release; renew returns false when the lock is no longer ours.
 */
export abstract class HeartbeatLock implements Lock {
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private released = false;
  private _lost = false;
  protected _expiresAt: number;

  constructor(
    readonly key: string,
    readonly owner: string,
    readonly token: string,
    protected readonly leaseMs: number,
    expiresAt: number,
    protected readonly logger?: Logger,
  ) {
    this._expiresAt = expiresAt;
    const every = Math.max(10, Math.floor(leaseMs / 3));
    this.timer = setInterval(() => this.beat(), every);
    this.timer.unref(); // a forgotten lock must not keep the process alive
  }

  get expiresAt() {
    return this._expiresAt;
  }
  get lost() {
    return this._lost;
  }

  /** Renew the lease to now + leaseMs; false if the lock is no longer ours. */
  protected abstract renew(newExpiresAt: number): Promise<boolean | 'skip'>;
  /** Delete the lock if it is still ours. */
  protected abstract remove(): Promise<void>;

  private beat() {
    if (this.inFlight || this.released || this._lost) return;
    this.inFlight = (async () => {
      try {
        if (Date.now() > this._expiresAt) {
          // Our own lease ran out before we could renew (process paused?): someone may hold it now.
          return this.markLost('lease expired before renewal');
        }
        const next = Date.now() + this.leaseMs;
        const ok = await this.renew(next);
        if (ok === true) this._expiresAt = next;
        else if (ok === false) this.markLost('taken over or removed');
      } catch (e) {
        this.logger?.warn('lock_heartbeat_failed', { lock: this.key, error: e });
      } finally {
        this.inFlight = undefined;
      }
    })();
  }

  private markLost(why: string) {
    this._lost = true;
    this.stopTimer();
    this.logger?.error('lock_lost', { lock: this.key, owner: this.owner, msg: why });
  }

  private stopTimer() {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.stopTimer();
    await this.inFlight;
    if (!this._lost) await this.remove();
  }
}
