/**
 * JobSpecs in DynamoDB (ARCHITECTURE.md Configuration; seed bug classes 2 and 9):
 * table from env ML_PROJECTS_PARAMETERS_TABLE_NAME (default ml_projects_parameters)
 * or explicit; PK `project_name`, SK `job_name_version` = `<job>#<version>`,
 * payload in attribute `spec` (a map). Writes also keep `spec_sha256` (hash of
 * the canonical payload) so that a forced overwrite is conditioned on the
 * content it replaces, and `updated_at`.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { dynamoDocSdk, dynamoSdk } from '../aws/sdk.ts';
import { ConfigError, UsageError } from '../errors/index.ts';
import { awsCall, awsErrorName, mapAwsError } from '../aws/errors.ts';
import { createDocumentClient } from '../aws/clients.ts';
import { canonicalJson, jobKey, sha256, type JobSpecSource } from './jobspec-source.ts';
import type { JobName } from './jobspec-schemas.ts';

export const TABLE_ENV = 'ML_PROJECTS_PARAMETERS_TABLE_NAME';
export const DEFAULT_TABLE = 'ml_projects_parameters';
export const PK = 'project_name';
export const SK = 'job_name_version';
export const SPEC_ATTR = 'spec';
export const HASH_ATTR = 'spec_sha256';

export function defaultTableName(env: NodeJS.ProcessEnv = process.env): string {
  return env[TABLE_ENV] || DEFAULT_TABLE;
}

export function checkTableName(table: string): string {
  if (!/^[a-zA-Z0-9_.-]{3,255}$/.test(table))
    throw new UsageError(`DynamoDB table name ${JSON.stringify(table)} is invalid: 3 to 255 characters of a-z A-Z 0-9 _ . -`);
  return table;
}

export const specHash = (payload: unknown) => sha256(canonicalJson(payload));

/** One difference between two JSON values, by dotted path (array items as [i]). */
export interface JsonChange {
  path: string;
  kind: 'added' | 'removed' | 'changed';
  before?: unknown;
  after?: unknown;
}

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** Changed paths from `before` to `after` (key order ignored, undefined = absent). */
export function diffJson(before: unknown, after: unknown, path = ''): JsonChange[] {
  if (canonicalJson(before) === canonicalJson(after)) return [];
  const at = (k: string) => (path ? `${path}.${k}` : k);
  if (isObj(before) && isObj(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => {
      const b = before[k];
      const a = after[k];
      if (b === undefined && a !== undefined) return [{ path: at(k), kind: 'added' as const, after: a }];
      if (a === undefined && b !== undefined) return [{ path: at(k), kind: 'removed' as const, before: b }];
      return diffJson(b, a, at(k));
    });
  }
  if (Array.isArray(before) && Array.isArray(after) && before.length === after.length)
    return before.flatMap((b, i) => diffJson(b, after[i], `${path}[${i}]`));
  return [{ path: path || '(root)', kind: 'changed', before, after }];
}

export function formatChange(c: JsonChange): string {
  const v = (x: unknown) => {
    const s = JSON.stringify(x);
    return s.length > 120 ? `${s.slice(0, 117)}...` : s;
  };
  if (c.kind === 'added') return `+ ${c.path}: ${v(c.after)}`;
  if (c.kind === 'removed') return `- ${c.path}: ${v(c.before)}`;
  return `~ ${c.path}: ${v(c.before)} -> ${v(c.after)}`;
}

export interface DynamoJobSpecSourceOptions {
  client: DynamoDBClient;
  /** Default: env ML_PROJECTS_PARAMETERS_TABLE_NAME, else ml_projects_parameters. */
  table?: string;
  env?: NodeJS.ProcessEnv;
}

