/**
 * `npm run bench`: throughput, peak RSS and growth of every transform.
 *
 *   npm run bench                     # sizes x1 and x4 (500 and 2,000 hosts)
 *   npm run bench -- --base-hosts 250 --sizes 1,2 --only raw,fg_a
 *   npm run bench -- --only demo --demo-runs 5   # the README's `npx ndr-sql demo`, N fresh runs
 *
 * `raw` also measures the floor under the raw stage on the same day (bench/raw-floor.ts):
 * the least DuckDB work that produces the three raw datasets' grains.
 *
 * Pipeline stages run as separate `bin/ndr-sql` processes under /usr/bin/time,
 * so each has its own wall time and peak RSS (memory_limit 1GB unless said).
 * Results are printed as a table and appended as JSON lines to
 * bench/results/<date>.jsonl. Not part of `npm test`.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { synthesize } from '../src/synth/index.ts';

const ROOT = join(import.meta.dirname, '..');
const WORK = join(ROOT, 'bench', 'work');
const BIN = join(ROOT, 'bin', 'ndr-sql');
const { values: opts } = parseArgs({
  options: {
    'base-hosts': { type: 'string', default: '500' },
    sizes: { type: 'string', default: '1,4' },
    only: { type: 'string', default: 'raw,fg_a,fg_b,fg_c,fg_b9,s3,nightly,publish,demo' },
    'demo-runs': { type: 'string', default: '3' },
    'memory-limit': { type: 'string', default: '1GB' },
  },
});
const only = new Set(opts.only!.split(','));
const results: Record<string, unknown>[] = [];
const DAY1 = '2026-11-23';
const DAY2 = '2026-11-24';

function record(r: Record<string, unknown>) {
  results.push(r);
  console.log(JSON.stringify(r));
}

/** Run the CLI under /usr/bin/time: wall seconds and peak RSS (MiB) of that process alone. */
function cli(args: string[], env: Record<string, string> = {}, memoryLimit = opts['memory-limit']!): { seconds: number; rssMb: number; stdout: string; stderr: string; status: number | null } {
  const r = spawnSync('/usr/bin/time', ['-f', 'BENCH %e %M', BIN, ...args, '--log-format', 'json', '--memory-limit', memoryLimit], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
  const m = /BENCH ([\d.]+) (\d+)/.exec(r.stderr);
  if (r.status !== 0 && r.status !== 3) throw new Error(`ndr-sql ${args.join(' ')} failed (${r.status}): ${r.stderr.slice(-800)}`);
  return { seconds: Number(m?.[1]), rssMb: Math.round(Number(m?.[2]) / 1024), stdout: r.stdout, stderr: r.stderr, status: r.status };
}

/**
 * The same as `cli`, without blocking the event loop: the S3 bench serves
 * s3rver from this very process, so a synchronous spawn would deadlock.
 */
function cliAsync(args: string[], env: Record<string, string> = {}): Promise<{ seconds: number; rssMb: number; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('/usr/bin/time', ['-f', 'BENCH %e %M', BIN, ...args, '--log-format', 'json', '--memory-limit', opts['memory-limit']!], {
      env: { ...process.env, ...env },
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    child.stdout.resume();
    child.on('close', (code) => {
      const m = /BENCH ([\d.]+) (\d+)/.exec(stderr);
      if (code !== 0 && code !== 3) reject(new Error(`ndr-sql ${args.join(' ')} failed (${code}): ${stderr.slice(-800)}`));
      else resolvePromise({ seconds: Number(m?.[1]), rssMb: Math.round(Number(m?.[2]) / 1024), stderr });
    });
  });
}

async function rawStage(size: number) {
  const hosts = Number(opts['base-hosts']) * size;
  const dir = join(WORK, `x${size}`);
  rmSync(dir, { recursive: true, force: true });
  const pq = await synthesize({ hosts, days: 2, start: DAY1, seed: 11, out: join(dir, 'pq'), format: 'parquet' });
  const nd = await synthesize({ hosts, days: 2, start: DAY1, seed: 11, out: join(dir, 'nd'), format: 'ndjson' });
  const eventsDay2 = Number(
    execFileSync('node', ['-e', `const g=require(${JSON.stringify(pq.groundTruthFile)});console.log(g.events)`]).toString(),
  );
  const perDay = Math.round(eventsDay2 / 2);
  for (const [fmt, sub, glob] of [['parquet', 'pq', '*.parquet'], ['ndjson', 'nd', '*.json.gz']] as const) {
    const wh = join(dir, `wh-${fmt}`);
    const raw = join(dir, sub, 'raw', 'dt={dt}', 'hh={hh}', glob);
    // day 1 first (history for FG-A), then the measured day 2
    cli(['build', 'delta,delta_peers,pair_counts', '--date', DAY1, '--raw', raw, '--raw-format', fmt, '--warehouse', wh]);
    const r = cli(['build', 'delta,delta_peers,pair_counts', '--date', DAY2, '--raw', raw, '--raw-format', fmt, '--warehouse', wh]);
    record({ bench: 'raw_stage_day', format: fmt, size, hosts, events: perDay, seconds: r.seconds, events_per_s: Math.round(perDay / r.seconds), peak_rss_mb: r.rssMb });
  }
  return { dir, hosts, perDay, wh: join(dir, 'wh-parquet'), raw: join(dir, 'pq', 'raw', 'dt={dt}', 'hh={hh}', '*.parquet') };
}

async function fgA(ctx: { dir: string; hosts: number; wh: string; raw: string }, size: number) {
  const day1 = cli(['build', 'fg-a', '--date', DAY1, '--warehouse', ctx.wh, '--raw', ctx.raw]);
  const batch = cli(['build', 'fg-a', '--batch', `${DAY2}T12:00`, '--warehouse', ctx.wh, '--raw', ctx.raw]);
  record({ bench: 'fg_a_one_batch', size, hosts: ctx.hosts, windows: 5, lookback_days: 30, fg_a_rows: committedRows(batch.stdout, 'fg_a'), seconds: batch.seconds, step_seconds: stepSeconds(batch.stdout, 'fg_a'), peak_rss_mb: batch.rssMb });
  const day = cli(['build', 'fg-a', '--date', DAY2, '--warehouse', ctx.wh, '--raw', ctx.raw]);
  record({ bench: 'fg_a_day', size, hosts: ctx.hosts, anchors: 96, fg_a_rows: committedRows(day.stdout, 'fg_a'), seconds: day.seconds, step_seconds: stepSeconds(day.stdout, 'fg_a'), seconds_day1: day1.seconds, peak_rss_mb: day.rssMb });
}

/**
 * FG-B over one day of FG-A (a 1-day horizon ending at DAY2 12:00, so that the
 * bench needs only two synthetic days) and FG-C for one batch against it.
 * FG-B cost is linear in FG-A rows: the README extrapolates to 9 days.
 */
function fgBC(ctx: { dir: string; hosts: number; wh: string; raw: string }, size: number) {
  const specs = join(ctx.dir, 'jobspecs');
  rmSync(specs, { recursive: true, force: true });
  mkdirSync(join(specs, 'demo'), { recursive: true });
  for (const f of readdirSync(join(ROOT, 'jobspecs', 'demo'))) copyFileSync(join(ROOT, 'jobspecs', 'demo', f), join(specs, 'demo', f));
  writeFileSync(join(specs, 'demo', 'fg_b_builder#v1.json'), JSON.stringify({ horizons: { '1d': { days: 1, tail: 0, head: 0 } } }));
  const common = ['--warehouse', ctx.wh, '--raw', ctx.raw, '--jobspecs', specs];
  // FG-A up to and including the FG-C batch DAY2 12:00 (FG-B's range ends before it).
  cli(['build', 'fg-a', '--from', `${DAY1}T12:00`, '--to', `${DAY2}T12:15`, ...common]);
  const b = cli(['build', 'fg-b', '--reference', `${DAY2}T12:00`, ...common], {}, '2GB');
  const pub = JSON.parse(readFileSync(join(ctx.wh, 'fg_b/_publication/feature_spec_version=v1/baseline_horizon=1d/reference_date=' + DAY2 + '.json'), 'utf8'));
  const fgARows = Number(execFileSync('node', ['-e', `
    const fs=require('fs'),p=require('path');let n=0;const r=${JSON.stringify(join(ctx.wh, 'fg_a'))};
    for (const f of fs.readdirSync(r,{recursive:true})) if (String(f).endsWith('_manifest.json')) { const m=JSON.parse(fs.readFileSync(p.join(r,String(f)))); const t=Date.parse(m.partition_values.dt+'T'+m.partition_values.hh+':'+m.partition_values.mm+':00Z'); if (t>=Date.parse('${DAY1}T11:45:00Z') && t<Date.parse('${DAY2}T11:45:00Z')) n+=m.row_count; }
    console.log(n)`]).toString());
  record({ bench: 'fg_b_one_day_of_fg_a', size, hosts: ctx.hosts, fg_a_rows: fgARows, host_baseline_rows: pub.row_counts.host, seconds: b.seconds, fg_a_rows_per_s: Math.round(fgARows / b.seconds), peak_rss_mb: b.rssMb, memory_limit: '2GB' });
  record({ bench: 'fg_c_one_batch', size, hosts: ctx.hosts, horizons: 1, ...fgCOneBatch(`${DAY2}T12:00`, common) });
}

/** `build fg-c --batch B --force` in its own process: rows, wall and step seconds, peak RSS. */
function fgCOneBatch(batch: string, common: string[]) {
  const c = cli(['build', 'fg-c', '--batch', batch, '--force', ...common]);
  if (c.status !== 0) throw new Error(`fg-c for one batch exited ${c.status}: ${c.stderr.slice(-400)}`);
  const rows = committedRows(c.stdout, 'fg_c');
  const step = stepSeconds(c.stdout, 'fg_c');
  return { fg_c_rows: rows, seconds: c.seconds, step_seconds: step, rows_per_s: Math.round(rows / step), peak_rss_mb: c.rssMb };
}

/** Rows and seconds of a dataset's `step` events in a run's JSON log (stdout). */
function stepEvents(log: string, dataset: string) {
  return log.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.event === 'step' && e.dataset === dataset);
}
const committedRows = (log: string, dataset: string) => stepEvents(log, dataset).reduce((n, e) => n + Number(e.rows ?? 0), 0);
const stepSeconds = (log: string, dataset: string) => stepEvents(log, dataset).reduce((n, e) => n + Number(e.seconds ?? 0), 0);

