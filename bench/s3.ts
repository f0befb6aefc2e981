/**
 * S3 bench: the same raw stage against a local s3rver (raw input and
 * warehouse on S3, staged through the cache) and against the local disk.
 */
import { readdirSync, statSync, readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createRequire } from 'node:module';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

// s3rver ships no type declarations.
const S3rver = createRequire(import.meta.url)('s3rver') as new (o: Record<string, unknown>) => { run(): Promise<unknown>; close(): Promise<void> };

type Cli = (args: string[], env?: Record<string, string>) => Promise<{ seconds: number; rssMb: number }>;

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true }).map(String).filter((f) => statSync(join(dir, f)).isFile()).map((f) => join(dir, f));
}

export async function benchS3(sizeDir: string, cli: Cli) {
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: mkdtempSync(join(tmpdir(), 's3rver-bench-')) });
  const { port } = (await server.run()) as unknown as { port: number };
  const endpoint = `http://127.0.0.1:${port}`;
  const env = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };
  const s3 = new S3Client({ endpoint, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  try {
    for (const b of ['ndr-raw', 'ndr-wh']) await s3.send(new CreateBucketCommand({ Bucket: b }));
    const rawDir = join(sizeDir, 'pq', 'raw');
    const day = files(rawDir).filter((f) => f.includes('dt=2026-11-24'));
    let bytes = 0;
    for (const f of day) {
      const body = readFileSync(f);
      bytes += body.length;
      await s3.send(new PutObjectCommand({ Bucket: 'ndr-raw', Key: relative(rawDir, f), Body: body }));
    }
    const common = ['build', 'delta,delta_peers,pair_counts', '--date', '2026-11-24', '--raw-format', 'parquet', '--s3-endpoint', endpoint];
    const cache = mkdtempSync(join(tmpdir(), 'ndr-bench-cache-'));
    const cold = await cli([...common, '--raw', 's3://ndr-raw/dt={dt}/hh={hh}/*.parquet', '--warehouse', 's3://ndr-wh/ndr', '--cache-dir', cache], env);
    const warm = await cli([...common, '--raw', 's3://ndr-raw/dt={dt}/hh={hh}/*.parquet', '--warehouse', 's3://ndr-wh/ndr', '--cache-dir', cache, '--force'], env);
    const local = await cli([...common, '--raw', join(rawDir, 'dt={dt}', 'hh={hh}', '*.parquet'), '--warehouse', mkdtempSync(join(tmpdir(), 'ndr-bench-wh-'))]);
    return {
      raw_mb: +(bytes / 1048576).toFixed(2),
      raw_files: day.length,
      s3_cold_seconds: cold.seconds,
      s3_warm_cache_seconds: warm.seconds,
      local_seconds: local.seconds,
      staged_mb_per_s: +(bytes / 1048576 / cold.seconds).toFixed(2),
      overhead_vs_local_pct: Math.round(((cold.seconds - local.seconds) / local.seconds) * 100),
      s3_peak_rss_mb: cold.rssMb,
    };
  } finally {
    await server.close();
  }
}
