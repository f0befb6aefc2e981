/**
 * DynamoDB locks: table from env NDR_LOCK_TABLE_NAME (default `ndr_sql_locks`),
 * key `pk` = the lock key. Item: owner, token, pid, host, acquired_at,
 * `lease_expires_ms` (the lease, ms precision) and `expires_at` (the same
 * instant in whole epoch seconds: the table's TTL attribute, so abandoned
 * locks are eventually deleted by DynamoDB).
 *
 * - acquire: conditional PutItem `attribute_not_exists(pk) OR lease_expires_ms < :now`
 *   (and, for a holder whose pid is dead on this host, `token = :stale`);
 * - heartbeat: conditional UpdateItem on owner and token;
 * - release: conditional DeleteItem on token.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { dynamoDocSdk, dynamoSdk } from '../aws/sdk.ts';
import { randomUUID } from 'node:crypto';
import { ConfigError } from '../errors/index.ts';
import type { Logger } from '../log/logger.ts';
import { ddbRetry, dynamoDocClient, ensureTable, makeDynamoClient, type DynamoOptions } from './ledger-dynamo.ts';
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

export const DEFAULT_LOCK_TABLE = 'ndr_sql_locks';
export const lockTableName = (env: NodeJS.ProcessEnv = process.env) => env.NDR_LOCK_TABLE_NAME || DEFAULT_LOCK_TABLE;

const isConditionFailed = (e: unknown) => (e as Error)?.name === 'ConditionalCheckFailedException';
const toSeconds = (ms: number) => Math.ceil(ms / 1000);

/** Create the lock table (pk) if absent and enable TTL on `expires_at` where the server supports it. */
export async function createLockTable(client: DynamoDBClient, tableName = lockTableName()): Promise<void> {
  await ensureTable(client, tableName);
  try {
    await client.send(new (dynamoSdk().UpdateTimeToLiveCommand)({ TableName: tableName, TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true } }));
  } catch (e) {
    const name = (e as Error).name;
    // Already enabled (ValidationException), or a local server without TTL support (dynalite).
    if (name !== 'ValidationException' && name !== 'UnknownOperationException' && !/UnknownOperation/i.test(String((e as Error).message))) throw e;
  }
}

function toHolder(it: Record<string, unknown>): LockHolder {
  return {
    key: String(it.pk),
    owner: String(it.owner),
    pid: Number(it.pid),
    host: String(it.host),
    token: String(it.token),
    acquired_at: String(it.acquired_at),
    expires_at: Number(it.lease_expires_ms ?? Number(it.expires_at) * 1000),
  };
}

class DynamoLock extends HeartbeatLock {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    body: LockHolder,
    leaseMs: number,
    logger?: Logger,
  ) {
    super(body.key, body.owner, body.token, leaseMs, body.expires_at, logger);
  }

  protected async renew(newExpiresAt: number): Promise<boolean> {
    try {
      await ddbRetry(() =>
        this.doc.send(
          new (dynamoDocSdk().UpdateCommand)({
            TableName: this.tableName,
            Key: { pk: this.key },
            UpdateExpression: 'SET lease_expires_ms = :e, expires_at = :s',
            ConditionExpression: '#owner = :owner AND #token = :token',
            ExpressionAttributeNames: { '#owner': 'owner', '#token': 'token' },
            ExpressionAttributeValues: { ':e': newExpiresAt, ':s': toSeconds(newExpiresAt), ':owner': this.owner, ':token': this.token },
          }),
        ),
      );
      return true;
    } catch (e) {
      if (isConditionFailed(e)) return false;
      throw e;
    }
  }

  protected async remove(): Promise<void> {
    try {
      await ddbRetry(() =>
        this.doc.send(
          new (dynamoDocSdk().DeleteCommand)({
            TableName: this.tableName,
            Key: { pk: this.key },
            ConditionExpression: '#token = :token',
            ExpressionAttributeNames: { '#token': 'token' },
            ExpressionAttributeValues: { ':token': this.token },
          }),
        ),
      );
    } catch (e) {
      if (!isConditionFailed(e)) throw e;
      this.logger?.warn('lock_release_skipped', { lock: this.key, msg: 'no longer ours' });
    }
  }
}

