import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors/index.ts';
import { Logger, RunSummary, createLogger, emitSummary, redact, renderSummaryTable, resolveLogFormat, startProgress } from '../../src/log/index.ts';

function sinks(isTTY = false) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    stdout: { write: (s: string) => out.push(s), isTTY },
    stderr: { write: (s: string) => err.push(s), isTTY },
  };
}
const NOW = () => new Date('2026-11-25T03:04:05.678Z');

describe('log format selection', () => {
  it('defaults to json when stdout is not a TTY, text on a TTY; --log-format overrides', () => {
    expect(resolveLogFormat(undefined, false)).toBe('json');
    expect(resolveLogFormat(undefined, true)).toBe('text');
    expect(resolveLogFormat('json', true)).toBe('json');
    expect(resolveLogFormat('text', false)).toBe('text');
    expect(() => resolveLogFormat('yaml', true)).toThrow(UsageError);
    const s = sinks(false);
    expect(createLogger({ stdout: s.stdout, stderr: s.stderr }).format).toBe('json');
    expect(createLogger({ stdout: { ...s.stdout, isTTY: true }, stderr: s.stderr }).format).toBe('text');
    expect(createLogger({ logFormat: 'text', stdout: s.stdout, stderr: s.stderr }).format).toBe('text');
  });
});