/** A CLI run under /usr/bin/time that records a failure instead of throwing: the nightly reports how far it got. */
function timedRun(args: string[], memoryLimit: string): { seconds: number; rssMb: number; code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('/usr/bin/time', ['-f', 'BENCH %e %M', BIN, ...args, '--log-format', 'json', '--memory-limit', memoryLimit], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  const m = /BENCH ([\d.]+) (\d+)/.exec(r.stderr);
  return { seconds: Number(m?.[1]), rssMb: Math.round(Number(m?.[2]) / 1024), code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Per-step seconds and committed counts of a run's JSON lines, and the run's own time (without process start-up). */
function nightlySteps(stdout: string) {
  const ev = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  const steps = Object.fromEntries(
    ev.filter((e) => e.event === 'step').map((e) => [String(e.dataset).startsWith('delta+') ? 'raw' : String(e.dataset), { seconds: e.seconds, status: e.status, committed: e.committed, up_to_date: e.up_to_date }]),
  );
  return { steps, runSeconds: ev.find((e) => e.event === 'run_finished')?.seconds as number | undefined };
}

/**
 * `run nightly --date DAY2` as cron runs it (its own process) at the given
 * size: raw stage, FG-A, FG-B (due: baseline_schedule daily) and FG-C, then
 * the same command again, a no-op on an up-to-date day (target <= 5 s).
 * DAY1's raw stage and FG-A are built first, untimed: FG-A's look-back and
 * FG-B's 1-day horizon read them. One horizon, as in fgBC: the demo's 7d and
 * 30d horizons need weeks of history, and FG-B and FG-C cost is per horizon.
 */
async function nightlyDay(size: number, memoryLimit: string) {
  const hosts = Number(opts['base-hosts']) * size;
  const dir = join(WORK, `nightly-x${size}`);
  rmSync(dir, { recursive: true, force: true });
  const synth = await synthesize({ hosts, days: 2, start: DAY1, seed: 11, out: join(dir, 'pq'), format: 'parquet' });
  const events = JSON.parse(readFileSync(synth.groundTruthFile, 'utf8')).events as number;
  const specs = join(dir, 'jobspecs', 'demo');
  mkdirSync(specs, { recursive: true });
  for (const f of readdirSync(join(ROOT, 'jobspecs', 'demo'))) copyFileSync(join(ROOT, 'jobspecs', 'demo', f), join(specs, f));
  const params = JSON.parse(readFileSync(join(specs, 'project_parameters#v1.json'), 'utf8'));
  writeFileSync(join(specs, 'project_parameters#v1.json'), JSON.stringify({ ...params, baseline_schedule: 'daily' }));
  writeFileSync(join(specs, 'fg_b_builder#v1.json'), JSON.stringify({ horizons: { '1d': { days: 1, tail: 0, head: 0 } } }));
  const raw = join(dir, 'pq', 'raw', 'dt={dt}', 'hh={hh}', '*.parquet');
  const common = ['--warehouse', join(dir, 'wh'), '--raw', raw, '--jobspecs', join(dir, 'jobspecs')];
  const history = timedRun(['build', 'fg-a', '--date', DAY1, '--upstream', ...common], memoryLimit);
  if (history.code !== 0) throw new Error(`nightly bench history failed (${history.code}): ${history.stderr.slice(-800)}`);
  const first = timedRun(['run', 'nightly', '--date', DAY2, ...common], memoryLimit);
  const rerun = timedRun(['run', 'nightly', '--date', DAY2, ...common], memoryLimit);
  const a = nightlySteps(first.stdout);
  const b = nightlySteps(rerun.stdout);
  return {
    size,
    hosts,
    events_per_day: Math.round(events / 2),
    horizons: 1,
    memory_limit: memoryLimit,
    exit_code: first.code,
    ...(first.code !== 0 ? { error: first.stderr.trim().split('\n').filter((l) => !l.startsWith('BENCH')).at(-1)?.slice(0, 400) } : {}),
    wall_seconds: first.seconds,
    run_seconds: a.runSeconds,
    peak_rss_mb: first.rssMb,
    steps: a.steps,
    noop_exit_code: rerun.code,
    noop_wall_seconds: rerun.seconds,
    noop_run_seconds: b.runSeconds,
    noop_steps: b.steps,
    history_seconds: history.seconds,
  };
}

/** FG-B over 9 days of FG-A for `hosts` hosts: the input is built once and reused (see fgBNineDays). */
const FGB_START = '2026-11-15';
const FGB_DAYS = 9;
const FGB_REFERENCE = '2026-11-24'; // FGB_START + FGB_DAYS: the 9 days end at the reference time
const FGB_FGC_BATCH = '2026-11-23T12:00'; // a weekday batch inside the 9 days, for FG-C with both horizons

/** Σ row_count of the committed fg_a partitions whose batch starts in [fromMs, toMs). */
function fgARows(wh: string, fromMs: number, toMs: number): number {
  const root = join(wh, 'fg_a');
  let n = 0;
  for (const f of readdirSync(root, { recursive: true }).map(String))
    if (f.endsWith('_manifest.json')) {
      const m = JSON.parse(readFileSync(join(root, f), 'utf8'));
      const t = Date.parse(`${m.partition_values.dt}T${m.partition_values.hh}:${m.partition_values.mm}:00Z`);
      if (t >= fromMs && t < toMs) n += m.row_count;
    }
  return n;
}

/**
 * The FG-B target: 2,000 hosts over a 9-day range of FG-A in <= 60 s with
 * memory_limit=2GB. The input (synth -> raw stage -> FG-A for FGB_DAYS days) is built once per
 * host count into bench/work/fgb-<hosts>h-<days>d and reused while its marker file matches:
 * building it takes long (about 100 minutes for 2,000 hosts on the 2-core host, most of it
 * FG-A's novelty look-back); delete the directory to rebuild it. Then two FG-B runs, each its
 * own process with --force and memory_limit 2GB:
 *   - `9d`: one horizon {days 9, tail 0, head 0} ending at FGB_REFERENCE: every FG-A row of the
 *     9 days is an observation;
 *   - `7d+30d`: the demo JobSpec's default horizons at the same reference (7d reads days 1-7,
 *     30d reads days 1-2: 9 days of rows in all, the first two read by both horizons).
 */
async function fgBNineDays(hosts: number) {
  const dir = join(WORK, `fgb-${hosts}h-${FGB_DAYS}d`);
  const wh = join(dir, 'wh');
  const raw = join(dir, 'synth', 'raw', 'dt={dt}', 'hh={hh}', '*.parquet');
  const marker = join(dir, 'fg_a.ready.json');
  const want = { hosts, days: FGB_DAYS, start: FGB_START, seed: 11 };
  let ready = false;
  try {
    ready = JSON.stringify(JSON.parse(readFileSync(marker, 'utf8'))) === JSON.stringify(want);
  } catch {
    ready = false;
  }
  if (!ready) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const t0 = Date.now();
    await synthesize({ hosts, days: FGB_DAYS, start: FGB_START, seed: 11, out: join(dir, 'synth'), format: 'parquet' });
    const synthSeconds = (Date.now() - t0) / 1000;
    const lastDay = new Date(Date.parse(`${FGB_START}T00:00:00Z`) + (FGB_DAYS - 1) * 86_400_000).toISOString().slice(0, 10);
    const fga = cli(['build', 'fg-a', '--from', FGB_START, '--to', lastDay, '--upstream', '--raw', raw, '--warehouse', wh], {}, '3GB');
    record({ bench: 'fg_b_input_built', hosts, days: FGB_DAYS, synth_seconds: synthSeconds, fg_a_seconds: fga.seconds, fg_a_peak_rss_mb: fga.rssMb });
    writeFileSync(marker, JSON.stringify(want));
  }
  // The default horizons are built for the reference FGB_FGC_BATCH, so that FG-C can score that
  // batch against both (the latest FG-B reference at or before a batch's start applies).
  const variants: [string, Record<string, unknown>, string][] = [
    ['9d', { horizons: { '9d': { days: 9, tail: 0, head: 0 } } }, `${FGB_REFERENCE}T00:00:00Z`],
    ['7d+30d', {}, `${FGB_FGC_BATCH}:00Z`],
  ];
  for (const [name, fgB, reference] of variants) {
    const refMs = Date.parse(reference);
    const refDate = reference.slice(0, 10);
    const specs = join(dir, `jobspecs-${name.replace('+', '_')}`);
    rmSync(specs, { recursive: true, force: true });
    mkdirSync(join(specs, 'demo'), { recursive: true });
    for (const f of readdirSync(join(ROOT, 'jobspecs', 'demo'))) copyFileSync(join(ROOT, 'jobspecs', 'demo', f), join(specs, 'demo', f));
    writeFileSync(join(specs, 'demo', 'fg_b_builder#v1.json'), JSON.stringify(fgB));
    const b = cli(['build', 'fg-b', '--reference', reference, '--force', '--warehouse', wh, '--jobspecs', specs], {}, '2GB');
    const horizons = Object.keys((fgB.horizons as Record<string, unknown>) ?? { '7d': 1, '30d': 1 });
    const pubs = horizons.map((h) => JSON.parse(readFileSync(join(wh, `fg_b/_publication/feature_spec_version=v1/baseline_horizon=${h}/reference_date=${refDate}.json`), 'utf8')));
    // Observations per horizon (a row read by two horizons counts twice: it is aggregated twice).
    const rows = pubs.reduce((n, p) => n + fgARows(wh, Date.parse(p.baseline_start_ts) - 15 * 60_000, Date.parse(p.baseline_end_ts) - 15 * 60_000), 0);
    const steps = Object.fromEntries(
      horizons.map((h) => [h, JSON.parse(readFileSync(join(wh, `fg_b/host/feature_spec_version=v1/baseline_horizon=${h}/reference_date=${refDate}/_manifest.json`), 'utf8')).timings_ms]),
    );
    record({
      bench: 'fg_b_9_days_of_fg_a',
      hosts,
      horizons: name,
      reference,
      fg_a_days: (refMs - Date.parse(`${FGB_START}T00:00:00Z`)) / 86_400_000,
      fg_a_rows: rows,
      host_baseline_rows: pubs.reduce((n, p) => n + p.row_counts.host, 0),
      seconds: b.seconds,
      fg_a_rows_per_s: Math.round(rows / b.seconds),
      peak_rss_mb: b.rssMb,
      memory_limit: '2GB',
      step_ms: steps,
    });
    // FG-C for one batch against both default horizons: #3's shape.
    if (horizons.length > 1)
      record({ bench: 'fg_c_one_batch_two_horizons', hosts, batch: FGB_FGC_BATCH, horizons: name, ...fgCOneBatch(FGB_FGC_BATCH, ['--warehouse', wh, '--raw', raw, '--jobspecs', specs]) });
  }
}

/**
 * `ndr-sql demo --fresh` as a user runs it (its defaults: 60 hosts, 10 days, seed 7), several
 * times, since this VM's speed varies from run to run: wall time and peak RSS of the process,
 * the demo's own step timings and how many injected attackers it ranked in the top 10.
 */
function demoRuns(runs: number) {
  const out = join(WORK, 'demo');
  for (let run = 1; run <= runs; run++) {
    const r = spawnSync('/usr/bin/time', ['-f', 'BENCH %e %M', BIN, 'demo', '--fresh', '--out', out], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    if (r.status !== 0) throw new Error(`ndr-sql demo failed (${r.status}): ${r.stderr.slice(-800)}`);
    const time = /BENCH ([\d.]+) (\d+)/.exec(r.stderr);
    const found = /^(\d+) of (\d+) injected attackers are in the top 10\. Total ([\d.]+) s\.$/m.exec(r.stdout);
    const steps = /^ndr-demo: committed (\d+) partitions in [\d.]+ s \((.*)\)$/m.exec(r.stderr);
    const stepSeconds = Object.fromEntries([...(steps?.[2] ?? '').matchAll(/([\w+]+) ([\d.]+) s/g)].map((m) => [m[1], Number(m[2])]));
    record({
      bench: 'demo', run, seconds: Number(time?.[1]), demo_total_seconds: Number(found?.[3]), attackers_found: Number(found?.[1]), attackers: Number(found?.[2]),
      partitions: Number(steps?.[1]), step_seconds: stepSeconds, peak_rss_mb: Math.round(Number(time?.[2]) / 1024),
    });
  }
  rmSync(out, { recursive: true, force: true });
}

async function main() {
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  const machine = { cpus: cpus().length, model: cpus()[0]?.model, node: process.version };
  record({ bench: 'machine', ...machine });
  const sizes = opts.sizes!.split(',').map(Number);
  for (const size of sizes) {
    if (!['raw', 'fg_a', 'fg_b', 'fg_c'].some((o) => only.has(o))) break;
    const ctx = await rawStage(size);
    if (only.has('raw')) {
      const { benchRawFloor } = await import('./raw-floor.ts');
      record({ bench: 'raw_floor', size, hosts: ctx.hosts, ...(await benchRawFloor(join(ctx.dir, 'pq', 'raw', `dt=${DAY2}`, '**', '*.parquet'))) });
    }
    if (only.has('fg_a')) await fgA(ctx, size);
    // FG-B is linear in FG-A rows: one size suffices (FG-C one batch comes with it)
    if ((only.has('fg_b') || only.has('fg_c')) && size === sizes[0]) fgBC(ctx, size);
  }
  if (only.has('fg_b9')) await fgBNineDays(Number(opts['base-hosts']) * sizes[0]);
  if (only.has('nightly')) record({ bench: 'nightly_day', ...(await nightlyDay(sizes.at(-1)!, opts['memory-limit']!)) });
  if (only.has('s3')) {
    const { benchS3 } = await import('./s3.ts');
    record({ bench: 's3_staged_vs_local', ...(await benchS3(join(WORK, `x${sizes[0]}`), cliAsync)) });
  }
  if (only.has('demo')) demoRuns(Number(opts['demo-runs']));
  if (only.has('publish')) {
    const { benchPublish } = await import('./publish.ts');
    const r = await benchPublish({ log: (line) => console.log(line) });
    for (const run of r.online) record({ bench: 'publish_online', ...run, cpu_calibration_ms: r.cpuCalibrationMs });
    record({ bench: 'publish_offline', ...r.offline });
  }
  const file = join(ROOT, 'bench', 'results', `${new Date().toISOString().slice(0, 10)}.jsonl`);
  for (const r of results) appendFileSync(file, JSON.stringify({ at: new Date().toISOString(), ...r }) + '\n');
  console.log(`\nappended ${results.length} results to ${file}`);
}

await main();