export interface DynamoLockManagerOptions extends DynamoOptions {
  logger?: Logger;
}

export class DynamoLockManager implements LockManager {
  readonly tableName: string;
  readonly client: DynamoDBClient;
  private readonly doc: DynamoDBDocumentClient;
  private readonly logger?: Logger;
  private readonly ownsClient: boolean;

  constructor(opts: DynamoLockManagerOptions = {}) {
    this.tableName = opts.tableName ?? lockTableName();
    this.ownsClient = !opts.client;
    this.client = opts.client ?? makeDynamoClient(opts);
    this.doc = dynamoDocClient(this.client);
    this.logger = opts.logger;
  }

  get description() {
    return `lock table ${this.tableName}`;
  }

  async holder(key: string): Promise<LockHolder | undefined> {
    const out = await ddbRetry(() => this.doc.send(new (dynamoDocSdk().GetCommand)({ TableName: this.tableName, Key: { pk: key }, ConsistentRead: true })));
    return out.Item ? toHolder(out.Item) : undefined;
  }

  /** Conditional put; returns the replaced item (if any) on success, or 'busy'. */
  private async tryPut(body: LockHolder, staleToken?: string): Promise<{ old?: LockHolder } | 'busy'> {
    const item = {
      pk: body.key,
      owner: body.owner,
      token: body.token,
      pid: body.pid,
      host: body.host,
      acquired_at: body.acquired_at,
      lease_expires_ms: body.expires_at,
      expires_at: toSeconds(body.expires_at),
    };
    const values: Record<string, unknown> = { ':now': Date.now() };
    let condition = 'attribute_not_exists(pk) OR lease_expires_ms < :now';
    if (staleToken) {
      condition += ' OR #token = :stale';
      values[':stale'] = staleToken;
    }
    try {
      const out = await ddbRetry(() =>
        this.doc.send(
          new (dynamoDocSdk().PutCommand)({
            TableName: this.tableName,
            Item: item,
            ConditionExpression: condition,
            ExpressionAttributeValues: values,
            ...(staleToken ? { ExpressionAttributeNames: { '#token': 'token' } } : {}),
            ReturnValues: 'ALL_OLD',
          }),
        ),
      );
      return { old: out.Attributes ? toHolder(out.Attributes) : undefined };
    } catch (e) {
      if (isConditionFailed(e)) return 'busy';
      throw e;
    }
  }

  async acquire(key: string, opts: AcquireOptions): Promise<Lock> {
    if (!(opts.leaseMs > 0)) throw new ConfigError(`lock lease must be positive, got ${opts.leaseMs}`);
    const deadline = Date.now() + Math.max(0, opts.waitMs);
    let last: LockHolder | undefined;
    const triedDead = new Set<string>();
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
      // Take over a holder whose process is dead on this host, even before its lease ends.
      const deadToken = last && staleReason(last) === 'dead_pid' ? last.token : undefined;
      const put = await this.tryPut(body, deadToken);
      if (put !== 'busy') {
        if (put.old) this.logger?.warn('lock_takeover', { lock: key, owner: opts.owner, reason: staleReason(put.old) ?? 'expired', previous: describeHolder(put.old) });
        return new DynamoLock(this.doc, this.tableName, body, opts.leaseMs, this.logger);
      }
      last = await this.holder(key);
      if (last?.token === body.token) {
        // Our put succeeded but its response was lost and the retry saw our own item: we hold it.
        return new DynamoLock(this.doc, this.tableName, body, opts.leaseMs, this.logger);
      }
      if (last && !triedDead.has(last.token) && staleReason(last) === 'dead_pid') {
        triedDead.add(last.token);
        continue; // retry at once, allowed to replace exactly that dead holder
      }
      const left = deadline - Date.now();
      if (left <= 0) throw busyError(key, last, opts.waitMs);
      await sleep(Math.min(left, pollDelay(opts.waitMs)));
    }
  }

  close(): void {
    if (this.ownsClient) this.client.destroy();
  }
}
