/**
 * `ndr-sql status --from D1 --to D2` (or `--date D`): per dataset and day,
 * how many partitions are committed, stale, missing, failed or running, and
 * the gaps (batches whose raw input never arrived).
 *
 * Sources, reconciled: the manifests (what readers see: a manifest without a
 * ledger entry is committed), the ledger (failed / running / missing_input
 * with their errors) and the builders' own dry run (ctx.dryRun, as `plan`):
 * a committed partition whose inputs, templates or JobSpec changed is stale.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { InputNotReadyError, UsageError, oneLine } from '../../errors/index.ts';
import { DAY_MS, batchRuns, batchesOfDay, isoZ, selectBatches, type Batch } from '../../engine/batches.ts';
import type { Logger } from '../../log/index.ts';
import { batchPartition } from '../../storage/layout.ts';
import type { Manifest } from '../../storage/manifest.ts';
import { buildRawStage, type PlanEntry, type StepResult } from '../../pipeline/build.ts';
import '../../pipeline/builders.ts';
import { buildFgA } from '../../pipeline/build-fg-a.ts';
import { buildFgB, referenceDate } from '../../pipeline/build-fg-b.ts';
import { buildFgC, scheduledReference } from '../../pipeline/build-fg-c.ts';
import { openRunContext, type RunContext } from '../../pipeline/context.ts';
import type { Ledger, LedgerEntry } from '../../pipeline/ledger.ts';
import { LEDGER_FILE } from '../../pipeline/ledger-local.ts';
import { isS3Uri } from '../../storage/s3uri.ts';
import { openCoordination, type LedgerKind } from '../../pipeline/nightly.ts';
import { RAW_DATASETS } from '../../pipeline/build-raw.ts';
import { FG_B_TABLES } from '../../transforms/columns.ts';
import { baselinePartition } from '../../storage/layout.ts';
import { openCommon, withCommonOptions, type CommonArgs } from '../common.ts';

interface StatusArgs extends CommonArgs {
  date?: string;
  from?: string;
  to?: string;
  ledger?: LedgerKind;
  verbose?: boolean;
}

export const PARTITION_STATES = ['committed', 'stale', 'missing', 'failed', 'running'] as const;
export type PartitionStatus = (typeof PARTITION_STATES)[number];

export interface StatusRow {
  dataset: string;
  /** UTC day of the partitions (FG-B: the reference date). */
  day: string;
  counts: Record<PartitionStatus, number>;
  /** False when the dry run could not run (e.g. a template is missing): stale is then not detected. */
  checked: boolean;
  note?: string;
}

export interface PartitionDetail {
  dataset: string;
  partition: string;
  status: PartitionStatus;
  error?: string | null;
  /** Why a stale partition is stale (the dry run's reason, as `plan --verbose` prints it). */
  reason?: string;
}

export interface StatusReport {
  rows: StatusRow[];
  /** Batches whose raw input does not exist and that were never built. */
  gaps: Batch[];
  /** Every partition that is not committed (missing, stale, failed, running). */
  problems: PartitionDetail[];
}

const emptyCounts = (): Record<PartitionStatus, number> => ({ committed: 0, stale: 0, missing: 0, failed: 0, running: 0 });

interface Classified {
  dataset: string;
  partition: string;
  /** From the dry run; undefined when it could not run. */
  state?: PlanEntry['state'];
  reason?: string;
}

async function dry(ctx: RunContext, fn: () => Promise<StepResult[]>): Promise<{ planned?: PlanEntry[]; error?: unknown }> {
  const was = ctx.dryRun;
  ctx.dryRun = true;
  try {
    const results = await fn();
    return { planned: results.flatMap((r) => r.planned ?? []) };
  } catch (e) {
    return { error: e };
  } finally {
    ctx.dryRun = was;
  }
}

