/**
 * Bad input: each case gives one clear line naming the file, column and rule,
 * the right exit code, and leaves no partial partition visible.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { FIXTURES, REPO, tempDir } from './support/context.ts';
import { runCli } from './support/cli.ts';

const tmp = tempDir('ndr-bad-');
afterAll(() => tmp.cleanup());
const JOBSPECS = join(REPO, 'jobspecs');
const ROW = {
  source_ip: '10.0.0.1', destination_ip: '10.0.0.2', source_port: 1000, destination_port: 443,
  source_bytes: 10, destination_bytes: 20, event_start: '2026-11-24T12:00:05Z', event_end: '2026-11-24T12:00:06Z',
  event_action: 'allow', event_reason: 'tcp-fin', event_name: 'TRAFFIC', network_transport: 'TCP',
};

function ndjson(name: string, rows: Record<string, unknown>[]): string {
  const dir = join(tmp.dir, name);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'part.json');
  writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return file;
}

/** Every data file a reader could take: those listed by committed manifests. */
function visiblePartitions(wh: string): string[] {
  if (!existsSync(wh)) return [];
  return readdirSync(wh, { recursive: true }).map(String).filter((f) => f.endsWith('_manifest.json'));
}

async function build(raw: string, wh: string, jobspecs = JOBSPECS) {
  return runCli(['build', 'delta', '--batch', '2026-11-24T12:00', '--raw', raw, '--raw-format', 'ndjson', '--warehouse', wh, '--jobspecs', jobspecs, '--log-format', 'json']);
}

function expectOneLineError(r: { code: number; stderr: string }, code: number, ...parts: string[]) {
  expect(r.code).toBe(code);
  const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('ndr-sql:'));
  expect(lines).toHaveLength(1);
  for (const p of parts) expect(lines[0]).toContain(p);
  expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace without --debug
}

