/**
 * zod schemas for every JobSpec payload, with the defaults of FEATURES.md.
 * One schema per job; the same schemas validate local files and DynamoDB items.
 */
import { z } from 'zod';
import { columnIdent, portSetIdent } from './identifiers.ts';
import { publishSectionSchema } from '../publish/spec.ts';

const cidr = z.string().regex(/^[0-9a-fA-F:.]+\/\d{1,3}$/, { message: 'must be a CIDR like 10.0.0.0/8' });
const port = z.number().int().min(0).max(65535);

export const JOB_NAMES = [
  'project_parameters',
  'delta_builder',
  'pair_counts_builder',
  'fg_a_builder',
  'fg_b_builder',
  'fg_c_builder',
] as const;
export type JobName = (typeof JOB_NAMES)[number];

export const RAW_FORMATS = ['parquet', 'ndjson', 'zeek_tsv'] as const;
export const PRESETS = ['paloalto', 'zeek_conn'] as const;
export const TIMESTAMP_FORMATS = ['iso', 'epoch_s', 'epoch_ms'] as const;

export const CANONICAL_FIELDS = [
  'source_ip',
  'destination_ip',
  'source_port',
  'destination_port',
  'source_bytes',
  'destination_bytes',
  'event_start',
  'event_end',
  'event_action',
  'event_reason',
  'event_name',
  'network_transport',
] as const;
export type CanonicalField = (typeof CANONICAL_FIELDS)[number];
export const REQUIRED_FIELDS: readonly CanonicalField[] = CANONICAL_FIELDS.slice(0, 8);
export const OPTIONAL_FIELDS: readonly CanonicalField[] = CANONICAL_FIELDS.slice(8);

export const rawInputSchema = z.object({
  /** URI template with optional {dt} {hh} {mm}, or a plain glob; local path or s3://. */
  uri: z.string().min(1),
  format: z.enum(RAW_FORMATS).optional(),
  preset: z.enum(PRESETS).optional(),
  /** canonical name -> source column name. Applied on top of the preset. */
  field_mapping: z.partialRecord(z.enum(CANONICAL_FIELDS), z.string().min(1)).default({}),
  timestamp_format: z.enum(TIMESTAMP_FORMATS).optional(),
});
export type RawInputSpec = z.infer<typeof rawInputSchema>;

export const calendarSchema = z
  .object({
    timezone: z.string().default('Asia/Jerusalem'),
    /** ISO weekday numbers, 1 = Monday … 7 = Sunday. Default Fri, Sat. */
    weekend_days: z.array(z.number().int().min(1).max(7)).default([5, 6]),
    working_hours: z.tuple([z.number().int().min(0).max(24), z.number().int().min(0).max(24)]).default([7, 17]),
    off_hours: z.tuple([z.number().int().min(0).max(24), z.number().int().min(0).max(24)]).default([17, 22]),
    holidays: z.array(z.string().regex(/^\d{4}-\d{2}-\d{2}$/)).default([]),
  })
  .prefault({});

export const segmentMappingSchema = z
  .object({
    cidr_table: z.array(z.object({ cidr, segment_id: z.string().min(1) })).default([]),
    prefix_length: z.number().int().min(0).max(32).default(24),
    ipv6_prefix_length: z.number().int().min(0).max(128).default(64),
  })
  .prefault({});

export const DEFAULT_PORT_SETS: Record<string, number[]> = {
  high_risk: [21, 23, 69, 135, 137, 138, 139, 445, 1433, 3389, 4444, 5900, 6667],
  admin: [22, 23, 3389, 5900, 5985, 5986],
  fileshare: [20, 21, 139, 445, 2049],
  directory: [88, 389, 464, 636, 3268, 3269],
  db: [1433, 1521, 3306, 5432, 6379, 9200, 27017],
};

export const DEFAULT_ACTION_CLASSES: Record<'allow' | 'deny' | 'alert', string[]> = {
  allow: ['allow'],
  deny: ['deny', 'drop', 'drop-icmp', 'reset-client', 'reset-server', 'reset-both'],
  alert: ['alert'],
};

