/**
 * `ndr-sql demo`, the README's first command, at a small scale (20 hosts, 5 days, a 3-day
 * horizon through --jobspecs): it synthesizes, builds the whole chain, and prints the
 * attack day's ranking with the injected attackers marked from the ground truth. The
 * marks, the "N of 4" line and the printed `top` command are checked against the ground
 * truth file and the warehouse. (Ranking values are checked in test/fg-pipeline.test.ts;
 * the full-size demo's time and result are in the README.)
 */
import { cpSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reusableDemoData } from '../src/cli/commands/demo.ts';
import { PACKAGE_VERSION } from '../src/pipeline/context.ts';
import type { GroundTruth } from '../src/synth/index.ts';
import { runCli } from './support/cli.ts';
import { REPO, tempDir } from './support/context.ts';

const tmp = tempDir('ndr-demo-');
const out = join(tmp.dir, 'demo');
const specs = join(tmp.dir, 'jobspecs');
const demoArgs = ['demo', '--out', out, '--hosts', '20', '--days', '5', '--jobspecs', specs];
let run: { code: number; stdout: string; stderr: string };
const rankedLines = (stdout: string) => stdout.split('\n').filter((l) => /^\s+\d+ \S/.test(l));

beforeAll(async () => {
  cpSync(join(REPO, 'jobspecs'), specs, { recursive: true });
  writeFileSync(join(specs, 'demo', 'fg_b_builder#v1.json'), JSON.stringify({ horizons: { '3d': { days: 3, tail: 1, head: 1 } } }));
  run = await runCli(demoArgs);
}, 300_000);
afterAll(() => tmp.cleanup());

describe('ndr-sql demo', () => {
  it('builds the chain and prints the ranking with the ground truth marked', () => {
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/^ndr-demo: synthesizing 20 hosts x 5 days \(2026-11-20 \.\. 2026-11-24\)/m);
    expect(run.stderr).toMatch(/^ndr-demo: committed \d+ partitions in [\d.]+ s \(delta\+delta_peers\+pair_counts [\d.]+ s, .*fg_c [\d.]+ s\)$/m);
    expect(run.stdout).toContain('Top anomalous hosts on 2026-11-24 (horizon 3d, ranked by FEATURES.md §7.5):');

    const truth = JSON.parse(readFileSync(join(out, 'ground_truth.json'), 'utf8')) as GroundTruth;
    expect(truth.attackers.map((a) => a.kind).sort()).toEqual(['beaconing', 'exfiltration', 'lateral_movement', 'port_scan']);
    const kindOf = new Map(truth.attackers.map((a) => [a.host_ip, a.kind]));
    const ranked = run.stdout.split('\n').filter((l) => /^\s+\d+ \S/.test(l));
    expect(ranked.map((l) => Number(l.trim().split(/\s+/)[0]))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const hosts = ranked.map((l) => l.trim().split(/\s+/)[1]);
    expect(new Set(hosts).size).toBe(10);
    // A row is marked exactly when its host is an injected attacker, with that attacker's kind.
    for (const [i, l] of ranked.entries()) {
      const kind = kindOf.get(hosts[i]);
      if (kind) expect(l).toMatch(new RegExp(`<= injected ${kind}$`));
      else expect(l).not.toContain('<= injected');
    }
    const found = hosts.filter((h) => kindOf.has(h)).length;
    expect(run.stdout).toMatch(new RegExp(`^${found} of 4 injected attackers are in the top 10\\. Total [\\d.]+ s\\.$`, 'm'));
  });

  it('committed FG-C for every batch of the attack day, and the printed top command works', async () => {
    const fgC = join(out, 'warehouse', 'fg_c', 'feature_spec_version=v1', 'baseline_horizon=3d', 'dt=2026-11-24');
    const batches = readdirSync(fgC).flatMap((hh) => readdirSync(join(fgC, hh)));
    expect(batches).toHaveLength(96);
    const explore = run.stdout.split('\n').find((l) => l.startsWith('Explore: ndr-sql '))!;
    const args = explore.replace('Explore: ndr-sql ', '').split(' ');
    expect(args).toEqual(expect.arrayContaining(['top', '--date', '2026-11-24', '--horizon', '3d', '--format', 'json']));
    const top = await runCli(args);
    expect(top.code, top.stderr).toBe(0);
    const rows = top.stdout.trim().split('\n').map((l) => JSON.parse(l) as { rank: number; host_ip: string });
    const printed = run.stdout.split('\n').filter((l) => /^\s+\d+ \S/.test(l)).map((l) => l.trim().split(/\s+/)[1]);
    expect(rows.slice(0, 10).map((r) => r.host_ip)).toEqual(printed);
  });

  it('a second run reuses the synthetic traffic: nothing to rebuild, the same ranking', async () => {
    const again = await runCli(demoArgs);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/^ndr-demo: reusing the \d+ synthetic events in .* \(20 hosts x 5 days, seed 7; --fresh synthesizes them again\)$/m);
    expect(again.stderr).not.toContain('synthesizing');
    expect(again.stderr).toMatch(/^ndr-demo: committed 0 partitions in /m);
    expect(rankedLines(again.stdout)).toEqual(rankedLines(run.stdout));
  });

  it('reuses only what this version generated with the same parameters, with every file present', () => {
    const want = { ndr_sql: PACKAGE_VERSION, hosts: 20, days: 5, start: '2026-11-20', seed: 7 };
    const data = reusableDemoData(out, want)!;
    expect(data).toMatchObject({ ...want, files: expect.any(Array) });
    expect(data.files).toHaveLength(5 * 24);
    expect(reusableDemoData(out, { ...want, seed: 8 })).toBeUndefined();
    expect(reusableDemoData(out, { ...want, ndr_sql: '0.0.0' })).toBeUndefined();
    rmSync(join(out, data.files[0]));
    expect(reusableDemoData(out, want)).toBeUndefined();
  });
});
