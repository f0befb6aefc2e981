/**
 * The DynamoDB ledger: table from env NDR_LEDGER_TABLE_NAME (default
 * `ndr_sql_ledger`), PK `pk` = `<project>#<version>#<dataset>`, SK `partition`
 * (the warehouse partition path). Each record is one atomic UpdateItem that
 * applies the same merge rules as the local ledger (attempts incremented
 * server-side, so concurrent writers never lose a count).
 */
import type { DynamoDBClient, DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient, QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { dynamoDocSdk, dynamoSdk } from '../aws/sdk.ts';
import { DAG } from './dag.ts';
import {
  LEDGER_STATUSES,
  compareEntries,
  matchesFilter,
  partitionTimeMs,
  type Ledger,
  type LedgerEntry,
  type LedgerFilter,
  type LedgerKey,
  type LedgerRecordInput,
} from './ledger.ts';
import { withRetry } from './retry.ts';

export const DEFAULT_LEDGER_TABLE = 'ndr_sql_ledger';
export const ledgerTableName = (env: NodeJS.ProcessEnv = process.env) => env.NDR_LEDGER_TABLE_NAME || DEFAULT_LEDGER_TABLE;

export interface DynamoOptions {
  /** A client to reuse (tests pass one pointed at dynalite). */
  client?: DynamoDBClient;
  region?: string;
  endpoint?: string;
  tableName?: string;
}

/** A DynamoDB client from explicit region/endpoint (else the SDK's default chain). */
export function makeDynamoClient(opts: Pick<DynamoOptions, 'region' | 'endpoint'> = {}): DynamoDBClient {
  const config: DynamoDBClientConfig = {};
  if (opts.region) config.region = opts.region;
  if (opts.endpoint) config.endpoint = opts.endpoint;
  return new (dynamoSdk().DynamoDBClient)(config);
}

/** A document client (native JS values; undefined attributes dropped). */
export const dynamoDocClient = (client: DynamoDBClient) =>
  dynamoDocSdk().DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false } });

/** Retry throttling/5xx/timeouts on every DynamoDB call. */
export const ddbRetry = <T>(fn: () => Promise<T>) => withRetry(fn, { attempts: 6, baseMs: 50, maxMs: 2000 });

/** Create a table keyed (pk S [, sk S]) on demand, if absent, and wait until it is ACTIVE. */
export async function ensureTable(client: DynamoDBClient, tableName: string, sortKey?: string): Promise<void> {
  try {
    await client.send(
      new (dynamoSdk().CreateTableCommand)({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, ...(sortKey ? [{ AttributeName: sortKey, AttributeType: 'S' as const }] : [])],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, ...(sortKey ? [{ AttributeName: sortKey, KeyType: 'RANGE' as const }] : [])],
      }),
    );
  } catch (e) {
    if ((e as Error).name !== 'ResourceInUseException') throw e;
  }
  for (let i = 0; i < 600; i++) {
    const d = await client.send(new (dynamoSdk().DescribeTableCommand)({ TableName: tableName }));
    if (d.Table?.TableStatus === 'ACTIVE') return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`DynamoDB table ${tableName} did not become ACTIVE`);
}

/** Create the ledger table (pk, partition) if it does not exist. */
export async function createLedgerTable(client: DynamoDBClient, tableName = ledgerTableName()): Promise<void> {
  await ensureTable(client, tableName, 'partition');
}

export const ledgerPk = (project: string, version: string, dataset: string) => `${project}#${version}#${dataset}`;

type Item = Record<string, unknown>;

function fromItem(it: Item): LedgerEntry {
  const m = it.manifest as { partition?: string; run_id?: string } | null | undefined;
  const n = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    project: String(it.project),
    version: String(it.version),
    dataset: String(it.dataset),
    partition: String(it.partition),
    status: it.status as LedgerEntry['status'],
    attempts: Number(it.attempts ?? 0),
    last_error: (it.last_error as string | null | undefined) ?? null,
    manifest: m && m.partition ? { partition: m.partition, run_id: String(m.run_id ?? '') } : null,
    started_at: (it.started_at as string | null | undefined) ?? null,
    finished_at: (it.finished_at as string | null | undefined) ?? null,
    rows: n(it.rows),
    seconds: n(it.seconds),
    partition_ms: n(it.partition_ms),
    updated_at: String(it.updated_at ?? ''),
  };
}

export interface DynamoLedgerOptions extends DynamoOptions {
  /** Datasets a `list` without `dataset` queries (default: every built step of the DAG). */
  datasets?: string[];
}

export class DynamoLedger implements Ledger {
  readonly tableName: string;
  readonly client: DynamoDBClient;
  private readonly doc: DynamoDBDocumentClient;
  private readonly datasets: string[];
  private readonly ownsClient: boolean;

