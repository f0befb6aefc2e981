/**
 * vitest globalSetup: real local AWS servers on loopback for the test/aws suites.
 * - s3rver (S3), data in a temp directory, silent, 127.0.0.1, a free port;
 * - dynalite (DynamoDB), in memory, 127.0.0.1, a free port, tables ACTIVE at once.
 * Endpoints reach the tests through provide()/inject('s3Endpoint' | 'dynamodbEndpoint')
 * and, for child processes (e.g. the CLI run through tsx), env NDR_TEST_S3_ENDPOINT /
 * NDR_TEST_DYNAMODB_ENDPOINT. Both servers stop in teardown.
 */
import { createRequire } from 'node:module';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    s3Endpoint: string;
    dynamodbEndpoint: string;
  }
}

const require = createRequire(import.meta.url);

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  httpServer?: Server;
}

export default async function setup(project: TestProject) {
  const S3rver = require('s3rver') as new (opts: Record<string, unknown>) => S3rverInstance;
  const dynalite = require('dynalite') as (opts: Record<string, unknown>) => Server;

  const dir = await mkdtemp(join(tmpdir(), 'ndr-s3rver-'));
  const s3 = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir, resetOnClose: true });
  const s3Addr = await s3.run();

  const dyn = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    dyn.once('error', reject);
    dyn.listen(0, '127.0.0.1', () => resolve());
  });
  const dynAddr = dyn.address() as AddressInfo;

  const s3Endpoint = `http://127.0.0.1:${s3Addr.port}`;
  const dynamodbEndpoint = `http://127.0.0.1:${dynAddr.port}`;
  project.provide('s3Endpoint', s3Endpoint);
  project.provide('dynamodbEndpoint', dynamodbEndpoint);
  process.env.NDR_TEST_S3_ENDPOINT = s3Endpoint;
  process.env.NDR_TEST_DYNAMODB_ENDPOINT = dynamodbEndpoint;

  return async () => {
    s3.httpServer?.closeAllConnections?.();
    await s3.close().catch(() => undefined);
    dyn.closeAllConnections?.();
    await new Promise<void>((resolve) => dyn.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  };
}
