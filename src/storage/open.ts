/** Choose the warehouse implementation from the runtime config: `s3://...` or a local path. */
import type { S3Client } from '@aws-sdk/client-s3';
import type { RuntimeConfig } from '../config/runtime.ts';
import { createS3Client, type AwsClientOptions } from '../aws/clients.ts';
import { LocalWarehouse } from './local.ts';
import { S3Warehouse } from './s3.ts';
import { isS3Uri, parseS3Uri } from './s3uri.ts';
import type { Warehouse } from './warehouse.ts';
import { ObjectCache } from './cache.ts';

export interface OpenWarehouseOptions extends AwsClientOptions {
  /** Reuse a client (tests add counting middleware; a run shares one client). */
  s3?: S3Client;
  /** Share the object cache with raw staging. */
  cache?: ObjectCache;
}

type WarehouseConfig = Pick<RuntimeConfig, 'warehouse' | 'cacheDir' | 'cacheMaxBytes'> &
  Partial<Pick<RuntimeConfig, 'awsRegion' | 's3Endpoint' | 'dynamodbEndpoint'>>;

export function openWarehouse(config: WarehouseConfig, opts: OpenWarehouseOptions = {}): Warehouse {
  if (!isS3Uri(config.warehouse)) return new LocalWarehouse(config.warehouse);
  const uri = parseS3Uri(config.warehouse, 'warehouse');
  const s3 = opts.s3 ?? createS3Client(config, opts);
  return new S3Warehouse(uri, { s3, cacheDir: config.cacheDir, cacheMaxBytes: config.cacheMaxBytes, cache: opts.cache });
}

/** One S3 client and object cache for a run (warehouse reads and raw staging share them). */
export function openS3Access(config: WarehouseConfig, opts: AwsClientOptions & { s3?: S3Client } = {}) {
  const s3 = opts.s3 ?? createS3Client(config, opts);
  const cache = new ObjectCache(s3, { cacheDir: config.cacheDir, maxBytes: config.cacheMaxBytes, maxAttempts: opts.maxAttempts });
  return { s3, cache };
}