/** Per-dataset status of the selected batches (grouped by day), plus the scheduled FG-B references of those days. */
export async function collectStatus(ctx: RunContext, ledger: Pick<Ledger, 'list'>, batches: Batch[]): Promise<StatusReport> {
  const v = ctx.specs.version;
  const horizons = Object.keys(ctx.specs.fg_b_builder.horizons);
  const days = [...new Set(batches.map((b) => Math.floor(b.start / DAY_MS) * DAY_MS))];
  const report: StatusReport = { rows: [], gaps: [], problems: [] };
  // FG-B: the scheduled reference of each day (JobSpec baseline_schedule), possibly before the range.
  const refs = [...new Set(days.map((d) => scheduledReference(ctx, d)))].sort((a, b) => a - b);
  const entries = new Map(
    (await ledger.list({ project: ctx.specs.project, version: v, fromMs: Math.min(days[0], refs[0]), toMs: days.at(-1)! + DAY_MS })).map((e) => [e.partition, e]),
  );

  const tally = async (dataset: string, day: string, items: Classified[], checked: boolean, note?: string) => {
    const needManifest = items.filter((i) => i.state === undefined || i.state === 'no_input' || entries.get(i.partition)?.status === 'failed');
    const manifests: Map<string, Manifest> = needManifest.length ? await ctx.warehouse.readManifests(needManifest.map((i) => i.partition)) : new Map();
    const row: StatusRow = { dataset, day, counts: emptyCounts(), checked, ...(note ? { note } : {}) };
    for (const it of items) {
      const hasManifest = it.state === 'up_to_date' || it.state === 'stale' || manifests.has(it.partition);
      const st = classify(it, hasManifest, manifests.get(it.partition), entries.get(it.partition));
      row.counts[st]++;
      if (st !== 'committed')
        report.problems.push({
          dataset,
          partition: it.partition,
          status: st,
          error: entries.get(it.partition)?.last_error ?? null,
          ...(st === 'stale' && it.reason ? { reason: it.reason } : {}),
        });
    }
    report.rows.push(row);
  };

  for (const day of days) {
    const dayBatches = batches.filter((b) => b.start >= day && b.start < day + DAY_MS);
    const label = isoZ(day).slice(0, 10);

    // Raw stage: delta, delta_peers, pair_counts; gaps are batches with neither raw input nor output.
    const raw = await dry(ctx, async () => [await buildRawStage(ctx, dayBatches)]);
    const rawNote = raw.error && !(raw.error instanceof InputNotReadyError) ? oneLine(raw.error) : undefined;
    const rawPlans = byPartition(raw.planned);
    for (const ds of RAW_DATASETS) {
      const items = dayBatches.map((b): Classified => {
        const partition = batchPartition(ds, v, b);
        return raw.error instanceof InputNotReadyError ? { dataset: ds, partition, state: 'no_input' } : classified(rawPlans, ds, partition);
      });
      await tally(ds, label, items, !rawNote, rawNote);
    }
    const deltaManifests = await ctx.warehouse.readManifests(dayBatches.map((b) => batchPartition('delta', v, b)));
    const noRaw = new Set(
      raw.error instanceof InputNotReadyError ? dayBatches.map((b) => b.start) : (raw.planned ?? []).filter((p) => p.state === 'no_input' && p.partition.startsWith('delta/')).map((p) => partitionStart(p.partition)),
    );
    report.gaps.push(...dayBatches.filter((b) => noRaw.has(b.start) && !deltaManifests.has(batchPartition('delta', v, b))));

    const fgA = await dry(ctx, () => buildFgA(ctx, dayBatches));
    const fgAPlans = byPartition(fgA.planned);
    await tally(
      'fg_a',
      label,
      dayBatches.map((b) => classified(fgAPlans, 'fg_a', batchPartition('fg_a', v, b))),
      !fgA.error,
      fgA.error ? oneLine(fgA.error) : undefined,
    );

    const fgC = await dry(ctx, async () => [await buildFgC(ctx, dayBatches, true)]);
    const fgCPlanned = new Map<string, PlanEntry>();
    for (const p of fgC.planned ?? []) {
      if (p.partition.includes('baseline_horizon=*/')) for (const h of horizons) fgCPlanned.set(p.partition.replace('baseline_horizon=*/', `baseline_horizon=${h}/`), p);
      else fgCPlanned.set(p.partition, p);
    }
    await tally(
      'fg_c',
      label,
      dayBatches.flatMap((b) => horizons.map((h) => classified(fgCPlanned, 'fg_c', batchPartition('fg_c', v, b, h)))),
      !fgC.error,
      fgC.error ? oneLine(fgC.error) : undefined,
    );
  }

  for (const ref of refs) {
    const fgB = await dry(ctx, async () => [await buildFgB(ctx, ref)]);
    const fgBPlans = byPartition(fgB.planned);
    const ref_ = referenceDate(ref);
    const items = FG_B_TABLES.flatMap((t) => horizons.map((h) => classified(fgBPlans, 'fg_b', baselinePartition(t, v, h, ref_))));
    await tally('fg_b', ref_, items, !fgB.error, fgB.error ? oneLine(fgB.error) : undefined);
  }
  report.gaps.sort((a, b) => a.start - b.start);
  return report;
}

const byPartition = (planned: PlanEntry[] = []) => new Map(planned.map((p) => [p.partition, p]));

/** A partition as the dry run planned it (state and, when stale, why); undefined state when the dry run could not run. */
const classified = (plans: Map<string, PlanEntry>, dataset: string, partition: string): Classified => ({
  dataset,
  partition,
  state: plans.get(partition)?.state,
  reason: plans.get(partition)?.reason,
});

const partitionStart = (partition: string) => {
  const m = /dt=(\d{4}-\d{2}-\d{2})\/hh=(\d{2})\/mm=(\d{2})/.exec(partition);
  return m ? Date.parse(`${m[1]}T${m[2]}:${m[3]}:00Z`) : NaN;
};

