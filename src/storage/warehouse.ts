/**
 * The warehouse contract shared by the local and the S3 implementation.
 * Layout: <root>/<dataset>/feature_spec_version=<v>/[baseline_horizon=<h>/]dt=/hh=/mm=/
 * Commit protocol: data files get run-unique names; `_manifest.json` is
 * written last; superseded files are deleted only after the new manifest is in place.
 */
import type { Manifest } from './manifest.ts';

export interface StagedPartition {
  /** Partition path relative to the root. */
  partition: string;
  /** Local files (already written by DuckDB) to publish under that partition. */
  localFiles: { path: string; rows: number }[];
  /** The manifest minus `files`, which the warehouse fills in from what it stored. */
  manifest: Omit<Manifest, 'files'>;
}

export interface Warehouse {
  /** Display form, e.g. `/data/wh` or `s3://bucket/prefix` (never with credentials). */
  readonly root: string;
  /** A local directory where this run may stage files before commit. */
  stagingDir(runId: string): Promise<string>;
  /** The committed manifest of a partition, or undefined if none is committed. */
  readManifest(partition: string): Promise<Manifest | undefined>;
  /** Many manifests at once (missing ones are omitted); implementations may parallelise. */
  readManifests(partitions: string[]): Promise<Map<string, Manifest>>;
  /** Local paths DuckDB can read for a committed manifest (S3: downloaded into the cache). */
  localDataFiles(manifest: Manifest): Promise<string[]>;
  /** Publish files then the manifest, atomically per partition; replaces any previous commit whole. */
  commit(staged: StagedPartition): Promise<Manifest>;
  /** Partitions under a prefix that have a committed manifest (relative paths). */
  listCommitted(prefix: string): Promise<string[]>;
  /** Remove a run's staging directory. */
  cleanupStaging(runId: string): Promise<void>;
  /** Write/read a small JSON document that is not a partition (e.g. FG-B publication records). */
  writeJson(path: string, value: unknown): Promise<void>;
  readJson<T>(path: string): Promise<T | undefined>;
  /** Paths (relative to the root) of the JSON documents written with writeJson under a prefix. */
  listJson(prefix: string): Promise<string[]>;
}
