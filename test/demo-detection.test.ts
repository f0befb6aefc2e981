/**
 * The README's headline result, guarded: `ndr-sql demo` with its defaults (60 hosts, 10 days,
 * seed 7, the bundled JobSpecs) ranks all four injected attackers in the top 10 by FEATURES.md
 * §7.5, each through a row whose window overlaps its attack. Any change to the templates, the
 * JobSpec defaults or the synthetic traffic that loses an attacker fails here, not silently in
 * the README. (~1 min: the full-size demo.)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_WINDOWS } from '../src/config/jobspec-schemas.ts';
import type { GroundTruth } from '../src/synth/index.ts';
import { runCli } from './support/cli.ts';
import { REPO, tempDir } from './support/context.ts';

const tmp = tempDir('ndr-demo-full-');
const out = join(tmp.dir, 'demo');
// The bundled demo JobSpecs keep FEATURES.md's default windows.
const WINDOW_MINUTES = DEFAULT_WINDOWS;

interface TopRow {
  rank: number;
  host_ip: string;
  window_label: string;
  window_end_ts: string;
  max_strong_deviation_cnt: number;
}

let run: { code: number; stdout: string; stderr: string };
let top: TopRow[];
let truth: GroundTruth;

beforeAll(async () => {
  run = await runCli(['demo', '--out', out]);
  truth = JSON.parse(readFileSync(join(out, 'ground_truth.json'), 'utf8')) as GroundTruth;
  const ranked = await runCli(['top', '--date', '2026-11-24', '--limit', '10', '--format', 'json', '--warehouse', join(out, 'warehouse'), '--jobspecs', join(REPO, 'jobspecs')]);
  expect(ranked.code, ranked.stderr).toBe(0);
  top = ranked.stdout.trim().split('\n').map((l) => JSON.parse(l) as TopRow);
}, 600_000);
afterAll(() => tmp.cleanup());

describe('the default demo', () => {
  it('says it found all four injected attackers', () => {
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^4 of 4 injected attackers are in the top 10\. Total [\d.]+ s\.$/m);
    expect(truth.attackers.map((a) => a.kind).sort()).toEqual(['beaconing', 'exfiltration', 'lateral_movement', 'port_scan']);
  });

  it('ranks each attacker in the top 10 by a row whose window overlaps its attack', () => {
    expect(top).toHaveLength(10);
    for (const a of truth.attackers) {
      const row = top.find((r) => r.host_ip === a.host_ip);
      expect(row, `${a.kind} (${a.host_ip}) in the top 10`).toBeDefined();
      const end = Date.parse(row!.window_end_ts);
      const start = end - WINDOW_MINUTES[row!.window_label] * 60_000;
      expect(start, `${a.kind}: window starts before the attack ends`).toBeLessThan(Date.parse(a.end));
      expect(end, `${a.kind}: window ends after the attack starts`).toBeGreaterThan(Date.parse(a.start));
    }
  });

  it('finds the night-time exfiltration through its own short windows, not a working day', () => {
    const a = truth.attackers.find((x) => x.kind === 'exfiltration')!;
    const row = top.find((r) => r.host_ip === a.host_ip)!;
    expect(WINDOW_MINUTES[row.window_label]).toBeLessThanOrEqual(60);
    expect(Date.parse(row.window_end_ts)).toBeLessThanOrEqual(Date.parse(a.end) + 60 * 60_000);
    // It moves more metrics at once than the ordinary workstations of the top 10 (working-day windows).
    const attackers = new Set(truth.attackers.map((x) => x.host_ip));
    const ordinary = top.filter((r) => !attackers.has(r.host_ip) && r.host_ip.startsWith('10.10.'));
    expect(ordinary.length).toBeGreaterThan(0);
    expect(row.max_strong_deviation_cnt).toBeGreaterThan(Math.max(...ordinary.map((r) => r.max_strong_deviation_cnt)));
  });
});
