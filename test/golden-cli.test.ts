/**
 * `ndr-sql golden check|update` from the command line, on a copy of the zeek-small case (the
 * committed golden files were verified by hand in test/golden.test.ts): check passes on the
 * copy, catches one altered value (exit 1, naming the case and dataset), and update rewrites
 * exactly the committed, reviewed files.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { FIXTURES, REPO, tempDir } from './support/context.ts';

const tmp = tempDir('ndr-golden-cli-');
const ORIGINAL = join(FIXTURES, 'golden', 'zeek-small');
const dir = join(tmp.dir, 'golden');
const copy = join(dir, 'zeek-small');
const golden = (action: 'check' | 'update') =>
  runCli(['golden', action, '--dir', dir, '--case', 'zeek-small', '--warehouse', join(tmp.dir, `wh-${action}`), '--jobspecs', join(REPO, 'jobspecs'), '--log-format', 'json']);
const events = (stdout: string) => stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, string>);

beforeAll(() => {
  cpSync(ORIGINAL, copy, { recursive: true });
  // The case names its raw input relative to its own directory: point the copy at the fixture.
  const c = JSON.parse(readFileSync(join(copy, 'case.json'), 'utf8'));
  c.raw = resolve(ORIGINAL, c.raw);
  writeFileSync(join(copy, 'case.json'), JSON.stringify(c, null, 2));
});
afterAll(() => tmp.cleanup());

describe('ndr-sql golden', () => {
  it('check passes on the committed files', async () => {
    const r = await golden('check');
    expect(r.code, r.stderr).toBe(0);
    expect(events(r.stdout).find((e) => e.event === 'golden_ok')).toMatchObject({ case: 'zeek-small', datasets: 'delta,pair_counts' });
  });

  it('check fails on one altered value, naming the case and dataset; update restores the reviewed files exactly', async () => {
    const file = join(copy, 'delta.csv');
    const [header, first, ...rest] = readFileSync(file, 'utf8').split('\n');
    const cols = header.split(',');
    const at = cols.indexOf('sessions_cnt');
    const cells = first.split(',');
    cells[at] = String(Number(cells[at]) + 1);
    writeFileSync(file, [header, cells.join(','), ...rest].join('\n'));

    const bad = await golden('check');
    expect(bad.code).toBe(1);
    const mismatches = events(bad.stdout).filter((e) => e.event === 'golden_mismatch');
    expect(mismatches.map((e) => [e.case, e.dataset])).toEqual([['zeek-small', 'delta']]);

    const up = await golden('update');
    expect(up.code, up.stderr).toBe(0);
    for (const f of ['delta.csv', 'pair_counts.csv']) expect(readFileSync(join(copy, f), 'utf8'), f).toBe(readFileSync(join(ORIGINAL, f), 'utf8'));
    expect((await golden('check')).code).toBe(0);
  });
});
