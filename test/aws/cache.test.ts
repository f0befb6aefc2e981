import { readdir, readFile, stat, utimes, writeFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ObjectCache, cacheKey, normalizeEtag } from '../../src/storage/cache.ts';
import { S3Warehouse } from '../../src/storage/s3.ts';
import { listRawObjects, stageRawObjects } from '../../src/storage/s3-raw.ts';
import { TransientError } from '../../src/errors/index.ts';
import { countCommands, newBucket, putObject, s3Client, tmp, type Counter } from './helpers.ts';

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const shard of await readdir(dir).catch(() => [] as string[]))
    for (const f of await readdir(join(dir, shard))) out.push(join(shard, f));
  return out.sort();
}

describe('object cache on s3rver', () => {
  let s3: S3Client;
  let counter: Counter;
  let bucket: string;

  beforeEach(async () => {
    s3 = s3Client();
    counter = countCommands(s3);
    bucket = await newBucket(s3);
  });

  it('a second run with unchanged ETags downloads nothing', async () => {
    const etags = [];
    for (const k of ['a.parquet', 'b.parquet', 'c.parquet']) etags.push(await putObject(s3, bucket, `in/${k}`, `content of ${k}`));
    const cacheDir = await tmp();
    const objects = await listRawObjects(s3, `s3://${bucket}/in/*.parquet`);
    expect(objects.map((o) => o.etag)).toEqual(etags.map(normalizeEtag));

    counter.reset();
    const run1 = new ObjectCache(s3, { cacheDir, maxBytes: 1e9 });
    const p1 = await stageRawObjects(run1, objects);
    expect(counter.count('GetObject')).toBe(3);
    expect(run1.stats).toEqual({ hits: 0, downloads: 3, bytesDownloaded: 3 * 'content of a.parquet'.length, evictions: 0 });
    expect(await readFile(p1[1], 'utf8')).toBe('content of b.parquet');

    // a new process: new cache object over the same directory, fresh listing
    counter.reset();
    const run2 = new ObjectCache(s3, { cacheDir, maxBytes: 1e9 });
    const p2 = await stageRawObjects(run2, await listRawObjects(s3, `s3://${bucket}/in/*.parquet`));
    expect(counter.count('GetObject')).toBe(0);
    expect(run2.stats.hits).toBe(3);
    expect(p2).toEqual(p1);
    // content-addressed by bucket/key/ETag, keeping the object's base name
    const h = cacheKey(bucket, 'in/a.parquet', etags[0]);
    expect(p1[0]).toBe(join(cacheDir, 's3', h.slice(0, 2), `${h}-a.parquet`));
    // atomic: no temp files remain
    expect((await filesUnder(join(cacheDir, 's3'))).filter((f) => f.includes('.part-'))).toEqual([]);
  });

  it('a changed object (new ETag) is a new cache entry and is downloaded', async () => {
    await putObject(s3, bucket, 'in/x.json', 'v1');
    const cache = new ObjectCache(s3, { cacheDir: await tmp(), maxBytes: 1e9 });
    const [first] = await stageRawObjects(cache, await listRawObjects(s3, `s3://${bucket}/in/x.json`));
    await putObject(s3, bucket, 'in/x.json', 'v2-longer');
    counter.reset();
    const [second] = await stageRawObjects(cache, await listRawObjects(s3, `s3://${bucket}/in/x.json`));
    expect(counter.count('GetObject')).toBe(1);
    expect(second).not.toBe(first);
    expect(await readFile(second, 'utf8')).toBe('v2-longer');
  });

  it('concurrent requests for one object download it once', async () => {
    await putObject(s3, bucket, 'in/one.bin', 'x'.repeat(5000));
    const [o] = await listRawObjects(s3, `s3://${bucket}/in/one.bin`);
    const cache = new ObjectCache(s3, { cacheDir: await tmp(), maxBytes: 1e9 });
    counter.reset();
    const paths = await Promise.all([cache.fetch(o), cache.fetch(o), cache.fetch(o)]);
    expect(new Set(paths).size).toBe(1);
    expect(counter.count('GetObject')).toBe(1);
  });

  it('evicts the least recently used entries beyond maxBytes; a hit refreshes an entry', async () => {
    for (const k of ['o1', 'o2', 'o3']) await putObject(s3, bucket, `lru/${k}.bin`, Buffer.alloc(1000, k));
    const objs = await listRawObjects(s3, `s3://${bucket}/lru/*.bin`);
    const cacheDir = await tmp();
    const cache = new ObjectCache(s3, { cacheDir, maxBytes: 2500, protectMs: 0 });
    const [p1, p2] = await stageRawObjects(cache, objs.slice(0, 2));
    const now = Date.now() / 1000;
    await utimes(p1, now - 300, now - 300);
    await utimes(p2, now - 200, now - 200);
    await cache.fetch(objs[0]); // hit: o1 becomes the most recently used of the two
    expect((await stat(p1)).mtimeMs).toBeGreaterThan((now - 10) * 1000);
    const p3 = await cache.fetch(objs[2]); // 3000 bytes > 2500: evict down to 90% (2250)
    expect(cache.stats.evictions).toBe(1);
    expect(await filesUnder(join(cacheDir, 's3'))).toEqual([p1, p3].map((p) => p.slice(join(cacheDir, 's3').length + 1)).sort());
    expect(await cache.size()).toBe(2000);
    // o2 comes back on demand
    counter.reset();
    await cache.fetch(objs[1]);
    expect(counter.count('GetObject')).toBe(1);
  });

  it('recently used entries are protected from eviction (a query may be reading them)', async () => {
    for (const k of ['p1', 'p2', 'p3']) await putObject(s3, bucket, `prot/${k}.bin`, Buffer.alloc(1000, k));
    const objs = await listRawObjects(s3, `s3://${bucket}/prot/*.bin`);
    const cache = new ObjectCache(s3, { cacheDir: await tmp(), maxBytes: 1500 });
    await stageRawObjects(cache, objs);
    expect(cache.stats.evictions).toBe(0);
    expect(await cache.size()).toBe(3000);
  });

  it('an abandoned partial download is not a cache hit', async () => {
    await putObject(s3, bucket, 'in/p.json', '{"a":1}');
    const [o] = await listRawObjects(s3, `s3://${bucket}/in/p.json`);
    const cache = new ObjectCache(s3, { cacheDir: await tmp(), maxBytes: 1e9 });
    const final = cache.pathFor(o);
    await mkdir(dirname(final), { recursive: true });
    await writeFile(`${final}.part-99999-dead`, '{"a"');
    await writeFile(final, '{"'); // truncated file of the wrong size: fetched again
    counter.reset();
    expect(await readFile(await cache.fetch(o), 'utf8')).toBe('{"a":1}');
    expect(counter.count('GetObject')).toBe(1);
  });

  it('an object deleted between listing and download is a clear error naming it', async () => {
    await putObject(s3, bucket, 'raw/dt=2026-11-24/a.json.gz', 'a');
    await putObject(s3, bucket, 'raw/dt=2026-11-24/b.json.gz', 'b');
    const objects = await listRawObjects(s3, `s3://${bucket}/raw/dt={dt}/*.json.gz`, [{ dt: '2026-11-24' }]);
    expect(objects.map((o) => o.key)).toEqual(['raw/dt=2026-11-24/a.json.gz', 'raw/dt=2026-11-24/b.json.gz']);
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'raw/dt=2026-11-24/b.json.gz' }));
    const err = await stageRawObjects(new ObjectCache(s3, { cacheDir: await tmp(), maxBytes: 1e9 }), objects).catch((e) => e);
    expect(err).toBeInstanceOf(TransientError);
    expect(err.message).toBe(
      `s3://${bucket}/raw/dt=2026-11-24/b.json.gz vanished between listing and download (NoSuchKey): it was deleted or replaced while this run read it`,
    );
  });

  it('an object replaced between listing and download is a clear error naming it', async () => {
    const etag = normalizeEtag(await putObject(s3, bucket, 'raw/c.json', 'old'));
    const objects = await listRawObjects(s3, `s3://${bucket}/raw/c.json`);
    const now = normalizeEtag(await putObject(s3, bucket, 'raw/c.json', 'new content'));
    const cacheDir = await tmp();
    const err = await stageRawObjects(new ObjectCache(s3, { cacheDir, maxBytes: 1e9 }), objects).catch((e) => e);
    expect(err).toBeInstanceOf(TransientError);
    expect(err.message).toBe(
      `s3://${bucket}/raw/c.json changed between listing and download (ETag ${etag} listed, ${now} now): it was replaced while this run read it`,
    );
    expect(await filesUnder(join(cacheDir, 's3'))).toEqual([]);
  });

  it('files just committed are adopted into the cache: reading them back downloads nothing', async () => {
    const cacheDir = await tmp();
    const wh = new S3Warehouse(`s3://${bucket}/wh`, { s3, cacheDir, cacheMaxBytes: 1e9 });
    const dir = await wh.stagingDir('r1');
    await writeFile(join(dir, 'part-r1-0.parquet'), 'payload');
    const m = await wh.commit({
      partition: 'fg_a/feature_spec_version=v1/dt=2026-11-24/hh=00/mm=00',
      localFiles: [{ path: join(dir, 'part-r1-0.parquet'), rows: 1 }],
      manifest: { dataset: 'fg_a', partition: 'fg_a/feature_spec_version=v1/dt=2026-11-24/hh=00/mm=00' } as never,
    });
    counter.reset();
    const [local] = await wh.localDataFiles(m);
    expect(counter.count('GetObject')).toBe(0);
    expect(counter.count('ListObjectsV2')).toBe(0);
    expect(await readFile(local, 'utf8')).toBe('payload');
  });
});
