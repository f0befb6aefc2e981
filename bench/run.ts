/**
 * `npm run bench`: throughput, peak RSS and growth of every transform.
 *
 *   npm run bench                     # sizes x1 and x4 (500 and 2,000 hosts)
 *   npm run bench -- --base-hosts 250 --sizes 1,2 --only raw,fg_a
 *
 * Pipeline stages run as separate `bin/ndr-sql` processes under /usr/bin/time,
 * so each has its own wall time and peak RSS (memory_limit 1GB unless said).
 * Results are printed as a table and appended as JSON lines to
 * bench/results/<date>.jsonl. Not part of `npm test`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
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
    only: { type: 'string', default: 'raw,fg_a,fg_b,fg_c,s3,nightly,publish' },
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
function cli(args: string[], env: Record<string, string> = {}): { seconds: number; rssMb: number; stderr: string } {
  const r = spawnSync('/usr/bin/time', ['-f', 'BENCH %e %M', BIN, ...args, '--log-format', 'json', '--memory-limit', opts['memory-limit']!], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
  const m = /BENCH ([\d.]+) (\d+)/.exec(r.stderr);
  if (r.status !== 0 && r.status !== 3) throw new Error(`ndr-sql ${args.join(' ')} failed (${r.status}): ${r.stderr.slice(-800)}`);
  return { seconds: Number(m?.[1]), rssMb: Math.round(Number(m?.[2]) / 1024), stderr: r.stderr };
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
  record({ bench: 'fg_a_one_batch', size, hosts: ctx.hosts, windows: 5, lookback_days: 30, seconds: batch.seconds, peak_rss_mb: batch.rssMb });
  const day = cli(['build', 'fg-a', '--date', DAY2, '--warehouse', ctx.wh, '--raw', ctx.raw]);
  record({ bench: 'fg_a_day', size, hosts: ctx.hosts, anchors: 96, seconds: day.seconds, seconds_day1: day1.seconds, peak_rss_mb: day.rssMb });
}

function templateBench(script: string, args: string[], name: string) {
  const r = spawnSync('npx', ['tsx', script, ...args], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  record({ bench: name, args: args.join(' '), status: r.status, output: (r.stdout + r.stderr).trim().split('\n').slice(-6).join(' | ') });
}

async function main() {
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  const machine = { cpus: cpus().length, model: cpus()[0]?.model, node: process.version };
  record({ bench: 'machine', ...machine });
  const sizes = opts.sizes!.split(',').map(Number);
  for (const size of sizes) {
    if (!only.has('raw') && !only.has('fg_a')) break;
    const ctx = await rawStage(size);
    if (only.has('fg_a')) await fgA(ctx, size);
  }
  if (only.has('fg_b')) templateBench('bench/fg-b-template.ts', [], 'fg_b_template_2000_hosts_9_days');
  if (only.has('fg_c')) templateBench('bench/fg-c-template.ts', [], 'fg_c_template_one_batch_2000_hosts');
  if (only.has('nightly')) {
    const { benchNightly } = await import('../src/pipeline/nightly.ts');
    const size = sizes.at(-1)!;
    const dir = join(WORK, `x${size}`);
    record({ bench: 'nightly_day', size, ...(await benchNightly({ warehouse: join(dir, 'wh-nightly'), raw: join(dir, 'pq', 'raw', 'dt={dt}', 'hh={hh}', '*.parquet'), date: DAY2 })) });
  }
  if (only.has('s3')) {
    const { benchS3 } = await import('./s3.ts');
    record({ bench: 's3_staged_vs_local', ...(await benchS3(join(WORK, `x${sizes[0]}`), cli)) });
  }
  if (only.has('publish')) {
    const { benchPublish } = await import('../src/publish/bench.ts');
    record({ bench: 'publish', ...(await benchPublish({})) });
  }
  const file = join(ROOT, 'bench', 'results', `${new Date().toISOString().slice(0, 10)}.jsonl`);
  for (const r of results) appendFileSync(file, JSON.stringify({ at: new Date().toISOString(), ...r }) + '\n');
  console.log(`\nappended ${results.length} results to ${file}`);
  readFileSync(file);
}

await main();
