/**
 * Offline target: Parquet in the SageMaker Feature Store offline-store layout,
 * written by DuckDB and uploaded file by file. No per-row API calls.
 *
 * Layout (AWS Glue table format of the offline store, partitioned by the hour
 * of the event time, not configurable there either):
 *   <offline_s3_uri>/<feature_group>/data/year=YYYY/month=MM/day=DD/hour=HH/<batch>-<n>.parquet
 * or, with `offline_data_uri` (a feature group's ResolvedOutputS3Uri, ending in /data):
 *   <offline_data_uri>/year=YYYY/month=MM/day=DD/hour=HH/<batch>-<n>.parquet
 *
 * Columns: the features (Integral → BIGINT, Fractional → DOUBLE, String →
 * VARCHAR), the EventTime feature (ISO-8601 `...Z` string or Unix seconds),
 * then the three columns Feature Store adds to offline records:
 * `write_time` TIMESTAMP, `api_invocation_time` TIMESTAMP, `is_deleted` BOOLEAN
 * (false). year/month/day/hour are Hive partition directories, not columns.
 *
 * Idempotent per batch: file names derive from the batch id only, and a
 * publication record `<…>/_ndr_publish/<batch>.json` lists the files of the
 * last run. A rerun first marks the record pending with old ∪ new files,
 * uploads (same names overwrite in place), deletes old files that the new run
 * did not produce, then commits the record. A killed run is cleaned up by the
 * next one; rows are never duplicated. (Hive/Athena ignore `_`-prefixed paths.)
 */