type Item = Record<string, unknown>;
const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export class DynamoJobSpecSource implements JobSpecSource {
  readonly table: string;
  readonly client: DynamoDBClient;
  readonly doc: DynamoDBDocumentClient;

  constructor(opts: DynamoJobSpecSourceOptions) {
    this.table = checkTableName(opts.table ?? defaultTableName(opts.env));
    this.client = opts.client;
    this.doc = createDocumentClient(opts.client);
  }

  get description() {
    return `DynamoDB table ${this.table}`;
  }

  private target(op: string) {
    return { service: 'DynamoDB' as const, op, table: this.table };
  }

  private async getItem(project: string, job: string, version: string): Promise<Item | undefined> {
    const res = await awsCall(this.target('GetItem'), () =>
      this.doc.send(new (dynamoDocSdk().GetCommand)({ TableName: this.table, Key: { [PK]: project, [SK]: jobKey(job, version) }, ConsistentRead: true })),
    );
    return res.Item;
  }

  private payloadOf(item: Item, project: string, key: string): unknown {
    const spec = item[SPEC_ATTR];
    if (spec === undefined) throw new ConfigError(`JobSpec ${project}/${key} (${this.description}) has no attribute ${SPEC_ATTR}`);
    if (typeof spec === 'string') {
      // tolerated: a payload stored as a JSON string instead of a map
      try {
        return JSON.parse(spec);
      } catch (e) {
        throw new ConfigError(`JobSpec ${project}/${key} (${this.description}): attribute ${SPEC_ATTR} is a string but not JSON: ${(e as Error).message}`);
      }
    }
    return spec;
  }

  async get(project: string, job: JobName, version: string) {
    const item = await this.getItem(project, job, version);
    return item === undefined ? undefined : this.payloadOf(item, project, jobKey(job, version));
  }

  private query(project: string, skPrefix?: string): Promise<Item[]> {
    return this.allPages('Query', (start) =>
      this.doc.send(
        new (dynamoDocSdk().QueryCommand)({
          TableName: this.table,
          KeyConditionExpression: skPrefix ? '#pk = :pk AND begins_with(#sk, :prefix)' : '#pk = :pk',
          ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
          ExpressionAttributeValues: skPrefix ? { ':pk': project, ':prefix': skPrefix } : { ':pk': project },
          ProjectionExpression: '#pk, #sk',
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      ),
    );
  }

  private scan(): Promise<Item[]> {
    return this.allPages('Scan', (start) =>
      this.doc.send(
        new (dynamoDocSdk().ScanCommand)({
          TableName: this.table,
          ProjectionExpression: '#pk, #sk',
          ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      ),
    );
  }

  /** Every page of a Query or Scan, each call retried and its errors mapped by awsCall. */
  private async allPages(
    operation: string,
    page: (start: Item | undefined) => Promise<{ Items?: Item[]; LastEvaluatedKey?: Item }>,
  ): Promise<Item[]> {
    const out: Item[] = [];
    let start: Item | undefined;
    do {
      const res = await awsCall(this.target(operation), () => page(start));
      out.push(...(res.Items ?? []));
      start = res.LastEvaluatedKey;
    } while (start);
    return out;
  }

  /** Query `begins_with(job_name_version, '<job>#')`. */
  async listVersions(project: string, job: JobName) {
    const items = await this.query(project, `${job}#`);
    return items.map((i) => String(i[SK]).slice(job.length + 1)).sort();
  }

  /** Query by project, or Scan the table when no project is given. */
  async list(project?: string) {
    const items = project ? await this.query(project) : await this.scan();
    return items
      .map((i) => {
        const sk = String(i[SK]);
        const at = sk.indexOf('#');
        return { project: String(i[PK]), job: at < 0 ? sk : sk.slice(0, at), version: at < 0 ? '' : sk.slice(at + 1) };
      })
      .sort((a, b) => cmp(a.project, b.project) || cmp(a.job, b.job) || cmp(a.version, b.version));
  }

  /**
   * Create with `attribute_not_exists`; identical content → 'unchanged' and no
   * write; changed content needs `force`, and the overwrite is conditioned on
   * the hash of the content it replaces (a concurrent change fails it).
   */
  async put(project: string, job: JobName, version: string, payload: unknown, opts: { force: boolean }) {
    const key = jobKey(job, version);
    const existing = await this.getItem(project, job, version);
    const hash = specHash(payload);
    const item = { [PK]: project, [SK]: key, [SPEC_ATTR]: payload, [HASH_ATTR]: hash, updated_at: new Date().toISOString() };
    if (existing === undefined) {
      await this.conditionalPut(item, 'attribute_not_exists(#pk)', { '#pk': PK }, undefined, `${project}/${key} was created concurrently`);
      return 'created' as const;
    }
    const before = this.payloadOf(existing, project, key);
    if (canonicalJson(before) === canonicalJson(payload)) return 'unchanged' as const;
    if (!opts.force) {
      const changes = diffJson(before, payload);
      throw new ConfigError(
        `${key} of project ${project} exists in ${this.description} with different content ` +
          `(${changes.length} change(s): ${changes.slice(0, 5).map((c) => c.path).join(', ')}${changes.length > 5 ? ', ...' : ''}); use --force to overwrite`,
      );
    }
    const oldHash = typeof existing[HASH_ATTR] === 'string' ? (existing[HASH_ATTR] as string) : undefined;
    if (oldHash)
      await this.conditionalPut(item, '#h = :old', { '#h': HASH_ATTR }, { ':old': oldHash }, `${project}/${key} changed concurrently`);
    else await this.conditionalPut(item, 'attribute_exists(#pk) AND attribute_not_exists(#h)', { '#pk': PK, '#h': HASH_ATTR }, undefined, `${project}/${key} changed concurrently`);
    return 'updated' as const;
  }

  private async conditionalPut(item: Item, condition: string, names: Record<string, string>, values: Record<string, unknown> | undefined, raced: string) {
    try {
      await this.doc.send(
        new (dynamoDocSdk().PutCommand)({ TableName: this.table, Item: item, ConditionExpression: condition, ExpressionAttributeNames: names, ExpressionAttributeValues: values }),
      );
    } catch (e) {
      if (awsErrorName(e) === 'ConditionalCheckFailedException')
        throw new ConfigError(`${raced} in ${this.description} (conditional write refused); nothing was overwritten, re-run to see the new state`);
      throw mapAwsError(e, this.target('PutItem'));
    }
  }

  /** Create the table (on-demand billing) and wait until it is ACTIVE. */
  async createTable(): Promise<'created' | 'exists'> {
    try {
      await this.client.send(
        new (dynamoSdk().CreateTableCommand)({
          TableName: this.table,
          KeySchema: [
            { AttributeName: PK, KeyType: 'HASH' },
            { AttributeName: SK, KeyType: 'RANGE' },
          ],
          AttributeDefinitions: [
            { AttributeName: PK, AttributeType: 'S' },
            { AttributeName: SK, AttributeType: 'S' },
          ],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
    } catch (e) {
      if (awsErrorName(e) === 'ResourceInUseException') {
        await this.waitActive();
        return 'exists';
      }
      throw mapAwsError(e, this.target('CreateTable'));
    }
    await this.waitActive();
    return 'created';
  }

  private async waitActive() {
    await awsCall(this.target('DescribeTable'), async () => {
      await dynamoSdk().waitUntilTableExists({ client: this.client, maxWaitTime: 300, minDelay: 1, maxDelay: 5 }, { TableName: this.table });
      return this.client.send(new (dynamoSdk().DescribeTableCommand)({ TableName: this.table }));
    });
  }
}