describe('Logger', () => {
  it('json: one object per line on stdout with ts, level, event, the standard fields first, then extras', () => {
    const s = sinks();
    const log = new Logger({ format: 'json', stdout: s.stdout, stderr: s.stderr, now: NOW, base: { project: 'acme' } });
    log.info('partition_committed', { status: 'committed', seconds: 1.25, rows: 96, partition: 'delta/feature_spec_version=v1/dt=2026-11-24/hh=00/mm=00', dataset: 'delta', run_id: 'r1' });
    log.debug('hidden');
    expect(s.err).toEqual([]);
    expect(s.out).toHaveLength(1);
    expect(s.out[0].endsWith('}\n')).toBe(true);
    const rec = JSON.parse(s.out[0]);
    expect(Object.keys(rec)).toEqual(['ts', 'level', 'event', 'dataset', 'partition', 'rows', 'seconds', 'status', 'project', 'run_id']);
    expect(rec).toEqual({
      ts: '2026-11-25T03:04:05.678Z',
      level: 'info',
      event: 'partition_committed',
      dataset: 'delta',
      partition: 'delta/feature_spec_version=v1/dt=2026-11-24/hh=00/mm=00',
      rows: 96,
      seconds: 1.25,
      status: 'committed',
      project: 'acme',
      run_id: 'r1',
    });
  });

  it('text: human lines on stderr; child loggers add fields; debug only at debug level', () => {
    const s = sinks(true);
    const log = new Logger({ format: 'text', level: 'debug', stdout: s.stdout, stderr: s.stderr, now: NOW });
    const child = log.child({ dataset: 'fg_a' });
    child.warn('input_missing', { msg: 'raw input not found', partition: 'dt=2026-11-24/hh=01/mm=15', status: 'missing_input', path: '/data/raw x.json' });
    child.debug('sql', { seconds: 0.1234 });
    expect(s.out).toEqual([]);
    expect(s.err).toEqual([
      '03:04:05 WARN  input_missing raw input not found dataset=fg_a partition=dt=2026-11-24/hh=01/mm=15 status=missing_input path="/data/raw x.json"\n',
      '03:04:05 DEBUG sql dataset=fg_a 0.123s\n',
    ]);
  });

  it('text: a long list shows its first five items and how many more; json keeps it whole', () => {
    const batches = Array.from({ length: 96 }, (_, i) => `b${i}`);
    const t = sinks(true);
    new Logger({ format: 'text', stdout: t.stdout, stderr: t.stderr, now: NOW }).warn('gaps', { msg: '96 missing', batches, few: ['x', 'y'] });
    expect(t.err).toEqual(['03:04:05 WARN  gaps 96 missing batches=["b0","b1","b2","b3","b4",… 91 more] few=["x","y"]\n']);
    const j = sinks();
    new Logger({ format: 'json', stdout: j.stdout, stderr: j.stderr, now: NOW }).warn('gaps', { msg: '96 missing', batches });
    expect(JSON.parse(j.out[0]).batches).toEqual(batches);
  });

  it('never writes credentials', () => {
    const s = sinks();
    const log = new Logger({ format: 'json', stdout: s.stdout, stderr: s.stderr, now: NOW });
    log.error('s3_failed', {
      credentials: { accessKeyId: 'AKIAABCDEFGHIJKLMNOP', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
      sessionToken: 'FQoGZXIvYXdzEJr',
      url: 'https://user:hunter2@example.com/x',
      error: new Error('denied for AKIAABCDEFGHIJKLMNOP with aws_secret_access_key=abc123'),
      endpoint: 'http://127.0.0.1:4569',
    });
    const line = s.out.join('');
    for (const secret of ['AKIAABCDEFGHIJKLMNOP', 'wJalrXUtnFEMI', 'FQoGZXIvYXdzEJr', 'hunter2', 'abc123']) expect(line).not.toContain(secret);
    const rec = JSON.parse(line);
    expect(rec.credentials).toBe('[redacted]');
    expect(rec.sessionToken).toBe('[redacted]');
    expect(rec.url).toBe('https://[redacted]@example.com/x');
    expect(rec.error).toBe('denied for [redacted] with aws_secret_access_key=[redacted]');
    expect(rec.endpoint).toBe('http://127.0.0.1:4569');
    expect(redact({ nested: [{ password: 'p' }] })).toEqual({ nested: [{ password: '[redacted]' }] });
  });
});

describe('summary', () => {
  const summary = () => {
    const s = new RunSummary();
    for (let i = 0; i < 3; i++) s.add({ dataset: 'delta', status: 'committed', rows: 100, seconds: 1.5 });
    s.add({ dataset: 'delta', status: 'missing_input' });
    s.add({ dataset: 'fg_a', status: 'committed', rows: 40, seconds: 2 });
    s.add({ dataset: 'fg_a', status: 'failed', seconds: 0.25 });
    return s;
  };

  it('renders a dataset × status table with rows, seconds and a total', () => {
    const s = summary();
    expect(s.ok).toBe(false);
    expect(renderSummaryTable(s)).toBe(
      [
        'dataset  committed  missing_input  failed  rows  seconds',
        '-------  ---------  -------------  ------  ----  -------',
        'delta            3              1       0   300      4.5',
        'fg_a             1              0       1    40      2.3',
        '-------  ---------  -------------  ------  ----  -------',
        'total            4              1       1   340      6.8',
        '',
      ].join('\n'),
    );
    const ok = new RunSummary();
    ok.add({ dataset: 'delta', status: 'committed' });
    ok.add({ dataset: 'delta', status: 'skipped' });
    expect(ok.ok).toBe(true);
  });

  it('text mode prints the table; json mode emits one summary event', () => {
    const t = sinks(true);
    emitSummary(new Logger({ format: 'text', stdout: t.stdout, stderr: t.stderr }), summary(), t.stdout);
    expect(t.out.join('')).toContain('total            4              1       1   340      6.8');

    const j = sinks(false);
    emitSummary(new Logger({ format: 'json', stdout: j.stdout, stderr: j.stderr, now: NOW }), summary(), j.stdout);
    expect(j.out).toHaveLength(1);
    expect(JSON.parse(j.out[0])).toEqual({
      ts: '2026-11-25T03:04:05.678Z',
      level: 'info',
      event: 'summary',
      rows: 340,
      seconds: 6.75,
      status: 'incomplete',
      counts: { committed: 4, missing_input: 1, failed: 1 },
      datasets: [
        { dataset: 'delta', counts: { committed: 3, missing_input: 1 }, rows: 300, seconds: 4.5 },
        { dataset: 'fg_a', counts: { committed: 1, failed: 1 }, rows: 40, seconds: 2.25 },
      ],
    });
  });
});

describe('progress', () => {
  it('is silent in json mode and when stderr is not a TTY', () => {
    const s = sinks(false);
    const json = startProgress(new Logger({ format: 'json', stdout: s.stdout, stderr: { ...s.stderr, isTTY: true } }), 96, 'delta');
    const text = startProgress(new Logger({ format: 'text', stdout: s.stdout, stderr: s.stderr }), 96, 'delta');
    for (const p of [json, text]) {
      expect(p.active).toBe(false);
      p.tick();
      p.stop();
    }
    expect(s.out).toEqual([]);
    expect(s.err).toEqual([]);
  });

  it('draws a bar on a TTY in text mode and prints log lines above it', async () => {
    const tty = Object.assign(new PassThrough(), { isTTY: true, columns: 120 });
    let drawn = '';
    tty.on('data', (d) => (drawn += d));
    const log = new Logger({ format: 'text', stdout: { write: () => true }, stderr: tty, now: NOW });
    const p = startProgress(log, 3, 'nightly');
    expect(p.active).toBe(true);
    p.tick(1, 'delta 00:00');
    log.info('partition_committed', { dataset: 'delta' });
    p.tick(2, 'delta 00:30');
    p.stop();
    await new Promise((r) => setImmediate(r));
    expect(drawn).toContain('nightly [');
    expect(drawn).toContain('3/3');
    expect(drawn).toContain('03:04:05 INFO  partition_committed dataset=delta');
    // after stop, text logging goes straight to stderr again
    drawn = '';
    log.info('after');
    await new Promise((r) => setImmediate(r));
    expect(drawn).toBe('03:04:05 INFO  after\n');
  });
});
