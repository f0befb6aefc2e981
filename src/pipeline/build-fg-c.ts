/**
 * fg_a + fg_b + delta_peers -> fg_c (FEATURES.md §7), set-based over the
 * selection's batches and every horizon. Each batch uses, per horizon, the
 * FG-B publication with the latest reference date at or before its start.
 */
import { InputNotReadyError } from '../errors/index.ts';
import { BATCH_MS, DAY_MS, batchEnd, formatBatch, isoZ, type Batch } from '../engine/batches.ts';
import { checkContract, materialize, stageAndCommit } from '../engine/execute.ts';
import { createParamTable, setVariables } from '../engine/params.ts';
import type { Manifest } from '../storage/manifest.ts';
import { baselinePartition, batchPartition } from '../storage/layout.ts';
import { deltaColumns, deltaPeersColumns, fgAColumns, fgBColumns, fgCColumns, FG_B_TABLES } from '../transforms/columns.ts';
import { baselineMetrics, fgCMetrics } from '../transforms/jobspec-params.ts';
import type { PlanEntry, StepResult } from './build.ts';
import { templateRefs } from './build-raw.ts';
import { publicationPath, publishedReferences, type Publication } from './build-fg-b.ts';
import { jobspecHash, type RunContext } from './context.ts';
import { planEntry, type Expected } from './freshness.ts';
import { batchOfManifest, digestInput, inheritedMissingFields, loadBatchInput, registerInput } from './inputs.ts';

const FG_C_TEMPLATES = ['ip_list_peers', 'ip_dim', 'fg_c_variables', 'fg_c_positions', 'fg_c'];

/** The reference date FG-B is scheduled for on a day (JobSpec baseline_schedule). */
export function scheduledReference(ctx: RunContext, dayMs: number): number {
  const d = new Date(dayMs);
  switch (ctx.specs.project_parameters.baseline_schedule) {
    case 'daily':
      return dayMs;
    case 'weekly':
      return dayMs - ((d.getUTCDay() + 6) % 7) * DAY_MS; // that week's Monday
    case 'monthly':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  }
}

/** What FG-C reads of a publication; in a plan, also one an earlier step would write (run_id 'planned'). */
type BaselineRef = Pick<Publication, 'reference_date' | 'reference_ts' | 'baseline_start_ts' | 'baseline_end_ts' | 'run_id'>;

interface BaselineChoice {
  horizon: string;
  publication?: BaselineRef;
}

export async function chooseBaselines(ctx: RunContext, batches: Batch[], allowMissing: boolean): Promise<Map<number, BaselineChoice[]>> {
  const horizons = Object.keys(ctx.specs.fg_b_builder.horizons);
  const pubs = new Map<string, BaselineRef>();
  // A plan counts the baselines its earlier steps would (re)write as if they were published.
  for (const p of ctx.plannedBaselines) pubs.set(`${p.horizon}/${p.reference_date}`, { ...p, run_id: 'planned' });
  const planned = (h: string) => ctx.plannedBaselines.filter((p) => p.horizon === h).map((p) => p.reference_date);
  const refs = new Map(await Promise.all(horizons.map(async (h) => [h, [...new Set([...(await publishedReferences(ctx, h)), ...planned(h)])].sort()] as const)));
  const publication = async (h: string, date: string) => {
    const key = `${h}/${date}`;
    if (!pubs.has(key)) pubs.set(key, (await ctx.warehouse.readJson<Publication>(publicationPath(ctx.specs.version, h, date)))!);
    return pubs.get(key)!;
  };
  /** The latest published reference whose T_ref <= t: T_ref is the run's reference_ts (00:00 UTC of its date unless built with --reference). */
  const latestAtOrBefore = async (h: string, t: number) => {
    for (const date of refs.get(h)!.filter((d) => Date.parse(`${d}T00:00:00Z`) <= t).reverse())
      if (Date.parse((await publication(h, date)).reference_ts) <= t) return date;
    return undefined;
  };
  const out = new Map<number, BaselineChoice[]>();
  for (const b of batches) {
    const choices: BaselineChoice[] = [];
    for (const h of horizons) {
      const date = await latestAtOrBefore(h, b.start);
      if (!date) {
        if (!allowMissing) {
          const ref = isoZ(scheduledReference(ctx, Math.floor(b.start / DAY_MS) * DAY_MS)).slice(0, 10);
          throw new InputNotReadyError(
            `input not ready: no FG-B baseline for horizon ${h} at or before ${isoZ(b.start)}; build it with: ndr-sql build fg-b --date ${ref} (or rerun with --upstream, or --allow-missing-baseline)`,
          );
        }
        choices.push({ horizon: h });
        continue;
      }
      choices.push({ horizon: h, publication: await publication(h, date) });
    }
    out.set(b.start, choices);
  }
  return out;
}

