/** Choose the JobSpec source from config.jobspecs: a directory, `dynamodb` or `dynamodb:TABLE`. */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { UsageError } from '../errors/index.ts';
import { createDynamoClient, type AwsClientOptions } from '../aws/clients.ts';
import { DynamoJobSpecSource, defaultTableName } from './jobspec-dynamodb.ts';
import { LocalJobSpecSource, type JobSpecSource } from './jobspec-source.ts';
import type { RuntimeConfig } from './runtime.ts';

type JobSpecConfig = Pick<RuntimeConfig, 'jobspecs'> & Partial<Pick<RuntimeConfig, 'awsRegion' | 'dynamodbEndpoint'>>;

/** The table named by `dynamodb` / `dynamodb:TABLE`, or undefined for a directory. */
export function dynamoTableOf(jobspecs: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const m = /^dynamodb(?::(.*))?$/i.exec(jobspecs.trim());
  if (!m) return undefined;
  if (m[1] === undefined) return defaultTableName(env);
  if (m[1] === '') throw new UsageError(`--jobspecs ${jobspecs}: expected dynamodb or dynamodb:TABLE`);
  return m[1];
}

export interface OpenJobSpecOptions extends AwsClientOptions {
  /** Reuse a client (tests add counting middleware). */
  dynamo?: DynamoDBClient;
}

export function openJobSpecSource(config: JobSpecConfig, opts: OpenJobSpecOptions = {}): JobSpecSource {
  const table = dynamoTableOf(config.jobspecs, opts.env);
  if (table === undefined) return new LocalJobSpecSource(config.jobspecs);
  return openDynamoJobSpecs(config, table, opts);
}

/** The DynamoDB source even when config.jobspecs is a directory (push/pull/create-table target). */
export function openDynamoJobSpecs(config: JobSpecConfig, table: string | undefined, opts: OpenJobSpecOptions = {}): DynamoJobSpecSource {
  const client = opts.dynamo ?? createDynamoClient(config, opts);
  return new DynamoJobSpecSource({ client, table: table ?? dynamoTableOf(config.jobspecs, opts.env), env: opts.env });
}
