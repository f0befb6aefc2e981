/** Shared helpers of the test/aws suites: endpoints, credentials, request counters, temp dirs. */
import { mkdtemp } from 'node:fs/promises';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createS3Client, createDynamoClient } from '../../src/aws/clients.ts';

// The default credential chain starts with env: s3rver knows the key S3RVER; dynalite accepts any.
process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
delete process.env.AWS_PROFILE;
delete process.env.AWS_SESSION_TOKEN;
delete process.env.AWS_ENDPOINT_URL;
delete process.env.AWS_ENDPOINT_URL_S3;
delete process.env.AWS_ENDPOINT_URL_DYNAMODB;
process.env.AWS_EC2_METADATA_DISABLED = 'true';

export function endpoints() {
  const s3 = inject('s3Endpoint');
  const dynamodb = inject('dynamodbEndpoint');
  if (!s3 || !dynamodb) throw new Error('test/setup/aws-servers.ts is not registered as a vitest globalSetup');
  return { s3, dynamodb };
}

export const tmp = (prefix = 'ndr-aws-') => mkdtemp(join(tmpdir(), prefix));

export const uniqueName = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

export interface Counter {
  /** Commands sent, by name without the `Command` suffix (PutObject, GetItem ...). */
  counts: Record<string, number>;
  calls: { command: string; input: Record<string, unknown> }[];
  maxInflight: number;
  count(command: string): number;
  reset(): void;
}

/** Counts commands at the SDK's initialize step (once per command, not per retry). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function countCommands(client: { middlewareStack: any }, hook?: (command: string, input: any) => Promise<void> | void): Counter {
  let inflight = 0;
  const c: Counter = {
    counts: {},
    calls: [],
    maxInflight: 0,
    count: (name) => c.counts[name] ?? 0,
    reset() {
      c.counts = {};
      c.calls = [];
      c.maxInflight = 0;
    },
  };
  client.middlewareStack.add(
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    (next: any, context: any) => async (args: any) => {
      const name = String(context.commandName).replace(/Command$/, '');
      c.counts[name] = (c.counts[name] ?? 0) + 1;
      c.calls.push({ command: name, input: args.input });
      await hook?.(name, args.input);
      inflight++;
      c.maxInflight = Math.max(c.maxInflight, inflight);
      try {
        return await next(args);
      } finally {
        inflight--;
      }
    },
    { step: 'initialize', name: `ndrTestCounter-${randomBytes(3).toString('hex')}` },
  );
  return c;
}

export function s3Client(extra: { maxAttempts?: number; endpoint?: string } = {}) {
  return createS3Client({ s3Endpoint: extra.endpoint ?? endpoints().s3 }, { maxAttempts: extra.maxAttempts });
}

export function dynamoClient() {
  return createDynamoClient({ dynamodbEndpoint: endpoints().dynamodb });
}

export async function newBucket(s3: S3Client, prefix = 'ndr-test') {
  const bucket = uniqueName(prefix);
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

export async function putObject(s3: S3Client, bucket: string, key: string, body: string | Buffer) {
  const r = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  return r.ETag!;
}

/**
 * A real HTTP proxy in front of s3rver that answers the first `failures`
 * requests matching `match` with 503 SlowDown, to exercise retries against a
 * server rather than a client mock.
 */
export async function faultyProxy(target: string, failures: number, match: (method: string, url: string) => boolean) {
  const t = new URL(target);
  const stats = { requests: 0, injected: 0 };
  let left = failures;
  const server: Server = createServer((req, res) => {
    stats.requests++;
    if (left > 0 && match(req.method ?? '', req.url ?? '')) {
      left--;
      stats.injected++;
      req.resume();
      res.writeHead(503, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
      return;
    }
    const up = httpRequest(
      { host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    stats,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
