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
import type { Manifest } from '../storage/manifest.ts';
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
  /**
   * In a dry run, the FG-B publications an earlier step of the same plan would (re)write, so
   * that FG-C plans against the baselines the build would have by then (and a plan without
   * them stops where the build would). Empty outside dry runs.
   */
  plannedBaselines: PlannedBaseline[];
  /**
   * `ndr-sql plan` only: the partitions the plan's earlier steps would (re)write, as stand-in
   * manifests (run_id 'planned'), so that a later step plans against its inputs as the build
   * would find them. Undefined elsewhere: `status` and a run's own dry runs see only what exists.
   */
  plannedPartitions?: Map<string, Manifest>;
}

export interface PlannedBaseline {
  horizon: string;
  reference_date: string;
  reference_ts: string;
  baseline_start_ts: string;
  baseline_end_ts: string;
}

export const PACKAGE_VERSION: string = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;

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
    engine: { ndr_sql: PACKAGE_VERSION, duckdb: session.duckdbVersion() },
    force: args.force ?? false,
    dryRun: args.dryRun ?? false,
    plannedBaselines: [],
  };
}

/**
 * Run `fn` as a plan (ctx.dryRun), then restore the context: a plan inside a real run (the
 * tracked runner's "what would this step build") must not leave its planned baselines behind.
 */
export async function withDryRun<T>(ctx: RunContext, fn: () => Promise<T>): Promise<T> {
  const was = ctx.dryRun;
  const planned = ctx.plannedBaselines.length;
  ctx.dryRun = true;
  try {
    return await fn();
  } finally {
    ctx.dryRun = was;
    ctx.plannedBaselines.length = planned;
  }
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
