import { DuckDBInstance } from '@duckdb/node-api';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, TransientError } from '../../src/errors/index.ts';
import { partitionTimeMs } from '../../src/pipeline/ledger.ts';
import { LEDGER_FILE, LocalLedger } from '../../src/pipeline/ledger-local.ts';

const ROOT = process.cwd();
const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'ndr-ledger-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const part = (hh: string, mm: string, dataset = 'delta') => `${dataset}/feature_spec_version=v1/dt=2026-11-24/hh=${hh}/mm=${mm}`;
const key = { project: 'acme', version: 'v1', dataset: 'delta', partition: part('12', '15') };

describe('partitionTimeMs', () => {
  it('reads dt/hh/mm and reference_date from a partition path', () => {
    expect(partitionTimeMs(part('12', '15'))).toBe(Date.parse('2026-11-24T12:15:00Z'));
    expect(partitionTimeMs('delta_peers_daily/feature_spec_version=v1/dt=2026-11-24')).toBe(Date.parse('2026-11-24T00:00:00Z'));
    expect(partitionTimeMs('fg_b/host/feature_spec_version=v1/baseline_horizon=7d/reference_date=2026-11-01')).toBe(Date.parse('2026-11-01T00:00:00Z'));
    expect(partitionTimeMs('misc/thing')).toBeNull();
  });
});