function classify(it: Classified, hasManifest: boolean, manifest: Manifest | undefined, entry: LedgerEntry | undefined): PartitionStatus {
  if (entry?.status === 'failed') {
    // A later commit (e.g. by `ndr-sql build`, which keeps no ledger) supersedes the failure.
    const later = manifest && entry.finished_at && manifest.created_at > entry.finished_at;
    if (!later) return 'failed';
  }
  if (entry?.status === 'running' && !hasManifest) return 'running';
  if (hasManifest) return it.state === 'stale' ? 'stale' : 'committed';
  return 'missing';
}

export function renderStatus(report: StatusReport, verbose: boolean): string {
  const header = ['dataset', 'day', ...PARTITION_STATES];
  const body = report.rows.map((r) => [r.dataset, r.day, ...PARTITION_STATES.map((s) => String(r.counts[s])), r.checked ? '' : `(stale not checked: ${r.note})`]);
  const widths = header.map((_, i) => Math.max(header[i].length, ...body.map((r) => r[i].length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (i >= widths.length ? c : i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  const lines = [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(fmt), ''];
  lines.push(report.gaps.length ? `gaps: ${report.gaps.length} batch(es) whose raw input never arrived:` : 'gaps: none');
  for (const run of batchRuns(report.gaps)) lines.push(`  ${run}`);
  const failed = report.problems.filter((p) => p.status === 'failed');
  if (failed.length) {
    lines.push(`failed: ${failed.length} partition(s):`);
    for (const f of failed.slice(0, verbose ? undefined : 20)) lines.push(`  ${f.partition}: ${f.error ?? ''}`);
    if (!verbose && failed.length > 20) lines.push(`  ... (${failed.length - 20} more; --verbose lists all)`);
  }
  if (verbose)
    for (const p of report.problems.filter((x) => x.status !== 'failed')) lines.push(`  ${p.status.padEnd(9)} ${p.partition}${p.reason ? `  (${p.reason})` : ''}`);
  return lines.join('\n') + '\n';
}

export function emitStatus(log: Logger, report: StatusReport, verbose: boolean, out: { write(s: string): unknown } = process.stdout): void {
  if (log.format !== 'json') {
    out.write(renderStatus(report, verbose));
    return;
  }
  for (const r of report.rows) log.info('status', { dataset: r.dataset, day: r.day, ...r.counts, checked: r.checked, ...(r.note ? { note: r.note } : {}) });
  log.info('gaps', { status: report.gaps.length ? 'missing_input' : 'ok', count: report.gaps.length, batches: report.gaps.map((g) => isoZ(g.start)) });
  for (const p of report.problems) if (verbose || p.status === 'failed') log.info('partition_status', { ...p });
}

export const statusCommand: CommandModule<object, StatusArgs> = {
  command: 'status',
  describe: 'per dataset and day: committed, stale, missing, failed (ledger + manifests), and the raw-input gaps',
  builder: (y) =>
    withCommonOptions(y)
      .option('date', { type: 'string', describe: 'one UTC day (YYYY-MM-DD, yesterday, today)' })
      .option('from', { type: 'string', describe: 'first day (YYYY-MM-DD) or instant (ISO)' })
      .option('to', { type: 'string', describe: 'last day, inclusive (YYYY-MM-DD), or exclusive instant (ISO)' })
      .option('ledger', { choices: ['auto', 'local', 'dynamodb'] as const, default: 'auto' as const })
      .option('verbose', { type: 'boolean', describe: 'list every partition that is not committed' })
      .check((a) => {
        if (!a.date && !a.from) throw new UsageError('status needs --date D or --from D1 --to D2');
        return true;
      }) as unknown as Argv<StatusArgs>,
  handler: async (args) => {
    const batches = selectBatches({ date: args.date, from: args.from, to: args.to ?? (args.from && !args.date ? args.from : undefined) });
    const opened = await openCommon(args);
    // Reading must not create anything: a local warehouse without a ledger file has no entries.
    const noLedger = (args.ledger ?? 'auto') !== 'dynamodb' && !isS3Uri(opened.runtime.warehouse) && !existsSync(join(opened.runtime.warehouse, LEDGER_FILE));
    const coord = noLedger ? { ledger: { list: async () => [] }, close: async () => undefined } : openCoordination(opened.runtime, args.ledger ?? 'auto', opened.log);
    const ctx = await openRunContext({ ...opened, dryRun: true });
    try {
      const report = await collectStatus(ctx, coord.ledger, batches.length ? batches : batchesOfDay(Date.now()));
      emitStatus(ctx.log, report, Boolean(args.verbose));
    } finally {
      ctx.session.close();
      await coord.close().catch(() => undefined);
    }
  },
};