  constructor(opts: DynamoLedgerOptions = {}) {
    this.tableName = opts.tableName ?? ledgerTableName();
    this.ownsClient = !opts.client;
    this.client = opts.client ?? makeDynamoClient(opts);
    this.doc = dynamoDocClient(this.client);
    this.datasets = opts.datasets ?? DAG.filter((s) => !s.source).map((s) => s.name);
  }

  get description() {
    return `ledger table ${this.tableName}`;
  }

  async record(input: LedgerRecordInput): Promise<LedgerEntry> {
    if (!(LEDGER_STATUSES as readonly string[]).includes(input.status)) throw new Error(`invalid ledger status ${JSON.stringify(input.status)}`);
    const now = new Date().toISOString();
    const running = input.status === 'running';
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const sets: string[] = [];
    let i = 0;
    const set = (attr: string, value: unknown, expr?: (name: string, val: string) => string) => {
      const n = `#a${i}`;
      const v = `:v${i}`;
      i++;
      names[n] = attr;
      values[v] = value;
      sets.push(expr ? expr(n, v) : `${n} = ${v}`);
    };
    set('project', input.project);
    set('version', input.version);
    set('dataset', input.dataset);
    set('status', input.status);
    set('partition_ms', partitionTimeMs(input.partition));
    set('updated_at', now);
    set('rows', input.rows ?? null);
    set('seconds', input.seconds ?? null);
    // mergeLedgerEntry's rules, expressed server-side:
    if (input.attempts !== undefined) set('attempts', input.attempts);
    else if (running) {
      values[':zero'] = 0;
      set('attempts', 1, (n, v) => `${n} = if_not_exists(${n}, :zero) + ${v}`);
    } else set('attempts', input.status === 'missing_input' ? 0 : 1, (n, v) => `${n} = if_not_exists(${n}, ${v})`);
    if (input.last_error !== undefined) set('last_error', input.last_error);
    else if (input.status === 'committed') set('last_error', null);
    if (input.manifest !== undefined) set('manifest', input.manifest);
    if (input.started_at !== undefined) set('started_at', input.started_at);
    else if (running) set('started_at', now);
    set('finished_at', input.finished_at !== undefined ? input.finished_at : running ? null : now);

    const out = await ddbRetry(() =>
      this.doc.send(
        new (dynamoDocSdk().UpdateCommand)({
          TableName: this.tableName,
          Key: { pk: ledgerPk(input.project, input.version, input.dataset), partition: input.partition },
          UpdateExpression: `SET ${sets.join(', ')}`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      ),
    );
    return fromItem(out.Attributes as Item);
  }

  async get(key: LedgerKey): Promise<LedgerEntry | undefined> {
    const out = await ddbRetry(() =>
      this.doc.send(
        new (dynamoDocSdk().GetCommand)({
          TableName: this.tableName,
          Key: { pk: ledgerPk(key.project, key.version, key.dataset), partition: key.partition },
          ConsistentRead: true,
        }),
      ),
    );
    return out.Item ? fromItem(out.Item) : undefined;
  }

  async list(filter: LedgerFilter): Promise<LedgerEntry[]> {
    const datasets = filter.dataset !== undefined ? [filter.dataset] : this.datasets;
    const out: LedgerEntry[] = [];
    for (const dataset of datasets) {
      const input: QueryCommandInput = {
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': ledgerPk(filter.project, filter.version, dataset) },
        ConsistentRead: true,
      };
      const conds: string[] = [];
      const values = input.ExpressionAttributeValues!;
      if (filter.fromMs !== undefined) {
        conds.push('partition_ms >= :from_ms');
        values[':from_ms'] = filter.fromMs;
      }
      if (filter.toMs !== undefined) {
        conds.push('partition_ms < :to_ms');
        values[':to_ms'] = filter.toMs;
      }
      if (filter.status !== undefined) {
        conds.push('#status = :status');
        values[':status'] = filter.status;
        input.ExpressionAttributeNames = { '#status': 'status' };
      }
      if (conds.length) input.FilterExpression = conds.join(' AND ');
      let start: Record<string, unknown> | undefined;
      do {
        const page = await ddbRetry(() => this.doc.send(new (dynamoDocSdk().QueryCommand)({ ...input, ExclusiveStartKey: start })));
        for (const it of page.Items ?? []) out.push(fromItem(it));
        start = page.LastEvaluatedKey;
      } while (start);
    }
    return out.filter((e) => matchesFilter(e, filter)).sort(compareEntries);
  }

  async close(): Promise<void> {
    if (this.ownsClient) this.client.destroy();
  }
}
