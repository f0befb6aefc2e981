import { readFile } from 'node:fs/promises';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { S3Client } from '@aws-sdk/client-s3';
import { ObjectCache } from '../../src/storage/cache.ts';
import { globToRegExp, listRawObjects, listRawSlots, s3Globber, staticPrefix, stageRawObjects } from '../../src/storage/s3-raw.ts';
import { ConfigError, UsageError } from '../../src/errors/index.ts';
import { countCommands, newBucket, putObject, s3Client, tmp, type Counter } from './helpers.ts';

const KEYS = [
  'paloalto/dt=2026-11-24/hh=11/a.json.gz',
  'paloalto/dt=2026-11-24/hh=12/a.json.gz',
  'paloalto/dt=2026-11-24/hh=12/b.json.gz',
  'paloalto/dt=2026-11-24/hh=12/notes.txt',
  'paloalto/dt=2026-11-24/hh=12/sub/c.json.gz',
  'paloalto/dt=2026-11-24/hh=13/a.json.gz',
  'paloalto/dt=2026-11-25/hh=12/a.json.gz',
  'paloalto/dt=2026-11-25/hh=23/z.json.gz',
  'zeek/conn.2026-11-24.log',
];

describe('raw listing on s3rver', () => {
  let s3: S3Client;
  let counter: Counter;
  let bucket: string;
  const lists = () => counter.calls.filter((c) => c.command === 'ListObjectsV2').map((c) => [c.input.Prefix, c.input.Delimiter ?? null]);

  beforeAll(async () => {
    s3 = s3Client();
    counter = countCommands(s3);
    bucket = await newBucket(s3, 'ndr-raw');
    for (const k of KEYS) await putObject(s3, bucket, k, `body of ${k}`);
  });
  beforeEach(() => counter.reset());

  it('lists only the prefix of the batches needed (one hour, four batches: one listing)', async () => {
    const slots = ['00', '15', '30', '45'].map((mm) => ({ dt: '2026-11-24', hh: '12', mm }));
    const objects = await listRawObjects(s3, `s3://${bucket}/paloalto/dt={dt}/hh={hh}/*.json.gz`, slots);
    expect(objects.map((o) => o.key)).toEqual(['paloalto/dt=2026-11-24/hh=12/a.json.gz', 'paloalto/dt=2026-11-24/hh=12/b.json.gz']);
    expect(lists()).toEqual([['paloalto/dt=2026-11-24/hh=12/', '/']]);
    expect(objects[0]).toMatchObject({ bucket, size: 'body of paloalto/dt=2026-11-24/hh=12/a.json.gz'.length, uri: `s3://${bucket}/paloalto/dt=2026-11-24/hh=12/a.json.gz` });
    expect(objects[0].etag).toMatch(/^[0-9a-f]{32}$/);
  });

  it('one listing per distinct expanded prefix, and per-slot results', async () => {
    const slots = [
      { dt: '2026-11-24', hh: 12, mm: 0 },
      { dt: '2026-11-24', hh: 13, mm: 0 },
      { dt: '2026-11-25', hh: 12, mm: 15 },
      { dt: '2026-11-25', hh: 5, mm: 15 },
    ];
    const per = await listRawSlots(s3, `s3://${bucket}/paloalto/dt={dt}/hh={hh}/*.json.gz`, slots);
    expect(per.map((p) => [p.pattern, p.objects.map((o) => o.key)])).toEqual([
      ['paloalto/dt=2026-11-24/hh=12/*.json.gz', ['paloalto/dt=2026-11-24/hh=12/a.json.gz', 'paloalto/dt=2026-11-24/hh=12/b.json.gz']],
      ['paloalto/dt=2026-11-24/hh=13/*.json.gz', ['paloalto/dt=2026-11-24/hh=13/a.json.gz']],
      ['paloalto/dt=2026-11-25/hh=12/*.json.gz', ['paloalto/dt=2026-11-25/hh=12/a.json.gz']],
      ['paloalto/dt=2026-11-25/hh=05/*.json.gz', []],
    ]);
    expect(lists().map((l) => l[0]).sort()).toEqual([
      'paloalto/dt=2026-11-24/hh=12/',
      'paloalto/dt=2026-11-24/hh=13/',
      'paloalto/dt=2026-11-25/hh=05/',
      'paloalto/dt=2026-11-25/hh=12/',
    ]);
  });

  it('** crosses directories; the listing then has no delimiter', async () => {
    const objects = await listRawObjects(s3, `s3://${bucket}/paloalto/dt={dt}/**/*.json.gz`, [{ dt: '2026-11-24', hh: '00', mm: '00' }]);
    expect(objects.map((o) => o.key)).toEqual([
      'paloalto/dt=2026-11-24/hh=11/a.json.gz',
      'paloalto/dt=2026-11-24/hh=12/a.json.gz',
      'paloalto/dt=2026-11-24/hh=12/b.json.gz',
      'paloalto/dt=2026-11-24/hh=12/sub/c.json.gz',
      'paloalto/dt=2026-11-24/hh=13/a.json.gz',
    ]);
    expect(lists()).toEqual([['paloalto/dt=2026-11-24/', null]]);
  });

  it('a plain glob with no placeholders lists its static prefix once', async () => {
    const objects = await listRawObjects(s3, `s3://${bucket}/paloalto/dt=2026-11-25/hh=?3/*.json.gz`);
    expect(objects.map((o) => o.key)).toEqual(['paloalto/dt=2026-11-25/hh=23/z.json.gz']);
    expect(lists()).toEqual([['paloalto/dt=2026-11-25/hh=', null]]);
    counter.reset();
    const zeek = await listRawObjects(s3, `s3://${bucket}/zeek/conn.*.log`);
    expect(zeek.map((o) => o.key)).toEqual(['zeek/conn.2026-11-24.log']);
    expect(lists()).toEqual([['zeek/conn.', '/']]);
  });

  it('stages matches into the cache with their extension, and serves as a globber', async () => {
    const cache = new ObjectCache(s3, { cacheDir: await tmp(), maxBytes: 1e9 });
    const objects = await listRawObjects(s3, `s3://${bucket}/paloalto/dt={dt}/hh={hh}/*.json.gz`, [{ dt: '2026-11-24', hh: '12', mm: '00' }]);
    const locals = await stageRawObjects(cache, objects);
    expect(locals.every((p) => p.endsWith('.json.gz'))).toBe(true);
    expect(await readFile(locals[1], 'utf8')).toBe('body of paloalto/dt=2026-11-24/hh=12/b.json.gz');

    const glob = s3Globber(s3, cache);
    const files = await glob(`s3://${bucket}/paloalto/dt=2026-11-24/hh=12/*.json.gz`);
    expect(files.map((f) => f.display)).toEqual(objects.map((o) => o.uri));
    expect(files.map((f) => f.local)).toEqual(locals);
    expect(files[0].fingerprint).toBe(`etag:${objects[0].etag}:${objects[0].size}`);
  });

  it('empty slot lists list nothing', async () => {
    expect(await listRawObjects(s3, `s3://${bucket}/paloalto/dt={dt}/hh={hh}/*.json.gz`, [])).toEqual([]);
    expect(lists()).toEqual([]);
  });

  it('rejects bad templates with a clear message', async () => {
    await expect(listRawObjects(s3, `s3://${bucket}/paloalto/dt={date}/*.gz`, [{ dt: '2026-11-24' }])).rejects.toThrow(
      `raw input URI s3://${bucket}/paloalto/dt={date}/*.gz: unknown placeholder {date}; known: {dt} {hh} {mm}`,
    );
    await expect(listRawObjects(s3, `s3://${bucket}/paloalto/dt={dt}/*.gz`)).rejects.toThrow(UsageError);
    await expect(listRawObjects(s3, `s3://${bucket}/paloalto/dt={dt}/hh={hh}/*.gz`, [{ dt: '2026-11-24' }])).rejects.toThrow(
      `raw input URI s3://${bucket}/paloalto/dt={dt}/hh={hh}/*.gz uses {hh} but no hh value was given`,
    );
    await expect(listRawObjects(s3, `s3://${bucket}/paloalto/dt={dt}/*.gz`, [{ dt: '24.11.2026' }])).rejects.toThrow('raw input dt "24.11.2026" is not YYYY-MM-DD');
    await expect(listRawObjects(s3, 's3://raw-{dt}/x/*.gz', [{ dt: '2026-11-24' }])).rejects.toThrow(ConfigError);
    await expect(listRawObjects(s3, 's3:/raw/x/*.gz')).rejects.toThrow('raw input URI "s3:/raw/x/*.gz" is malformed: expected s3://bucket/prefix');
    await expect(listRawObjects(s3, 's3://ndr-no-such-raw-bucket/x/*.gz')).rejects.toThrow('bucket ndr-no-such-raw-bucket does not exist');
    expect(lists()).toEqual([['x/', '/']]);
  });
});

describe('glob helpers', () => {
  it('static prefix stops at the first wildcard', () => {
    expect(staticPrefix('a/b/c*.gz')).toBe('a/b/c');
    expect(staticPrefix('a/b?/c')).toBe('a/b');
    expect(staticPrefix('a/b/exact.gz')).toBe('a/b/exact.gz');
  });
  it('* and ? stay in a segment, ** crosses segments', () => {
    const star = globToRegExp('a/*.json.gz');
    expect(['a/x.json.gz', 'a/.json.gz', 'a/b/x.json.gz', 'a/x.json'].map((k) => star.test(k))).toEqual([true, true, false, false]);
    const q = globToRegExp('hh=1?/x');
    expect(['hh=12/x', 'hh=1/x', 'hh=123/x'].map((k) => q.test(k))).toEqual([true, false, false]);
    const deep = globToRegExp('a/**/*.gz');
    expect(['a/x.gz', 'a/b/x.gz', 'a/b/c/x.gz', 'b/x.gz'].map((k) => deep.test(k))).toEqual([true, true, true, false]);
    expect(globToRegExp('a+(b)[c].gz').test('a+(b)[c].gz')).toBe(true);
  });
});
