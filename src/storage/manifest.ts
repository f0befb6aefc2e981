/**
 * The partition manifest: written last, it is what makes a partition visible.
 * Readers take its file list, never a glob (ARCHITECTURE.md principle 5).
 */
export const MANIFEST_NAME = '_manifest.json';

export interface ManifestFile {
  /** File name relative to the partition directory. */
  name: string;
  rows: number;
  bytes: number;
  /** S3 only: the object's ETag, so a warm cache needs no request. */
  etag?: string;
}

export interface ManifestInput {
  dataset: string;
  /** Partition path relative to the warehouse root, or the raw URI for raw inputs. */
  partition: string;
  /** run_id of the upstream manifest, or the ETag/mtime+size fingerprint of a raw file. */
  fingerprint: string;
}

export interface Manifest {
  dataset: string;
  /** Partition path relative to the warehouse root, e.g. delta/feature_spec_version=v1/dt=2026-11-24/hh=12/mm=15 */
  partition: string;
  partition_values: Record<string, string>;
  feature_spec_version: string;
  run_id: string;
  created_at: string;
  files: ManifestFile[];
  row_count: number;
  columns: { name: string; type: string }[];
  template: { name: string; sha256: string }[];
  jobspec_sha256: string;
  inputs: ManifestInput[];
  dq: Record<string, number>;
  missing_optional_fields: string[];
  engine: { ndr_sql: string; duckdb: string };
  timings_ms: Record<string, number>;
  /** Free-form notes for readers, e.g. `novelty: disabled`. */
  notes?: Record<string, unknown>;
}
