/**
 * The end-of-run summary: per dataset, how many partitions ended in each
 * status, with total rows and seconds. Text mode prints a table; json mode
 * emits one `summary` event.
 */
import type { LineSink, Logger } from './logger.ts';

export interface SummaryItem {
  dataset: string;
  /** committed | skipped | missing_input | failed | running | ... */
  status: string;
  rows?: number | null;
  seconds?: number | null;
}

export interface DatasetSummary {
  dataset: string;
  counts: Record<string, number>;
  rows: number;
  seconds: number;
}

/** Column order of the table; other statuses follow alphabetically. */
const STATUS_ORDER = ['committed', 'skipped', 'up_to_date', 'missing_input', 'failed', 'running'];
/** Statuses that mean the run did not finish everything. */
export const NOT_OK_STATUSES = new Set(['failed', 'missing_input', 'running']);

export class RunSummary {
  private readonly byDataset = new Map<string, DatasetSummary>();

  add(item: SummaryItem): void {
    let d = this.byDataset.get(item.dataset);
    if (!d) this.byDataset.set(item.dataset, (d = { dataset: item.dataset, counts: {}, rows: 0, seconds: 0 }));
    d.counts[item.status] = (d.counts[item.status] ?? 0) + 1;
    d.rows += item.rows ?? 0;
    d.seconds += item.seconds ?? 0;
  }

  /** Datasets in insertion order. */
  get datasets(): DatasetSummary[] {
    return [...this.byDataset.values()];
  }

  get statuses(): string[] {
    const seen = new Set(this.datasets.flatMap((d) => Object.keys(d.counts)));
    const known = STATUS_ORDER.filter((s) => seen.has(s));
    return [...known, ...[...seen].filter((s) => !STATUS_ORDER.includes(s)).sort()];
  }

  get totals(): DatasetSummary {
    const t: DatasetSummary = { dataset: 'total', counts: {}, rows: 0, seconds: 0 };
    for (const d of this.datasets) {
      for (const [s, n] of Object.entries(d.counts)) t.counts[s] = (t.counts[s] ?? 0) + n;
      t.rows += d.rows;
      t.seconds += d.seconds;
    }
    return t;
  }

  /** True when nothing failed, is missing or is still running. */
  get ok(): boolean {
    return !this.statuses.some((s) => NOT_OK_STATUSES.has(s));
  }
}

const fmtSeconds = (s: number) => (Math.round(s * 10) / 10).toFixed(1);

/** A fixed-width table: dataset × status counts, rows, seconds, and a total line. */
export function renderSummaryTable(summary: RunSummary): string {
  const statuses = summary.statuses;
  const header = ['dataset', ...statuses, 'rows', 'seconds'];
  const line = (d: DatasetSummary) => [d.dataset, ...statuses.map((s) => String(d.counts[s] ?? 0)), String(d.rows), fmtSeconds(d.seconds)];
  const body = summary.datasets.map(line);
  const rows = [header, ...body, line(summary.totals)];
  const widths = header.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [fmt(header), rule, ...body.map(fmt), rule, fmt(line(summary.totals))].join('\n') + '\n';
}

/**
 * Text mode: the table on `out` (default stdout: it is the command's result).
 * Json mode: a `summary` event with per-dataset counts and totals.
 */
export function emitSummary(logger: Logger, summary: RunSummary, out: LineSink = process.stdout): void {
  if (logger.format === 'json') {
    const t = summary.totals;
    logger.info('summary', {
      status: summary.ok ? 'ok' : 'incomplete',
      rows: t.rows,
      seconds: Math.round(t.seconds * 1000) / 1000,
      counts: t.counts,
      datasets: summary.datasets.map((d) => ({ dataset: d.dataset, counts: d.counts, rows: d.rows, seconds: Math.round(d.seconds * 1000) / 1000 })),
    });
    return;
  }
  out.write(renderSummaryTable(summary));
}
