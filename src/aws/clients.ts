/**
 * AWS client factories from the runtime config.
 * - region: config.awsRegion > AWS_REGION > AWS_DEFAULT_REGION > us-east-1;
 * - endpoints: --s3-endpoint / --dynamodb-endpoint, else the SDK reads
 *   AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL itself;
 * - any custom S3 endpoint (s3rver, MinIO ...) gets path-style addressing and
 *   checksums only where the API requires them (third-party servers reject the
 *   aws-chunked trailer checksums the SDK sends by default);
 * - credentials: the SDK default chain, never passed or printed here;
 * - retries: SDK `standard` mode, maxAttempts from resolveMaxAttempts().
 */
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import type { DynamoDBClient, DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { UsageError } from '../errors/index.ts';
import type { RuntimeConfig } from '../config/runtime.ts';
import { displayEndpoint } from './errors.ts';
import { resolveMaxAttempts } from './retry.ts';
import { dynamoDocSdk, dynamoSdk, s3Sdk } from './sdk.ts';

export type AwsConfig = Partial<Pick<RuntimeConfig, 'awsRegion' | 's3Endpoint' | 'dynamodbEndpoint'>>;

export interface AwsClientOptions {
  /** Attempts per request, first included (default: NDR_AWS_MAX_ATTEMPTS, AWS_MAX_ATTEMPTS or 5). */
  maxAttempts?: number;
  /** Socket idle timeout per request, ms (default 120 s). */
  requestTimeoutMs?: number;
  /** TCP connect timeout, ms (default 10 s). */
  connectionTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export function resolveRegion(config: AwsConfig, env: NodeJS.ProcessEnv = process.env): string {
  return config.awsRegion || env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1';
}

function checkEndpoint(flag: string, url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`${flag} ${JSON.stringify(displayEndpoint(url))} is not a URL (expected e.g. http://127.0.0.1:4568)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new UsageError(`${flag} ${displayEndpoint(url)} must be an http:// or https:// URL`);
  return url;
}

/** The Node 20 deprecation notice of the SDK would end up in every cron mail; the engines field says node >=20. */
function quietSdk(env: NodeJS.ProcessEnv) {
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}

function common(config: AwsConfig, opts: AwsClientOptions) {
  const env = opts.env ?? process.env;
  quietSdk(process.env);
  return {
    region: resolveRegion(config, env),
    maxAttempts: resolveMaxAttempts(opts.maxAttempts, env),
    retryMode: 'standard',
    requestHandler: {
      connectionTimeout: opts.connectionTimeoutMs ?? 10_000,
      requestTimeout: opts.requestTimeoutMs ?? 120_000,
    },
  } as const;
}

/** The S3 endpoint in use when it is not AWS's own (flag, or the SDK's env variables). */
export function customS3Endpoint(config: AwsConfig, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return config.s3Endpoint || env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
}

export function createS3Client(config: AwsConfig, opts: AwsClientOptions = {}): S3Client {
  const env = opts.env ?? process.env;
  const custom = customS3Endpoint(config, env);
  const cfg: S3ClientConfig = { ...common(config, opts) };
  if (config.s3Endpoint) cfg.endpoint = checkEndpoint('--s3-endpoint', config.s3Endpoint);
  if (custom) {
    cfg.forcePathStyle = true;
    cfg.requestChecksumCalculation = 'WHEN_REQUIRED';
    cfg.responseChecksumValidation = 'WHEN_REQUIRED';
  }
  return new (s3Sdk().S3Client)(cfg);
}

export function createDynamoClient(config: AwsConfig, opts: AwsClientOptions = {}): DynamoDBClient {
  const cfg: DynamoDBClientConfig = { ...common(config, opts) };
  if (config.dynamodbEndpoint) cfg.endpoint = checkEndpoint('--dynamodb-endpoint', config.dynamodbEndpoint);
  return new (dynamoSdk().DynamoDBClient)(cfg);
}

/** Document client over a base client; it shares the base client's middleware stack. */
export function createDocumentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return dynamoDocSdk().DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
    unmarshallOptions: { wrapNumbers: false },
  });
}
