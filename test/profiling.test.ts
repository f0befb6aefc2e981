/**
 * The profiling aids of docs/operations.md: NDR_SQL_TRACE_MS prints slow statements, and
 * NDR_SQL_PROFILE_DIR writes one DuckDB JSON profile per template materialization and COPY.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { FIXTURES, REPO, tempDir } from './support/context.ts';
import { runCli } from './support/cli.ts';

const tmp = tempDir('ndr-prof-');
afterAll(() => tmp.cleanup());
afterEach(() => {
  delete process.env.NDR_SQL_TRACE_MS;
  delete process.env.NDR_SQL_PROFILE_DIR;
});

const buildBatch = (wh: string) =>
  runCli(['build', 'delta', '--batch', '2026-03-26T23:45', '--raw', join(FIXTURES, 'raw', 'paloalto', '*.ndjson'), '--raw-format', 'ndjson',
    '--warehouse', wh, '--jobspecs', join(REPO, 'jobspecs'), '--log-format', 'json']);

interface ProfileNode { operator_name?: string; operator_timing?: number; children?: ProfileNode[] }
const operatorNames = (n: ProfileNode): string[] => [n.operator_name ?? '', ...(n.children ?? []).flatMap(operatorNames)];

describe('tracing and profiling', () => {
  it('NDR_SQL_TRACE_MS=0 prints every statement with its time to stderr, and only then', async () => {
    const quiet = await buildBatch(join(tmp.dir, 'wh-quiet'));
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).not.toMatch(/^sql \d+ ms: /m);
    process.env.NDR_SQL_TRACE_MS = '0';
    const traced = await buildBatch(join(tmp.dir, 'wh-trace'));
    expect(traced.code).toBe(0);
    const lines = traced.stderr.split('\n').filter((l) => /^sql \d+ ms: /.test(l));
    expect(lines.some((l) => l.includes('CREATE OR REPLACE TEMP TABLE "out_delta"'))).toBe(true);
    expect(lines.some((l) => l.includes('COPY ('))).toBe(true);
  });

  it('NDR_SQL_PROFILE_DIR writes a JSON profile per template and COPY, with operators and timings', async () => {
    const dir = join(tmp.dir, "profiles, 'quoted'");
    process.env.NDR_SQL_PROFILE_DIR = dir;
    const r = await buildBatch(join(tmp.dir, 'wh-prof'));
    expect(r.code).toBe(0);
    const files = readdirSync(dir);
    const delta = files.find((f) => /^\d{3}-out_delta\.json$/.test(f));
    expect(delta, files.join(', ')).toBeDefined();
    expect(files.some((f) => /^\d{3}-copy\.json$/.test(f))).toBe(true);
    const profile = JSON.parse(readFileSync(join(dir, delta!), 'utf8')) as ProfileNode & { latency: number };
    expect(profile.latency).toBeGreaterThan(0);
    // delta.sql aggregates events per host and batch: its plan has a hash aggregation.
    expect(operatorNames(profile)).toContain('HASH_GROUP_BY');
  });

  it('statements that are not profiled on purpose print nothing to the terminal', () => {
    // DuckDB prints a profile to the process's own stderr when no profiling_output is set,
    // which an in-process CLI run cannot capture: a child process opens a session and runs
    // a SET VARIABLE before any template (as the FG-C runner does).
    const script = `
      const { Session } = await import(${JSON.stringify(join(REPO, 'src', 'engine', 'session.ts'))});
      const s = await Session.open({ specVersion: 'v1' });
      await s.run('SET VARIABLE eps = 1e-6');
      await s.all('SELECT getvariable(\\'eps\\') AS eps');
      s.close();`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: REPO,
      env: { ...process.env, NDR_SQL_PROFILE_DIR: join(tmp.dir, 'profiles-quiet') },
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).not.toContain('query_name');
    expect(readdirSync(join(tmp.dir, 'profiles-quiet'))).toContain('last.json');
  });
});
