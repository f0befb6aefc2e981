/**
 * A scalar flag given more than once is a usage error naming the flag, for
 * every command (src/cli/repeated-flags.ts): one line on stderr, exit 2 (the
 * usage exit code, EXIT.usage), no stack, nothing run. Array flags (`run
 * --skip`) still take repeats.
 *
 * Every command line carries --warehouse and --cache-dir under a temporary
 * directory, so a command that did run could not touch the repository.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { tempDir } from './support/context.ts';
import { spawnCli } from './nightly/fixture.ts';

const tmp = tempDir('ndr-cli-duplicate-flags-');
const wh = join(tmp.dir, 'wh');
/** A local warehouse and a raw template that matches no file: nothing to read, nothing to build. */
const local = ['--warehouse', wh, '--cache-dir', join(tmp.dir, 'cache')];
const noRaw = [...local, '--raw', join(tmp.dir, 'raw', 'dt={dt}', 'hh={hh}', '*.parquet'), '--raw-format', 'parquet', '--preset', 'paloalto'];
const DAY = '2026-11-24';

afterAll(() => tmp.cleanup());

/** The one line a usage error prints, and its exit code. */
async function usageError(args: string[]): Promise<{ code: number; lines: string[]; stdout: string }> {
  const r = await runCli(args);
  return { code: r.code, lines: r.stderr.trim().split('\n'), stdout: r.stdout };
}

describe('a repeated scalar flag', () => {
  it('top --limit 20 --limit 5: one line naming --limit, exit 2', async () => {
    const r = await usageError(['top', '--date', DAY, '--limit', '20', '--limit', '5', ...local]);
    expect(r).toEqual({ code: 2, lines: ['ndr-sql: error: --limit was given 2 times (20, 5); give it once'], stdout: '' });
  });

  it('top --date X --date Y: one line naming --date, exit 2', async () => {
    const r = await usageError(['top', '--date', DAY, '--date', '2026-11-25', ...local]);
    expect(r).toEqual({ code: 2, lines: ['ndr-sql: error: --date was given 2 times (2026-11-24, 2026-11-25); give it once'], stdout: '' });
  });

  it('run nightly --date X --date Y, and three times: the count and every value', async () => {
    const twice = await usageError(['run', 'nightly', '--date', DAY, '--date', 'yesterday', ...noRaw]);
    expect(twice).toEqual({ code: 2, lines: ['ndr-sql: error: --date was given 2 times (2026-11-24, yesterday); give it once'], stdout: '' });
    const thrice = await usageError(['run', 'nightly', '--date', DAY, '--date=2026-11-25', '--date', 'today', ...noRaw]);
    expect(thrice.lines).toEqual(['ndr-sql: error: --date was given 3 times (2026-11-24, 2026-11-25, today); give it once']);
    expect(thrice.code).toBe(2);
  });

  it('a shared option (--warehouse) and an option with an alias (--batch / --batch-start) are named once', async () => {
    const warehouse = await usageError(['run', 'nightly', '--date', DAY, ...noRaw, '--warehouse', join(tmp.dir, 'other')]);
    expect(warehouse).toEqual({ code: 2, lines: [`ndr-sql: error: --warehouse was given 2 times (${wh}, ${join(tmp.dir, 'other')}); give it once`], stdout: '' });
    const batch = await usageError(['run', 'streaming', '--batch', `${DAY}T00:00:00Z`, '--batch-start', `${DAY}T00:15:00Z`, ...noRaw]);
    expect(batch).toEqual({ code: 2, lines: [`ndr-sql: error: --batch was given 2 times (${DAY}T00:00:00Z, ${DAY}T00:15:00Z); give it once`], stdout: '' });
  });

  it('a choices flag whose two values are both valid is still an error (top --format)', async () => {
    const r = await usageError(['top', '--date', DAY, '--format', 'json', '--format', 'csv', ...local]);
    expect(r).toEqual({ code: 2, lines: ['ndr-sql: error: --format was given 2 times (json, csv); give it once'], stdout: '' });
  });

  it('synth --start twice: nothing is written', async () => {
    const out = join(tmp.dir, 'synth');
    const r = await usageError(['synth', '--start', '2026-11-23', '--start', DAY, '--days', '2', '--hosts', '20', '--out', out]);
    expect(r).toEqual({ code: 2, lines: ['ndr-sql: error: --start was given 2 times (2026-11-23, 2026-11-24); give it once'], stdout: '' });
    expect(existsSync(out)).toBe(false);
  });

  it('two repeated flags are both named, on one line', async () => {
    const r = await usageError(['top', '--date', DAY, '--date', '2026-11-25', '--limit', '1', '--limit=2', ...local]);
    expect(r.lines).toEqual(['ndr-sql: error: --date was given 2 times (2026-11-24, 2026-11-25) and --limit was given 2 times (1, 2); give each once']);
    expect(r.code).toBe(2);
  });

  it('bin/ndr-sql as a child process: the same line, exit 2, no stack', async () => {
    const childWh = join(tmp.dir, 'wh-child');
    const r = await spawnCli(['top', '--date', DAY, '--limit', '20', '--limit', '5', '--warehouse', childWh, '--cache-dir', join(childWh, '.cache')]).done;
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('ndr-sql: error: --limit was given 2 times (20, 5); give it once\n');
    expect(r.stdout).toBe('');
    // Refused before the command ran: no warehouse was opened.
    expect(existsSync(childWh)).toBe(false);
  });

  it('--help still prints the help, exit 0 (yargs writes it through console.log: a child process)', async () => {
    const r = await spawnCli(['top', '--help', '--limit', '1', '--limit', '2']).done;
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^ndr-sql top\n/);
    expect(r.stdout).toMatch(/--limit/);
  });
});

describe('an array flag (run nightly --skip) still takes repeats', () => {
  it('--skip fg-b --skip fg-c leaves out both steps', async () => {
    const r = await runCli(['run', 'nightly', '--date', DAY, '--skip', 'fg-b', '--skip', 'fg-c', ...noRaw, '--log-format', 'json']);
    expect(r.stderr).not.toMatch(/was given/);
    const events = r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { event: string; msg?: string; dataset?: string });
    expect(events.find((e) => e.event === 'not_run')?.msg).toBe('fg_b (--skip), fg_c (--skip)');
    expect(events.filter((e) => e.event === 'step').map((e) => e.dataset)).toEqual(['delta+delta_peers+pair_counts', 'fg_a']);
    // No raw input for the day: the raw stage and FG-A report missing input (exit 3), not a usage error.
    expect(r.code).toBe(3);
  });

  it('every repeated value reaches the command: a bad second value is named by --skip', async () => {
    const r = await usageError(['run', 'nightly', '--date', DAY, '--skip', 'fg-b', '--skip', 'nope', ...noRaw]);
    expect(r).toEqual({ code: 2, lines: ['ndr-sql: error: --skip nope: expected one of fg_a, fg_b, fg_c (fg-a spelling accepted)'], stdout: '' });
  });
});
