/**
 * Everything one command run shares: the DuckDB session, the warehouse, the
 * validated JobSpecs, the runtime config, a run id and a logger.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { JobName, JobSpecs } from '../config/jobspec-schemas.ts';
import { canonicalJson, sha256 } from '../config/jobspec-source.ts';
import type { RuntimeConfig } from '../config/runtime.ts';
import { Session } from '../engine/session.ts';
import type { Logger } from '../log/index.ts';
import type { Warehouse } from '../storage/warehouse.ts';
import { installJobSpecParams } from '../transforms/jobspec-params.ts';

export interface RunContext {
  session: Session;
  warehouse: Warehouse;
  specs: JobSpecs;
  runtime: RuntimeConfig;
  runId: string;
  log: Logger;
  engine: { ndr_sql: string; duckdb: string };
  force: boolean;
  /** `ndr-sql plan`: decide what would run, write nothing. */
  dryRun: boolean;
}

const PACKAGE_VERSION: string = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;

/** Run ids sort by time and are unique across hosts: data files are named after them. */
export const newRunId = () =>
  `${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}Z-${randomBytes(4).toString('hex')}`;

export async function openRunContext(args: {
  specs: JobSpecs;
  runtime: RuntimeConfig;
  warehouse: Warehouse;
  log: Logger;
  force?: boolean;
  dryRun?: boolean;
}): Promise<RunContext> {
  const session = await Session.open({
    memoryLimit: args.runtime.memoryLimit,
    threads: args.runtime.threads,
    tempDir: args.runtime.tempDir ?? `${args.runtime.cacheDir}/duckdb-tmp`,
    specVersion: args.specs.version,
  });
  await installJobSpecParams(session, args.specs, { internalNetworks: args.runtime.internalNetworks });
  return {
    session,
    warehouse: args.warehouse,
    specs: args.specs,
    runtime: args.runtime,
    runId: newRunId(),
    log: args.log,
    engine: { ndr_sql: PACKAGE_VERSION, duckdb: await session.duckdbVersion() },
    force: args.force ?? false,
    dryRun: args.dryRun ?? false,
  };
}

/**
 * The JobSpec fingerprint of a dataset: the hashes of the jobs it reads, plus
 * the host-scope override, which changes results as much as a JobSpec edit.
 */
export function jobspecHash(ctx: RunContext, jobs: JobName[]): string {
  return sha256(
    canonicalJson({
      jobs: Object.fromEntries(jobs.map((j) => [j, ctx.specs.hashes[j]])),
      internal_networks: ctx.runtime.internalNetworks ?? null,
    }),
  );
}