describe('bad input', () => {
  it('a missing required column names the column, the file and the rule', async () => {
    const { destination_port: _, ...row } = ROW;
    const raw = ndjson('missing-col', [row]);
    const wh = join(tmp.dir, 'wh-missing');
    expectOneLineError(await build(raw, wh), 1, 'destination_port', raw, 'required field present');
    expect(visiblePartitions(wh)).toEqual([]);
  });

  it('a field mapping to a column that does not exist names the mapping and the JobSpec key', async () => {
    const raw = ndjson('bad-map', [ROW]);
    const specs = join(tmp.dir, 'specs-map');
    mkdirSync(join(specs, 'demo'), { recursive: true });
    for (const f of readdirSync(join(JOBSPECS, 'demo'))) copyFileSync(join(JOBSPECS, 'demo', f), join(specs, 'demo', f));
    const pp = JSON.parse(readFileSync(join(specs, 'demo', 'project_parameters#v1.json'), 'utf8'));
    pp.raw_input = { uri: raw, format: 'ndjson', field_mapping: { source_ip: 'src_addr' } };
    writeFileSync(join(specs, 'demo', 'project_parameters#v1.json'), JSON.stringify(pp));
    const r = await runCli(['build', 'delta', '--batch', '2026-11-24T12:00', '--warehouse', join(tmp.dir, 'wh-map'), '--jobspecs', specs]);
    expectOneLineError(r, 1, 'src_addr', 'mapped column exists', 'project_parameters#v1.raw_input.field_mapping');
  });

  it('a corrupt Parquet file and a truncated gzip are named', async () => {
    const dir = join(tmp.dir, 'corrupt');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'bad.parquet'), Buffer.from('PAR1 this is not parquet at all PAR1'));
    const r1 = await runCli(['build', 'delta', '--batch', '2026-11-24T12:00', '--raw', join(dir, 'bad.parquet'), '--raw-format', 'parquet', '--warehouse', join(tmp.dir, 'wh-c1'), '--jobspecs', JOBSPECS]);
    expectOneLineError(r1, 1, 'bad.parquet', 'readable parquet');
    const gz = gzipSync(Buffer.from(JSON.stringify(ROW) + '\n' + JSON.stringify(ROW) + '\n'));
    writeFileSync(join(dir, 'cut.json.gz'), gz.subarray(0, gz.length - 12));
    const r2 = await runCli(['build', 'delta', '--batch', '2026-11-24T12:00', '--raw', join(dir, 'cut.json.gz'), '--raw-format', 'ndjson', '--warehouse', join(tmp.dir, 'wh-c2'), '--jobspecs', JOBSPECS]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain('cut.json.gz');
    expect(visiblePartitions(join(tmp.dir, 'wh-c2'))).toEqual([]);
  });

  it('a non-ISO timestamp is an error naming the value, column and timestamp_format', async () => {
    const raw = ndjson('bad-ts', [ROW, { ...ROW, event_start: '24/11/2026 12:00:09' }]);
    const wh = join(tmp.dir, 'wh-ts');
    expectOneLineError(await build(raw, wh), 1, 'event_start', 'timestamp_format iso', '24/11/2026 12:00:09', raw);
    expect(visiblePartitions(wh)).toEqual([]);
  });

  it('a port set name that is not an identifier is rejected with the zod path', async () => {
    const specs = join(tmp.dir, 'specs-port');
    mkdirSync(join(specs, 'demo'), { recursive: true });
    for (const f of readdirSync(join(JOBSPECS, 'demo'))) copyFileSync(join(JOBSPECS, 'demo', f), join(specs, 'demo', f));
    const pp = JSON.parse(readFileSync(join(specs, 'demo', 'project_parameters#v1.json'), 'utf8'));
    pp.port_sets = { high_risk: [445], 'Bad-Name': [1] };
    writeFileSync(join(specs, 'demo', 'project_parameters#v1.json'), JSON.stringify(pp));
    const r = await build(ndjson('port', [ROW]), join(tmp.dir, 'wh-port'), specs);
    expectOneLineError(r, 1, 'port_sets', 'Bad-Name', 'project_parameters#v1');
  });

  it('an input that exists but is empty for the batch commits an empty partition', async () => {
    const raw = ndjson('empty', [{ ...ROW, event_start: '2026-11-24T13:00:00Z', event_end: '2026-11-24T13:00:01Z' }]);
    const wh = join(tmp.dir, 'wh-empty');
    const dir = join(tmp.dir, 'empty-hourly', 'dt=2026-11-24', 'hh=12');
    mkdirSync(dir, { recursive: true });
    copyFileSync(raw, join(dir, 'part.json'));
    const r = await runCli(['build', 'delta', '--batch', '2026-11-24T12:00', '--raw', join(tmp.dir, 'empty-hourly', 'dt={dt}', 'hh={hh}', '*.json'), '--raw-format', 'ndjson', '--warehouse', wh, '--jobspecs', JOBSPECS]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const manifest = JSON.parse(readFileSync(join(wh, 'delta/feature_spec_version=v1/dt=2026-11-24/hh=12/mm=00/_manifest.json'), 'utf8'));
    expect(manifest.row_count).toBe(0);
    expect(manifest.dq).toMatchObject({ rows_read: 0, rows_kept: 0 });
    expect(manifest.notes.run_dq_unplaced.outside_batch).toBe(1); // the 13:00 event of that file belongs to no batch of this run
  });

  it('no input at all exits 3 "input not ready" and commits nothing', async () => {
    const wh = join(tmp.dir, 'wh-none');
    const r = await runCli(['build', 'delta', '--batch', '2026-11-24T12:00', '--raw', join(tmp.dir, 'nothing', 'dt={dt}', '*.json'), '--raw-format', 'ndjson', '--warehouse', wh, '--jobspecs', JOBSPECS]);
    expectOneLineError(r, 3, 'input not ready');
    expect(visiblePartitions(wh)).toEqual([]);
  });

  it('an unreadable warehouse path is a clear error', async () => {
    const ro = join(tmp.dir, 'readonly');
    mkdirSync(ro);
    chmodSync(ro, 0o500);
    const wh = join(ro, 'wh');
    const r = await build(ndjson('ro', [ROW]), wh);
    // root ignores permission bits; then the build itself succeeds, which is also fine
    if (process.getuid?.() === 0) expect([0, 1]).toContain(r.code);
    else expectOneLineError(r, 1, wh);
    const r2 = await build(ndjson('ro2', [ROW]), join(FIXTURES, 'golden', 'zeek-small', 'case.json', 'wh'));
    expectOneLineError(r2, 1, 'case.json');
  });
});
