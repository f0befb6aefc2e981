/**
 * Which raw input a run reads: the JobSpec's `raw_input`, overridden by
 * --raw / --raw-format / --preset. Presets fill in the format, the timestamp
 * format and the field mapping.
 */
import { isAbsolute, resolve } from 'node:path';
import { ConfigError } from '../errors/index.ts';
import type { CanonicalField, JobSpecs, RawInputSpec } from '../config/jobspec-schemas.ts';
import type { RuntimeConfig } from '../config/runtime.ts';

export interface ResolvedRawInput extends Omit<RawInputSpec, 'format' | 'timestamp_format'> {
  format: NonNullable<RawInputSpec['format']>;
  timestamp_format: NonNullable<RawInputSpec['timestamp_format']>;
  /** Template applied before the field mapping (zeek_conn), if any. */
  presetTemplate?: string;
  /** Where the spec came from, for error messages. */
  jobspecKey: string;
}

const ZEEK_DEFAULTS = { format: 'zeek_tsv', timestamp_format: 'epoch_s', presetTemplate: 'raw_zeek_conn' } as const;

export function resolveRawInput(specs: JobSpecs, runtime: Pick<RuntimeConfig, 'raw' | 'rawFormat' | 'preset'>): ResolvedRawInput {
  const fromSpec = specs.project_parameters.raw_input;
  const given = runtime.raw ?? fromSpec?.uri;
  if (!given) {
    throw new ConfigError(
      `no raw input: set project_parameters.raw_input.uri in the JobSpec of project ${specs.project} or pass --raw URI-TEMPLATE-OR-GLOB`,
    );
  }
  const preset = runtime.preset ?? fromSpec?.preset;
  // A preset given on the command line replaces the JobSpec's mapping: it describes different data.
  const cliPreset = runtime.preset !== undefined && runtime.preset !== fromSpec?.preset;
  const field_mapping: Partial<Record<CanonicalField, string>> = cliPreset ? {} : { ...(fromSpec?.field_mapping ?? {}) };
  const base: ResolvedRawInput = {
    uri: absoluteLocal(given),
    format: runtime.rawFormat ?? (cliPreset ? undefined : fromSpec?.format) ?? (preset === 'zeek_conn' ? ZEEK_DEFAULTS.format : 'parquet'),
    preset,
    field_mapping,
    timestamp_format: (cliPreset ? undefined : fromSpec?.timestamp_format) ?? 'iso',
    jobspecKey: `${specs.project}/project_parameters#${specs.version}.raw_input`,
  };
  if (preset === 'zeek_conn') {
    base.timestamp_format = ZEEK_DEFAULTS.timestamp_format;
    base.presetTemplate = ZEEK_DEFAULTS.presetTemplate;
  }
  return base;
}

/**
 * A local path made absolute against the working directory; URLs (s3://…) unchanged. Raw files
 * are recorded in manifests by this name, so `ndr-demo/raw/…` and `/home/me/ndr-demo/raw/…` must
 * not look like two different inputs (every partition would be stale for the other spelling).
 */
const absoluteLocal = (uri: string) => (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri) || isAbsolute(uri) ? uri : resolve(uri));

/** Placeholders a URI template may contain. */
export const hasPlaceholders = (uri: string) => /\{(dt|hh|mm)\}/.test(uri);
