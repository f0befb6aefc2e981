/**
 * `ndr-sql synth` from the command line (the generator itself is tested in synth.test.ts):
 * what it prints matches the files and the ground truth it writes, the same seed gives the
 * same bytes of data, and out-of-range options are a one-line usage error (exit 2).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { GroundTruth } from '../src/synth/index.ts';
import { runCli } from './support/cli.ts';
import { tempDir } from './support/context.ts';

const tmp = tempDir('ndr-synth-cli-');
afterAll(() => tmp.cleanup());

const synth = (out: string, extra: string[] = []) =>
  runCli(['synth', '--hosts', '20', '--days', '2', '--start', '2026-11-23', '--seed', '9', '--format', 'ndjson', '--out', out, ...extra]);
const files = (root: string): string[] =>
  readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(root.length + 1))
    .sort();

describe('ndr-sql synth', () => {
  it('writes hourly raw files and a ground truth that its summary line describes', async () => {
    const out = join(tmp.dir, 'a');
    const r = await synth(out);
    expect(r.code, r.stderr).toBe(0);
    const raw = files(join(out, 'raw'));
    // Two days of hourly files, laid out as the URI template dt={dt}/hh={hh}/ expects.
    expect(raw).toHaveLength(48);
    expect(raw[0]).toMatch(/^dt=2026-11-23\/hh=00\/[^/]+\.json\.gz$/);
    expect(raw.at(-1)).toMatch(/^dt=2026-11-24\/hh=23\/[^/]+\.json\.gz$/);
    const truth = JSON.parse(readFileSync(join(out, 'ground_truth.json'), 'utf8')) as GroundTruth;
    expect([truth.seed, truth.start, truth.days, truth.attack_day]).toEqual([9, '2026-11-23', 2, '2026-11-24']);
    const [head, ...attackers] = r.stdout.trim().split('\n');
    expect(head).toMatch(new RegExp(`^wrote \\d+ events in 48 files under ${out}/raw; ground truth: ${join(out, 'ground_truth.json')}$`));
    expect(attackers.map((l) => l.trim().split(/\s+/))).toEqual(truth.attackers.map((a) => [a.kind, a.host_ip]));
  });

  it('the same seed writes the same data; another seed does not', async () => {
    const [a, b, c] = ['a2', 'b2', 'c2'].map((d) => join(tmp.dir, d));
    expect((await synth(a)).code).toBe(0);
    expect((await synth(b)).code).toBe(0);
    expect((await runCli(['synth', '--hosts', '20', '--days', '2', '--start', '2026-11-23', '--seed', '10', '--format', 'ndjson', '--out', c])).code).toBe(0);
    const content = (root: string) => files(join(root, 'raw')).map((f) => readFileSync(join(root, 'raw', f)).toString('base64'));
    expect(content(a)).toEqual(content(b));
    expect(content(a)).not.toEqual(content(c));
  });

  it('an out-of-range option is one line and exit 2', async () => {
    const r = await runCli(['synth', '--hosts', '5', '--days', '2', '--start', '2026-11-23', '--out', join(tmp.dir, 'bad')]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual(['ndr-sql: error: synth: hosts must be an integer in [20, 50000], got 5']);
  });
});
