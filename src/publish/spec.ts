/**
 * The `publish` section of a JobSpec: `project_parameters.publish.<dataset>`
 * (ARCHITECTURE.md, Feature-store publish; seed bug class 10).
 *
 * Feature Store rules this schema enforces up front (SageMaker API reference):
 * - feature group and feature names match `^[a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,63}$`;
 * - `is_deleted`, `write_time` and `api_invocation_time` are reserved (the
 *   offline store adds them), so no feature may use them;
 * - the EventTime feature is a String (ISO-8601 `yyyy-MM-ddTHH:mm:ssZ` or
 *   `yyyy-MM-ddTHH:mm:ss.SSSZ`) or a Fractional (Unix seconds). Iceberg offline
 *   stores require String, hence the default `iso`.
 */
import { z } from 'zod';

/** SageMaker feature group and feature names. */
export const FS_NAME = /^[a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,63}$/;
/** Added by Feature Store to every offline-store record; never a feature name. */
export const FS_RESERVED = ['is_deleted', 'write_time', 'api_invocation_time'] as const;
/** Hive partition columns of the offline-store layout (year=/month=/day=/hour=). */
export const OFFLINE_PARTITION_COLUMNS = ['year', 'month', 'day', 'hour'] as const;

export const NAN_POLICIES = ['null', 'dead_letter'] as const;
export type NanPolicy = (typeof NAN_POLICIES)[number];
export const PUBLISH_TARGETS = ['offline', 'online'] as const;
export type PublishTarget = (typeof PUBLISH_TARGETS)[number];

const fsName = z.string().regex(FS_NAME, { message: `must be a Feature Store name matching ${FS_NAME}` });
const featureName = fsName.refine((n) => !(FS_RESERVED as readonly string[]).includes(n), {
  message: `is reserved by Feature Store (${FS_RESERVED.join(', ')})`,
});
const storeUri = z
  .string()
  .min(1)
  .refine((u) => !/^[a-z][a-z0-9+.-]*:\/\//i.test(u) || /^(s3|file):\/\//i.test(u), {
    message: 'must be s3://bucket/prefix, file:///path or a local path',
  });

/** An absolute number of retries for the run, or a percentage of its record count ("25%"). */
const retryBudget = z.union([
  z.number().int().min(0),
  z.string().regex(/^\d+(\.\d+)?%$/, { message: 'must be a whole number or a percentage like "25%"' }),
]);

export const publishSpecSchema = z.object({
  /** Feature group name; the CLI's --feature-group overrides it. Required by the time we publish. */
  feature_group: fsName.optional(),
  /** Column holding the RecordIdentifier feature (its name is the feature name too). */
  record_identifier: featureName.default('record_id'),
  /** Source column of the event time (TIMESTAMP, TIMESTAMPTZ, DATE, epoch seconds or ISO text). */
  event_time: z.string().min(1).default('window_end_ts'),
  /** Name of the feature group's EventTime feature, added to every record. */
  event_time_feature_name: featureName.default('event_time'),
  /** How EventTime is written: ISO-8601 String (`...Z`) or Fractional Unix seconds. */
  event_time_format: z.enum(['iso', 'fractional']).default('iso'),
  /** Features to publish (default: every column of the data). A listed column missing from the data is an error. */
  features: z.array(featureName).min(1).optional(),
  /** Columns never published (applied after `features`). */
  exclude: z.array(z.string().min(1)).default([]),
  /** Offline target: base URI; files go to <offline_s3_uri>/<feature_group>/data/year=/month=/day=/hour=/. */
  offline_s3_uri: storeUri.optional(),
  /** Offline target: the feature group's resolved `.../data` URI (DescribeFeatureGroup ResolvedOutputS3Uri); overrides the layout above. */
  offline_data_uri: storeUri.optional(),
  /** Where dead-letter Parquet files are also copied (<uri>/<feature_group>/<target>-<batch>.parquet). Always kept locally too. */
  dead_letter_uri: storeUri.optional(),
  /** Online target: PutRecord TargetStores. Default OnlineStore only, so the S3 offline path does not get every record twice. */
  target_stores: z.array(z.enum(['OnlineStore', 'OfflineStore'])).min(1).default(['OnlineStore']),
  /** Online target: PutRecord calls in flight at once. */
  concurrency: z.number().int().min(1).max(1024).default(32),
  /** Online target: retries allowed for the whole run (number, or a percentage of the records). */
  retry_budget: retryBudget.default('25%'),
  /** Online target: attempts per record, including the first. */
  max_attempts: z.number().int().min(1).max(50).default(8),
  /** Online target: first backoff ceiling; full jitter, doubling per retry. */
  base_delay_ms: z.number().int().min(0).default(50),
  /** Online target: cap of any single backoff. */
  max_delay_ms: z.number().int().min(0).default(5000),
  /**
   * Online target: worker threads that make PutRecord calls besides the
   * calling thread, each with its own client and a share of `concurrency`.
   * The SDK's per-call CPU bounds one thread at ~2k records/s, so 'auto' (the
   * default) adds one worker where the host has a second CPU; on a busy host
   * the worker gains little (see README, Performance). 0 keeps one thread.
   */
  workers: z.union([z.literal('auto'), z.number().int().min(0).max(64)]).default('auto'),
  /** Online target: per-request timeout. */
  request_timeout_ms: z.number().int().min(100).default(10000),
  /** NaN/±Infinity in a Fractional feature: 'null' omits the feature (offline: NULL); 'dead_letter' dead-letters the record. */
  nan_policy: z.enum(NAN_POLICIES).default('null'),
  /** Offline target: parallel S3 uploads. */
  upload_concurrency: z.number().int().min(1).max(64).default(8),
});
export type PublishSpec = z.infer<typeof publishSpecSchema>;
export type PublishSpecInput = z.input<typeof publishSpecSchema>;

/** The per-dataset map the lead adds as `project_parameters.publish`. */
/**
 * Defaults that depend on the dataset. fg_a_wide has no record_id column: its rows are one
 * per host and window end (FEATURES.md §4.5), so its records are identified by host_ip
 * (versioned by the event time).
 */
const DATASET_DEFAULTS: Record<string, Partial<PublishSpecInput>> = { fg_a_wide: { record_identifier: 'host_ip' } };

const withDatasetDefaults = (dataset: string, section?: unknown) => ({ ...DATASET_DEFAULTS[dataset], ...(section as object | undefined) });

/** A dataset's publish spec: its JobSpec section (if any) over the dataset's defaults. */
export function publishSpecFor(dataset: string, section?: unknown): PublishSpec {
  return publishSpecSchema.parse(withDatasetDefaults(dataset, section));
}

export const publishSectionSchema = z
  .record(z.string().regex(/^[a-z][a-z0-9_]{0,62}$/), z.unknown())
  .default({})
  .transform((section, ctx) => {
    const out: Record<string, PublishSpec> = {};
    for (const [dataset, spec] of Object.entries(section)) {
      const parsed = publishSpecSchema.safeParse(withDatasetDefaults(dataset, spec));
      if (parsed.success) out[dataset] = parsed.data;
      else for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: [dataset, ...issue.path] });
    }
    return out;
  });

/** Effective retry budget for a run of `records` records. */
export function retryBudgetFor(spec: Pick<PublishSpec, 'retry_budget'>, records: number): number {
  const b = spec.retry_budget;
  if (typeof b === 'number') return b;
  return Math.ceil((parseFloat(b) / 100) * records);
}
