/**
 * AWS SDK errors → our error classes, with one clear line each. Messages never
 * carry credentials, session tokens or signed URLs (they go through `redact`).
 */
import { ConfigError, NdrError, TransientError, UsageError, oneLine } from '../errors/index.ts';
import { isTransientAwsError } from './retry.ts';

export type AwsTarget =
  | { service: 'S3'; op: string; bucket?: string; key?: string }
  | { service: 'DynamoDB'; op: string; table?: string };

interface AwsLikeError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

/** Remove anything that could be a secret from a message or URL. */
export function redact(text: string): string {
  return text
    .replace(/(X-Amz-(?:Signature|Credential|Security-Token)=)[^&\s"']+/gi, '$1<redacted>')
    .replace(/((?:Signature|AWSAccessKeyId|Expires)=)[^&\s"']+/g, '$1<redacted>')
    .replace(/\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g, '<access-key-id>')
    .replace(/(aws_secret_access_key|aws_session_token|secretAccessKey|sessionToken)(["']?\s*[:=]\s*["']?)[^\s"',}]+/gi, '$1$2<redacted>')
    .replace(/(\w+:\/\/)[^/@\s]+@/g, '$1');
}

/** An endpoint URL as it may be shown: no user info, no query. */
export function displayEndpoint(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return redact(url);
  }
}

export function s3Display(bucket?: string, key?: string): string {
  return bucket ? `s3://${bucket}/${key ?? ''}` : 's3://';
}

const tableHint = (table: string) =>
  `DynamoDB table ${table} does not exist; create it with \`ndr-sql jobspec create-table --jobspecs dynamodb:${table}\` or: ` +
  `aws dynamodb create-table --table-name ${table} ` +
  '--attribute-definitions AttributeName=project_name,AttributeType=S AttributeName=job_name_version,AttributeType=S ' +
  '--key-schema AttributeName=project_name,KeyType=HASH AttributeName=job_name_version,KeyType=RANGE ' +
  '--billing-mode PAY_PER_REQUEST';

const ACCESS_DENIED = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'AllAccessDisabled',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'InvalidClientTokenId',
  'AccountProblem',
  'Forbidden',
]);
const EXPIRED = new Set(['ExpiredToken', 'ExpiredTokenException', 'TokenRefreshRequired', 'RequestExpired']);

/** The AWS error name, for callers that branch on it (NoSuchKey, ConditionalCheckFailedException ...). */
export function awsErrorName(err: unknown): string | undefined {
  return err && typeof err === 'object' ? (err as AwsLikeError).name : undefined;
}

export function awsStatus(err: unknown): number | undefined {
  return err && typeof err === 'object' ? (err as AwsLikeError).$metadata?.httpStatusCode : undefined;
}

/** True for "object not found" in any of its spellings (GetObject NoSuchKey, HeadObject 404). */
export function isNoSuchKey(err: unknown): boolean {
  const name = awsErrorName(err);
  return name === 'NoSuchKey' || (name === 'NotFound' && awsStatus(err) === 404);
}

/** Map any error thrown by an AWS call to an NdrError with a one-line message. */
export function mapAwsError(err: unknown, target: AwsTarget): NdrError {
  if (err instanceof NdrError) return err;
  const e = (err && typeof err === 'object' ? err : { message: String(err) }) as AwsLikeError;
  const name = e.name ?? 'Error';
  const status = e.$metadata?.httpStatusCode;
  const attempts = e.$metadata?.attempts;
  const detail = redact(oneLine(e.message && e.message !== 'UnknownError' ? e.message : `HTTP ${status ?? '?'}`));
  const opts = { cause: err };

  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(e.message ?? ''))
    return new ConfigError(
      `no AWS credentials for ${target.service} ${target.op}: the default credential chain (env, shared config/SSO, ` +
        `web identity, container or instance role) found none; set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY`,
      opts,
    );
  if (EXPIRED.has(name)) return new ConfigError(`AWS credentials expired (${name}) for ${target.service} ${target.op}; refresh them and retry`, opts);

  if (target.service === 'S3') {
    const where = s3Display(target.bucket, target.key);
    if (name === 'NoSuchBucket' || (name === 'NotFound' && status === 404 && target.op === 'HeadBucket'))
      return new ConfigError(`bucket ${target.bucket} does not exist`, opts);
    if (ACCESS_DENIED.has(name) || status === 403) return new ConfigError(`access denied to ${where} (${name})`, opts);
    if (name === 'InvalidBucketName') return new UsageError(`invalid bucket name ${JSON.stringify(target.bucket)}`, opts);
    if (name === 'NoSuchKey' || (name === 'NotFound' && status === 404)) return new ConfigError(`object ${where} does not exist`, opts);
    if (isTransientAwsError(err))
      return new TransientError(`S3 ${target.op} ${where} failed${attempts ? ` after ${attempts} attempt(s)` : ''}: ${name}: ${detail}`, opts);
    return new NdrError(`S3 ${target.op} ${where} failed: ${name}: ${detail}`, opts);
  }

  const table = target.table ?? '?';
  if (name === 'ResourceNotFoundException') return new ConfigError(tableHint(table), opts);
  if (ACCESS_DENIED.has(name) || status === 403) return new ConfigError(`access denied to DynamoDB table ${table} (${name}): ${detail}`, opts);
  if (isTransientAwsError(err))
    return new TransientError(
      `DynamoDB ${target.op} on table ${table} failed${attempts ? ` after ${attempts} attempt(s)` : ''}: ${name}: ${detail}`,
      opts,
    );
  return new NdrError(`DynamoDB ${target.op} on table ${table} failed: ${name}: ${detail}`, opts);
}

/** Await an AWS call and map its failure. */
export async function awsCall<T>(target: AwsTarget, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw mapAwsError(err, target);
  }
}
