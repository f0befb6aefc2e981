/**
 * Flags every command shares, and turning them into a runtime config, a
 * logger, JobSpecs and a warehouse.
 */
import type { Argv } from 'yargs';
import { resolveRuntime, type RuntimeConfig } from '../config/runtime.ts';
import { loadJobSpecs } from '../config/jobspec-source.ts';
import { openJobSpecSource } from '../config/open-jobspecs.ts';
import type { JobSpecs } from '../config/jobspec-schemas.ts';
import { createLogger, type Logger } from '../log/index.ts';
import { openWarehouse } from '../storage/open.ts';
import type { Warehouse } from '../storage/warehouse.ts';
import { UsageError } from '../errors/index.ts';

export interface CommonArgs {
  warehouse?: string;
  raw?: string;
  rawFormat?: string;
  preset?: string;
  jobspecs?: string;
  project?: string;
  specVersion?: string;
  internalNetworks?: string;
  logFormat?: string;
  debug?: boolean;
  strict?: boolean;
  memoryLimit?: string;
  threads?: number;
  cacheDir?: string;
  s3Endpoint?: string;
  dynamodbEndpoint?: string;
  region?: string;
}

export function withCommonOptions<T>(y: Argv<T>) {
  return y
    .option('warehouse', { type: 'string', describe: 'warehouse root: a directory or s3://bucket/prefix' })
    .option('raw', { type: 'string', describe: 'raw input URI template ({dt},{hh},{mm}) or glob; overrides the JobSpec' })
    .option('raw-format', { type: 'string', choices: ['parquet', 'ndjson', 'zeek_tsv'] })
    .option('preset', { type: 'string', choices: ['paloalto', 'zeek_conn'] })
    .option('jobspecs', { type: 'string', describe: 'JobSpec directory, or dynamodb[:TABLE]' })
    .option('project', { type: 'string' })
    .option('spec-version', { type: 'string', describe: 'feature_spec_version (default v1)' })
    .option('internal-networks', { type: 'string', describe: "host scope: CIDR,CIDR,... or 'all'" })
    .option('log-format', { type: 'string', choices: ['text', 'json'] })
    .option('debug', { type: 'boolean', describe: 'stack traces and debug logs' })
    .option('strict', { type: 'boolean', describe: 'missing optional input fields are errors' })
    .option('memory-limit', { type: 'string', describe: "DuckDB memory_limit, e.g. '1GB'" })
    .option('threads', { type: 'number' })
    .option('cache-dir', { type: 'string' })
    .option('s3-endpoint', { type: 'string' })
    .option('dynamodb-endpoint', { type: 'string' })
    .option('region', { type: 'string' });
}

export function runtimeFrom(a: CommonArgs): RuntimeConfig {
  return resolveRuntime({
    warehouse: a.warehouse,
    raw: a.raw,
    rawFormat: a.rawFormat as RuntimeConfig['rawFormat'],
    preset: a.preset as RuntimeConfig['preset'],
    jobspecs: a.jobspecs,
    project: a.project,
    specVersion: a.specVersion,
    internalNetworks: a.internalNetworks,
    logFormat: a.logFormat as RuntimeConfig['logFormat'],
    debug: a.debug,
    strict: a.strict,
    memoryLimit: a.memoryLimit,
    threads: a.threads,
    cacheDir: a.cacheDir,
    s3Endpoint: a.s3Endpoint,
    dynamodbEndpoint: a.dynamodbEndpoint,
    awsRegion: a.region,
  });
}

export interface Opened {
  runtime: RuntimeConfig;
  log: Logger;
  specs: JobSpecs;
  warehouse: Warehouse;
}

export async function openCommon(a: CommonArgs): Promise<Opened> {
  const runtime = runtimeFrom(a);
  const log = createLogger({ logFormat: runtime.logFormat, debug: runtime.debug, base: { project: runtime.project, version: runtime.specVersion } });
  const specs = await loadJobSpecs(openJobSpecSource(runtime), runtime.project, runtime.specVersion);
  const warehouse = await openWarehouse(runtime);
  return { runtime, log, specs, warehouse };
}

/** `fg-a` and `fg_a` alike (ARCHITECTURE.md conventions). */
export function datasetName<T extends string>(input: string, allowed: readonly T[]): T {
  const name = input.replaceAll('-', '_');
  if (!(allowed as readonly string[]).includes(name)) throw new UsageError(`unknown dataset ${input}; expected one of ${allowed.join(', ')}`);
  return name as T;
}