import { mkdir, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import pLimit from 'p-limit';
import { ConfigError } from '../errors/index.ts';
import { ident, inline, lit, sql } from '../engine/sql.ts';
import {
  resolveFeatureGroup,
  safeBatchName,
  writeDeadLetters,
  type OfflineFile,
  type PublishOptions,
  type PublishSummary,
} from './common.ts';
import { countRows, featureSelectList, prepareRows, type PreparedRows } from './records.ts';
import { canonicalUri, joinUri, ObjectStore } from './store.ts';

export interface PublicationRecord {
  batch_id: string;
  feature_group: string;
  status: 'pending' | 'committed';
  files: string[];
  rows: number;
  api_invocation_time: string;
  updated_at: string;
}

export function offlineLocations(opts: Pick<PublishOptions, 'spec' | 'batchId'>, featureGroup: string) {
  const { spec } = opts;
  let dataUri: string;
  if (spec.offline_data_uri) dataUri = canonicalUri(spec.offline_data_uri);
  else if (spec.offline_s3_uri) dataUri = canonicalUri(joinUri(spec.offline_s3_uri, featureGroup, 'data'));
  else throw new ConfigError(`publish --target offline: set publish.<dataset>.offline_s3_uri (or offline_data_uri) for feature group ${featureGroup}`);
  const home = /\/data$/.test(dataUri) ? dataUri.slice(0, -'/data'.length) : dataUri;
  const recordUri = joinUri(home, '_ndr_publish', `${safeBatchName(opts.batchId)}.json`);
  return { dataUri, recordUri };
}

const tsLiteral = (d: Date) => sql`CAST(${lit(d.toISOString().replace('Z', ''))} AS TIMESTAMP)`;

export async function publishOffline(opts: PublishOptions): Promise<PublishSummary> {
  const now = opts.now ?? (() => new Date());
  const t0 = performance.now();
  const apiInvocation = now();
  const featureGroup = resolveFeatureGroup(opts.spec, opts.featureGroup);
  const { dataUri, recordUri } = offlineLocations(opts, featureGroup);
  const safe = safeBatchName(opts.batchId);
  const store = new ObjectStore(opts.s3, opts.aws, opts.spec.upload_concurrency);
  const session = opts.session;

  let prepared: PreparedRows | undefined;
  const stageDir = join(opts.workDir, 'staging', `offline-${safe}-${process.pid}-${Date.now()}`);
  try {
    prepared = opts.files.length ? await prepareRows(session, opts.files, opts.spec, featureGroup, 'offline') : undefined;
    const counts = prepared ? await countRows(session, prepared) : { records: 0, publishable: 0, nonFiniteNulled: 0, rejected: {} };

    // 1. Stage: one DuckDB COPY, partitioned by the event hour.
    const staged: { path: string; partition: string; rows: number }[] = [];
    if (prepared && counts.publishable > 0) {
      const et = sql.ref('__pub_et');
      await mkdir(join(opts.workDir, 'staging'), { recursive: true });
      // RETURN_STATS: the files written and their row counts, without listing or reading them.
      const copied = await session.pluck<{ filename: string; count: number }>(
        inline(sql`COPY (
          SELECT ${featureSelectList(prepared, 'typed')},
            ${tsLiteral(now())} AS write_time,
            ${tsLiteral(apiInvocation)} AS api_invocation_time,
            false AS is_deleted,
            strftime(${et}, '%Y') AS "year", strftime(${et}, '%m') AS "month",
            strftime(${et}, '%d') AS "day", strftime(${et}, '%H') AS "hour"
          FROM ${ident(prepared.rowsView)}
          WHERE __pub_reject IS NULL
          ORDER BY __pub_et, __pub_rid
        ) TO ${lit(stageDir)} (FORMAT parquet, PARTITION_BY ("year", "month", "day", "hour"), FILENAME_PATTERN 'part_{i}', OVERWRITE_OR_IGNORE, RETURN_STATS true)`),
        ['filename', 'count'],
      );
      for (const { filename, count } of copied.sort((a, b) => (a.filename < b.filename ? -1 : a.filename > b.filename ? 1 : 0))) {
        const rel = relative(stageDir, filename).split(/[\\/]/);
        staged.push({ path: filename, partition: rel.slice(0, -1).join('/'), rows: count });
      }
    }

    // 2. Deterministic names: <batch>-<n>.parquet per partition.
    const perPartition = new Map<string, number>();
    const files: (OfflineFile & { local: string })[] = staged.map((s) => {
      const n = perPartition.get(s.partition) ?? 0;
      perPartition.set(s.partition, n + 1);
      return { local: s.path, partition: s.partition, uri: joinUri(dataUri, s.partition, `${safe}-${n}.parquet`), rows: s.rows, bytes: 0 };
    });
    const written = files.reduce((a, f) => a + f.rows, 0);
    if (written !== counts.publishable)
      throw new Error(`internal: staged ${written} rows for ${counts.publishable} publishable rows of batch ${opts.batchId}`);

    // 3. Publish: pending record (old ∪ new), upload, delete stale, commit.
    const previous = await store.getJson<PublicationRecord>(recordUri);
    const newUris = new Set(files.map((f) => f.uri));
    const stale = [...new Set((previous?.files ?? []).map(canonicalUri))].filter((u) => !newUris.has(u));
    const record = (status: PublicationRecord['status'], list: string[]): PublicationRecord => ({
      batch_id: opts.batchId,
      feature_group: featureGroup,
      status,
      files: list,
      rows: written,
      api_invocation_time: apiInvocation.toISOString(),
      updated_at: now().toISOString(),
    });
    await store.putJson(recordUri, record('pending', [...new Set([...stale, ...newUris])]));
    const limit = pLimit(opts.spec.upload_concurrency);
    let done = 0;
    await Promise.all(
      files.map((f) =>
        limit(async () => {
          f.bytes = await store.putFile(f.local, f.uri);
          opts.onProgress?.({ done: ++done, total: files.length });
        }),
      ),
    );
    if (stale.length) await store.deleteMany(stale);
    await store.putJson(recordUri, record('committed', files.map((f) => f.uri)));

    // 4. Rows that could not be published.
    const dl = await writeDeadLetters(opts, prepared, counts, 'offline', featureGroup, [], now());

    const elapsedMs = performance.now() - t0;
    const bytes = files.reduce((a, f) => a + f.bytes, 0);
    return {
      target: 'offline',
      featureGroup,
      batchId: opts.batchId,
      records: counts.records,
      published: written,
      deadLettered: dl.count,
      deadLetterReasons: counts.rejected,
      deadLetterFile: dl.file,
      deadLetterUri: dl.uri,
      nonFiniteNulled: counts.nonFiniteNulled,
      retries: 0,
      throttled: 0,
      elapsedMs,
      recordsPerSec: elapsedMs > 0 ? (written * 1000) / elapsedMs : 0,
      offline: {
        dataUri,
        publicationRecord: recordUri,
        files: files.map(({ local: _local, ...f }) => f),
        bytes,
        mbPerSec: elapsedMs > 0 ? bytes / 1e6 / (elapsedMs / 1000) : 0,
        removed: stale,
      },
    };
  } finally {
    await rm(stageDir, { recursive: true, force: true });
    await prepared?.drop();
  }
}