export async function buildFgC(ctx: RunContext, batches: Batch[], allowMissingBaseline: boolean): Promise<StepResult> {
  const t0 = Date.now();
  const v = ctx.specs.version;
  const maxW = Math.max(...Object.values(ctx.specs.fg_a_builder.windows)) * 60_000;
  const metrics = fgCMetrics(ctx.specs);
  const columns = fgCColumns(ctx.specs, metrics);
  const fgA = await loadBatchInput(ctx, 'fg_a', batches[0].start, batches.at(-1)!.start + 1);
  const ready = batches.filter((b) => fgA.manifests.some((m) => batchOfManifest(m).start === b.start));
  const missing = batches.filter((b) => !ready.includes(b));
  const noInput: PlanEntry[] = missing.map((b) => ({ partition: batchPartition('fg_c', v, b, '*'), state: 'no_input' }));
  if (!ready.length) return { dataset: 'fg_c', committed: [], skipped: [], missing, seconds: (Date.now() - t0) / 1000, planned: noInput };
  const choices = await chooseBaselines(ctx, ready, allowMissingBaseline);
  const peers = await loadBatchInput(ctx, 'delta_peers', batchEnd(ready[0]) - maxW, batchEnd(ready.at(-1)!));
  const templates = await templateRefs(ctx, FG_C_TEMPLATES);
  const jobspecSha256 = jobspecHash(ctx, ['project_parameters', 'delta_builder', 'fg_a_builder', 'fg_b_builder', 'fg_c_builder']);
  const fgAOf = new Map(fgA.manifests.map((m) => [batchOfManifest(m).start, m]));

  const targets = ready.flatMap((b) => choices.get(b.start)!.map((c) => ({ b, c, partition: batchPartition('fg_c', v, b, c.horizon) })));
  const expectedOf = (b: Batch, c: BaselineChoice): Expected => {
    const T = batchEnd(b);
    return {
      templates,
      jobspecSha256,
      inputs: [
        { dataset: 'fg_a', partition: fgAOf.get(b.start)!.partition, fingerprint: fgAOf.get(b.start)!.run_id },
        { dataset: 'fg_b', partition: c.publication ? `${c.horizon}/${c.publication.reference_date}` : `${c.horizon}/none`, fingerprint: c.publication?.run_id ?? 'none' },
        digestInput('delta_peers', `window of ${isoZ(T)}`, peers.manifests.filter((m) => batchOfManifest(m).start >= T - maxW && batchOfManifest(m).start < T)),
      ],
    };
  };
  const existing = await ctx.warehouse.readManifests(targets.map((t) => t.partition));
  const entries = targets.map((t) => planEntry(t.partition, existing.get(t.partition), expectedOf(t.b, t.c), ctx.force));
  const states = entries.map((e) => e.state);
  const planned: PlanEntry[] = [...entries, ...noInput];
  const todo = targets.filter((_, i) => states[i] !== 'up_to_date');
  const skipped = targets.filter((_, i) => states[i] === 'up_to_date').map((t) => t.partition);
  if (ctx.dryRun || !todo.length) return { dataset: 'fg_c', committed: [], skipped, missing, seconds: (Date.now() - t0) / 1000, planned };

  const todoBatches = [...new Map(todo.map((t) => [t.b.start, t.b])).values()];
  await registerInput(ctx, 'fg_a_in', todoBatches.map((b) => fgAOf.get(b.start)!), fgAColumns(ctx.specs));
  const first = batchEnd(todoBatches[0]) - maxW;
  await registerInput(ctx, 'delta_peers_in', peers.manifests.filter((m) => batchOfManifest(m).start >= first), deltaPeersColumns());
  await registerInput(ctx, 'delta_in', [], deltaColumns(ctx.specs));
  const used = [...new Map(todo.filter((t) => t.c.publication).map((t) => [`${t.c.horizon}/${t.c.publication!.reference_date}`, t.c])).values()];
  const baselineMetricList = baselineMetrics(ctx.specs);
  for (const table of FG_B_TABLES) {
    const parts = used.map((c) => baselinePartition(table, v, c.horizon, c.publication!.reference_date));
    const manifests = [...(await ctx.warehouse.readManifests(parts)).values()];
    await registerInput(ctx, `fgb_${table}_in`, manifests, fgBColumns(table, baselineMetricList));
  }
  await createParamTable(ctx.session, {
    name: 'p_batch_baselines',
    columns: { window_end_ts: 'TIMESTAMP', baseline_horizon: 'VARCHAR', baseline_reference_date: 'VARCHAR', baseline_start_ts: 'TIMESTAMP', baseline_end_ts: 'TIMESTAMP', has_baseline: 'BOOLEAN' },
    rows: todo.map(({ b, c }) => [isoZ(batchEnd(b)), c.horizon, c.publication?.reference_date ?? null, c.publication?.baseline_start_ts ?? null, c.publication?.baseline_end_ts ?? null, Boolean(c.publication)] as never),
  });
  await setVariables(ctx.session, { eps: ctx.specs.fg_c_builder.eps, z_max: ctx.specs.fg_c_builder.z_max });
  await materialize(ctx.session, v, 'ip_list_peers', 'ip_list', undefined, 'VIEW');
  await materialize(ctx.session, v, 'ip_dim', 'ip_dim');
  await materialize(ctx.session, v, 'fg_c_positions', 'fgc_positions');
  // A view: COPY runs the template once, straight into the partitioned Parquet writer
  // (materializing 480 columns into a temp table first cost as much as the template);
  // the stage_and_commit timing includes the template.
  await materialize(ctx.session, v, 'fg_c', 'out_fg_c', undefined, 'VIEW');
  await checkContract(ctx.session, 'out_fg_c', columns, `sql/${v}/fg_c.sql`);
  const committed: Manifest[] = await stageAndCommit({
    session: ctx.session,
    warehouse: ctx.warehouse,
    runId: ctx.runId,
    dataset: 'fg_c',
    relation: 'out_fg_c',
    columns,
    missingOptionalFields: inheritedMissingFields(todoBatches.map((b) => fgAOf.get(b.start)!)),
    partitionBy: ['baseline_horizon', 'dt', 'hh', 'mm'],
    plans: todo.map(({ b, c, partition }) => {
      const f = formatBatch(b);
      return {
        partition,
        values: [c.horizon, f.dt, f.hh, f.mm],
        inputs: expectedOf(b, c).inputs,
        notes: { baseline: c.publication ? `${c.horizon}/${c.publication.reference_date}` : 'none (--allow-missing-baseline)' },
      };
    }),
    templates,
    jobspecSha256,
    featureSpecVersion: v,
    engine: ctx.engine,
    timingsMs: {},
  });
  await ctx.session.run('DROP VIEW out_fg_c');
  return { dataset: 'fg_c', committed, skipped, missing, seconds: (Date.now() - t0) / 1000 };
}

export { BATCH_MS };
