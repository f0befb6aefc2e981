/**
 * Runtime configuration, resolved flags > env NDR_* > ndr-sql.config.json > defaults.
 * Everything a command needs that is not a feature definition lives here.
 */
import { readFileSync, existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ConfigError } from '../errors/index.ts';
import { PRESETS, RAW_FORMATS } from './jobspec-schemas.ts';

/** The JobSpecs shipped with the package (project demo, version v1). */
export const BUNDLED_JOBSPECS = resolve(dirname(fileURLToPath(import.meta.url)), '../../jobspecs');

export const runtimeSchema = z.object({
  project: z.string().min(1).default('demo'),
  specVersion: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/).default('v1'),
  /** A directory, or `dynamodb` / `dynamodb:TABLE`; unset: ./jobspecs, or the bundled ones where there is none. */
  jobspecs: z.string(),
  /** A local path or s3://bucket/prefix. */
  warehouse: z.string().default('warehouse'),
  raw: z.string().optional(),
  rawFormat: z.enum(RAW_FORMATS).optional(),
  preset: z.enum(PRESETS).optional(),
  internalNetworks: z.string().optional(),
  cacheDir: z.string().default('.ndr-cache'),
  cacheMaxBytes: z.number().int().positive().default(20 * 1024 ** 3),
  memoryLimit: z.string().default('1GB'),
  threads: z.number().int().positive().optional(),
  tempDir: z.string().optional(),
  awsRegion: z.string().optional(),
  s3Endpoint: z.string().optional(),
  dynamodbEndpoint: z.string().optional(),
  logFormat: z.enum(['text', 'json']).optional(),
  debug: z.boolean().default(false),
  strict: z.boolean().default(false),
});
export type RuntimeConfig = z.infer<typeof runtimeSchema>;
export type RuntimeOverrides = Partial<{ [K in keyof RuntimeConfig]: RuntimeConfig[K] | undefined }>;

const ENV_KEYS: Record<string, keyof RuntimeConfig> = {
  NDR_PROJECT: 'project',
  NDR_SPEC_VERSION: 'specVersion',
  NDR_JOBSPECS: 'jobspecs',
  NDR_WAREHOUSE: 'warehouse',
  NDR_RAW: 'raw',
  NDR_RAW_FORMAT: 'rawFormat',
  NDR_PRESET: 'preset',
  NDR_INTERNAL_NETWORKS: 'internalNetworks',
  NDR_CACHE_DIR: 'cacheDir',
  NDR_MEMORY_LIMIT: 'memoryLimit',
  NDR_THREADS: 'threads',
  NDR_TEMP_DIR: 'tempDir',
  NDR_AWS_REGION: 'awsRegion',
  NDR_S3_ENDPOINT: 's3Endpoint',
  NDR_DYNAMODB_ENDPOINT: 'dynamodbEndpoint',
  NDR_LOG_FORMAT: 'logFormat',
};
const NUMERIC = new Set<keyof RuntimeConfig>(['threads', 'cacheMaxBytes']);

function fromEnv(env: NodeJS.ProcessEnv): RuntimeOverrides {
  const out: Record<string, unknown> = {};
  for (const [name, key] of Object.entries(ENV_KEYS)) {
    const v = env[name];
    if (v !== undefined && v !== '') out[key] = NUMERIC.has(key) ? Number(v) : v;
  }
  return out as RuntimeOverrides;
}

function fromFile(cwd: string): RuntimeOverrides {
  const file = resolve(cwd, 'ndr-sql.config.json');
  if (!existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(`cannot parse ${file}: ${(e as Error).message}`);
  }
}

const defined = (o: RuntimeOverrides) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

export function resolveRuntime(flags: RuntimeOverrides, env = process.env, cwd = process.cwd()): RuntimeConfig {
  const merged = { ...defined(fromFile(cwd)), ...defined(fromEnv(env)), ...defined(flags) };
  merged.jobspecs ??= existsSync(resolve(cwd, 'jobspecs')) ? 'jobspecs' : BUNDLED_JOBSPECS;
  const parsed = runtimeSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`runtime config ${issue.path.join('.')}: ${issue.message}`);
  }
  return parsed.data;
}