describe('LocalLedger', () => {
  it('upserts one record per key, increments attempts on each running, keeps the manifest pointer', async () => {
    const wh = tmp();
    const ledger = LocalLedger.forWarehouse(wh);
    expect(ledger.file).toBe(join(wh, LEDGER_FILE));

    const r1 = await ledger.record({ ...key, status: 'running' });
    expect(r1).toMatchObject({ status: 'running', attempts: 1, last_error: null, manifest: null, finished_at: null, rows: null });
    expect(r1.started_at).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect(r1.partition_ms).toBe(Date.parse('2026-11-24T12:15:00Z'));

    const r2 = await ledger.record({ ...key, status: 'failed', last_error: 'rule not_null: column src_ip', seconds: 0.5 });
    expect(r2).toMatchObject({ status: 'failed', attempts: 1, last_error: 'rule not_null: column src_ip', seconds: 0.5, started_at: r1.started_at });
    expect(r2.finished_at).not.toBeNull();

    const r3 = await ledger.record({ ...key, status: 'running' });
    expect(r3).toMatchObject({ status: 'running', attempts: 2, last_error: 'rule not_null: column src_ip', finished_at: null });

    const r4 = await ledger.record({ ...key, status: 'committed', rows: 1234, seconds: 2.25, manifest: { partition: key.partition, run_id: 'run-2' } });
    expect(r4).toMatchObject({ status: 'committed', attempts: 2, last_error: null, rows: 1234, seconds: 2.25, manifest: { partition: key.partition, run_id: 'run-2' } });

    // a later failed rerun keeps pointing at the committed manifest readers still see
    await ledger.record({ ...key, status: 'running' });
    const r6 = await ledger.record({ ...key, status: 'failed', last_error: 'boom' });
    expect(r6).toMatchObject({ attempts: 3, manifest: { partition: key.partition, run_id: 'run-2' }, last_error: 'boom' });

    expect(await ledger.get(key)).toEqual(r6);
    expect(await ledger.get({ ...key, partition: part('12', '30') })).toBeUndefined();
    const all = await ledger.list({ project: 'acme', version: 'v1' });
    expect(all).toHaveLength(1); // one record per key, not one per call
    await ledger.close();
  });

  it('lists by dataset, status and [fromMs, toMs) of the partition time; survives reopen', async () => {
    const wh = tmp();
    const ledger = LocalLedger.forWarehouse(wh);
    const batches = ['00', '15', '30', '45'];
    await Promise.all(
      batches.flatMap((mm) => [
        ledger.record({ ...key, partition: part('10', mm), status: mm === '30' ? 'missing_input' : 'committed', rows: 10 }),
        ledger.record({ ...key, dataset: 'delta_peers', partition: part('10', mm, 'delta_peers'), status: 'committed', rows: 20 }),
      ]),
    );
    await ledger.record({ ...key, version: 'v2', partition: part('10', '00'), status: 'committed' });
    await ledger.record({ ...key, project: 'other', partition: part('10', '00'), status: 'committed' });
    await ledger.close();

    const reopened = new LocalLedger(join(wh, LEDGER_FILE));
    const v1 = await reopened.list({ project: 'acme', version: 'v1' });
    expect(v1.map((e) => `${e.dataset}@${e.partition.slice(-11)}:${e.status}`)).toEqual([
      'delta@hh=10/mm=00:committed',
      'delta@hh=10/mm=15:committed',
      'delta@hh=10/mm=30:missing_input',
      'delta@hh=10/mm=45:committed',
      'delta_peers@hh=10/mm=00:committed',
      'delta_peers@hh=10/mm=15:committed',
      'delta_peers@hh=10/mm=30:committed',
      'delta_peers@hh=10/mm=45:committed',
    ]);
    expect(v1.find((e) => e.status === 'missing_input')?.attempts).toBe(0);

    const range = await reopened.list({
      project: 'acme',
      version: 'v1',
      dataset: 'delta',
      fromMs: Date.parse('2026-11-24T10:15:00Z'),
      toMs: Date.parse('2026-11-24T10:45:00Z'),
    });
    expect(range.map((e) => e.partition)).toEqual([part('10', '15'), part('10', '30')]);
    expect((await reopened.list({ project: 'acme', version: 'v1', status: 'missing_input' })).map((e) => e.partition)).toEqual([part('10', '30')]);
    expect(await reopened.list({ project: 'acme', version: 'v2' })).toHaveLength(1);
    await reopened.close();

    // the file is a plain DuckDB database that is closed between operations
    const db = await DuckDBInstance.create(join(wh, LEDGER_FILE));
    const conn = await db.connect();
    const rows = (await conn.runAndReadAll('SELECT count(*)::INT AS n, sum("rows")::INT AS r FROM ledger')).getRowObjectsJS();
    expect(rows).toEqual([{ n: 10, r: 120 + 0 }]);
    conn.closeSync();
    db.closeSync();
  });

  it('waits while another process holds the DuckDB file, and gives up with a transient error after busyTimeoutMs', async () => {
    const wh = tmp();
    const file = join(wh, LEDGER_FILE);
    // A child process opens the ledger file (taking DuckDB's single-writer lock) and holds it for 1.5 s.
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { DuckDBInstance } from '@duckdb/node-api';
         const db = await DuckDBInstance.create(${JSON.stringify(file)});
         console.log('open');
         setTimeout(() => { db.closeSync(); console.log('closed'); }, 1500);`,
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise((r) => child.once('exit', r));
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d) => {
        out += d;
        if (out.includes('open')) resolve();
      });
      child.on('exit', () => reject(new Error(`child exited early: ${out}`)));
    });

    const impatient = new LocalLedger(file, { busyTimeoutMs: 300 });
    const t0 = Date.now();
    const err = await impatient.record({ ...key, status: 'running' }).catch((e) => e);
    expect(err).toBeInstanceOf(TransientError);
    expect(err.message).toContain(`ledger ${file} is busy`);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);

    const patient = new LocalLedger(file, { busyTimeoutMs: 20_000 });
    const entry = await patient.record({ ...key, status: 'running' });
    expect(out).toContain('closed'); // it only got in after the child let go
    expect(entry.attempts).toBe(1);
    await exited;
    await patient.close();
  }, 30_000);

  it('refuses an s3:// warehouse', () => {
    expect(() => LocalLedger.forWarehouse('s3://bucket/wh')).toThrow(ConfigError);
  });
});