export const projectParametersSchema = z.object({
  warehouse_root: z.string().optional(),
  raw_input: rawInputSchema.optional(),
  calendar: calendarSchema,
  segment_mapping: segmentMappingSchema,
  port_sets: z
    .record(portSetIdent, z.array(port).min(1, 'a port set needs at least one port'))
    .refine((sets) => Object.keys(sets).length > 0, 'needs at least one port set (each is a <set>_port_sessions_cnt column of delta and FG-A)')
    .default(DEFAULT_PORT_SETS),
  action_classes: z
    .object({
      allow: z.array(z.string()).default(DEFAULT_ACTION_CLASSES.allow),
      deny: z.array(z.string()).default(DEFAULT_ACTION_CLASSES.deny),
      alert: z.array(z.string()).default(DEFAULT_ACTION_CLASSES.alert),
    })
    .prefault({}),
  /** Host scope (FEATURES.md §1.3): CIDR list, or 'all'. */
  internal_networks: z
    .union([z.literal('all'), z.array(cidr)])
    .default(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7']),
  /** FG-B rebuild cadence for nightly runs and --upstream. */
  baseline_schedule: z.enum(['monthly', 'weekly', 'daily']).default('monthly'),
  /** Feature-store publish settings per dataset (fg_a_wide, fg_c). */
  publish: publishSectionSchema,
});
export type ProjectParameters = z.infer<typeof projectParametersSchema>;

export const deltaBuilderSchema = z.object({
  dq: z
    .object({
      filter_null_bytes_ports: z.boolean().default(true),
      drop_malformed_ip: z.boolean().default(true),
      duration_non_negative: z.boolean().default(true),
      bytes_non_negative: z.boolean().default(true),
    })
    .prefault({}),
  /** Fixed by FEATURES.md §2 (the column names bytes_sent_p25 … depend on them): accepted only as that list. */
  quantiles: z
    .array(z.number().int().min(1).max(99))
    .default([25, 50, 75, 95, 99])
    .refine((q) => q.join(',') === '25,50,75,95,99', 'delta quantiles are fixed by FEATURES.md §2: [25, 50, 75, 95, 99]'),
});
export type DeltaBuilderSpec = z.infer<typeof deltaBuilderSchema>;

export const pairCountsBuilderSchema = z.object({
  filters: z
    .object({
      require_both_ips: z.boolean().default(true),
      require_positive_dst_port: z.boolean().default(true),
    })
    .prefault({}),
});
export type PairCountsBuilderSpec = z.infer<typeof pairCountsBuilderSchema>;

export const DEFAULT_WINDOWS: Record<string, number> = { w_15m: 15, w_30m: 30, w_1h: 60, w_8h: 480, w_24h: 1440 };

export const fgABuilderSchema = z.object({
  windows: z.record(columnIdent, z.number().int().positive().multipleOf(15)).default(DEFAULT_WINDOWS),
  eps_a: z.number().positive().default(1e-9),
  lookback_days: z.number().int().min(0).default(30),
  novelty: z
    .object({
      enabled: z.boolean().default(true),
      rare_max_sessions: z
        .object({ peer: z.number().int().min(0).default(1), port: z.number().int().min(0).default(1), pair: z.number().int().min(0).default(1) })
        .prefault({}),
    })
    .prefault({}),
  high_risk_segments: z.array(z.string()).default([]),
});
export type FgABuilderSpec = z.infer<typeof fgABuilderSchema>;

export const horizonSchema = z.object({
  days: z.number().int().positive(),
  tail: z.number().int().min(0),
  head: z.number().int().min(0),
});

export const fgBBuilderSchema = z.object({
  horizons: z.record(z.string().regex(/^[a-z0-9]+$/), horizonSchema).default({
    '7d': { days: 7, tail: 2, head: 2 },
    '30d': { days: 30, tail: 7, head: 7 },
  }),
  eps: z.number().positive().default(1e-6),
  anomaly_capping: z
    .object({
      key_metrics: z
        .array(columnIdent)
        .default([
          'sessions_cnt',
          'bytes_src_sum',
          'bytes_dst_sum',
          'deny_ratio',
          'peer_ip_entropy',
          'high_risk_port_sessions_cnt',
          'max_sessions_per_minute',
        ]),
      z_max: z.number().positive().default(6),
      w_anom: z.number().min(0).max(1).default(0.1),
    })
    .prefault({}),
  /** Default: every numeric FG-A metric except keys, time context and has_* flags. */
  baseline_metrics: z.array(columnIdent).min(1, 'needs at least one metric (FG-B baselines and FG-C score them)').optional(),
  support_min: z.union([z.number().int().min(0), z.record(columnIdent, z.number().int().min(0))]).default(50),
  baseline_required_metrics: z.array(columnIdent).default(['sessions_cnt']),
  non_persistent_machine_prefixes: z.array(z.string()).default([]),
  /** Optional file with columns ip, machine_name: Parquet (.parquet), JSON (.json, .ndjson, .jsonl) or CSV with a header (any other name). */
  inventory_file: z.string().optional(),
  rarity_threshold: z.number().min(0).max(1).default(0.5),
});
export type FgBBuilderSpec = z.infer<typeof fgBBuilderSchema>;

export const FG_C_TRANSFORMS = [
  'diff',
  'z_mad',
  'abs_dev_over_scale',
  'z_mad_clipped',
  'z_mad_signed_pow3',
  'ratio',
  'log_ratio',
  'excess_over_p95',
  'excess_ratio_p95',
  'iqr_dev',
] as const;

export const fgCBuilderSchema = z.object({
  metrics: z.array(columnIdent).optional(),
  transforms: z.array(z.enum(FG_C_TRANSFORMS)).default([...FG_C_TRANSFORMS]),
  eps: z.number().positive().default(1e-6),
  z_max: z.number().positive().default(6),
  strong_z: z.number().positive().default(4),
  scale_floor: z.record(columnIdent, z.number().min(0)).default({}),
  score_families: z
    .record(columnIdent, z.array(columnIdent))
    .default({
      anomaly_strength_core: ['sessions_cnt', 'bytes_src_sum', 'bytes_dst_sum', 'deny_ratio', 'peer_ip_nunique'],
      beacon_suspicion_score: ['max_sessions_per_minute', 'sessions_cnt'],
      exfiltration_suspicion_score: ['bytes_src_sum', 'bytes_asymmetry_ratio'],
      lateral_movement_score: ['peer_ip_nunique', 'peer_segment_nunique', 'admin_port_sessions_cnt'],
    }),
});
export type FgCBuilderSpec = z.infer<typeof fgCBuilderSchema>;

export const JOB_SCHEMAS = {
  project_parameters: projectParametersSchema,
  delta_builder: deltaBuilderSchema,
  pair_counts_builder: pairCountsBuilderSchema,
  fg_a_builder: fgABuilderSchema,
  fg_b_builder: fgBBuilderSchema,
  fg_c_builder: fgCBuilderSchema,
} as const;

export interface JobSpecs {
  project: string;
  version: string;
  project_parameters: ProjectParameters;
  delta_builder: DeltaBuilderSpec;
  pair_counts_builder: PairCountsBuilderSpec;
  fg_a_builder: FgABuilderSpec;
  fg_b_builder: FgBBuilderSpec;
  fg_c_builder: FgCBuilderSpec;
  /** sha256 of each job's canonical validated payload, recorded in manifests. */
  hashes: Record<JobName, string>;
}
