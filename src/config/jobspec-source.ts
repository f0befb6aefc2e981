/**
 * Where JobSpec payloads come from. Two implementations share one contract so
 * the same zod schemas validate both (seed bug classes 2 and 9): a local
 * directory `jobspecs/<project>/<job>#<version>.json`, and DynamoDB.
 */
import { createHash } from 'node:crypto';
import { readFile, readdir, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors/index.ts';
import { JOB_NAMES, JOB_SCHEMAS, type JobName, type JobSpecs } from './jobspec-schemas.ts';

export interface JobSpecSource {
  /** Human-readable origin, used in error messages ("dir jobspecs/", "dynamodb table t"). */
  readonly description: string;
  /** The raw payload, or undefined when the item does not exist. */
  get(project: string, job: JobName, version: string): Promise<unknown | undefined>;
  /** Versions that exist for one job of a project (for "unknown version" errors). */
  listVersions(project: string, job: JobName): Promise<string[]>;
  /** Write a payload (used by `jobspec push/pull`). */
  put?(project: string, job: JobName, version: string, payload: unknown, opts: { force: boolean }): Promise<'created' | 'unchanged' | 'updated'>;
  list?(project?: string): Promise<{ project: string; job: string; version: string }[]>;
}

export const jobKey = (job: string, version: string) => `${job}#${version}`;

/** Stable JSON (sorted keys) so that hashes do not depend on key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export const sha256 = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');

export class LocalJobSpecSource implements JobSpecSource {
  constructor(readonly dir: string) {}
  get description() {
    return `directory ${this.dir}`;
  }
  private file(project: string, job: string, version: string) {
    return join(this.dir, project, `${jobKey(job, version)}.json`);
  }
  async get(project: string, job: JobName, version: string) {
    const file = this.file(project, job, version);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new ConfigError(`cannot read JobSpec ${file}: ${(e as Error).message}`);
    }
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new ConfigError(`JobSpec ${file} is not valid JSON: ${(e as Error).message}`);
    }
  }
  async listVersions(project: string, job: JobName) {
    return (await this.list(project)).filter((e) => e.job === job).map((e) => e.version);
  }
  async list(project?: string) {
    const projects = project ? [project] : await readdir(this.dir).catch(() => [] as string[]);
    const out: { project: string; job: string; version: string }[] = [];
    for (const p of projects) {
      const files = await readdir(join(this.dir, p)).catch(() => [] as string[]);
      for (const f of files.sort()) {
        const m = /^([a-z_]+)#(.+)\.json$/.exec(f);
        if (m) out.push({ project: p, job: m[1], version: m[2] });
      }
    }
    return out;
  }
  async put(project: string, job: JobName, version: string, payload: unknown, opts: { force: boolean }) {
    const existing = await this.get(project, job, version);
    if (existing !== undefined && canonicalJson(existing) === canonicalJson(payload)) return 'unchanged' as const;
    if (existing !== undefined && !opts.force)
      throw new ConfigError(`${jobKey(job, version)} of project ${project} exists with different content; use --force to overwrite`);
    await mkdir(join(this.dir, project), { recursive: true });
    await writeFile(this.file(project, job, version), JSON.stringify(payload, null, 2) + '\n');
    return existing === undefined ? ('created' as const) : ('updated' as const);
  }
}

/** Validate one payload; the error names the JobSpec key and the zod path. */
export function parseJobSpec<J extends JobName>(job: J, payload: unknown, where: string): z.infer<(typeof JOB_SCHEMAS)[J]> {
  const result = JOB_SCHEMAS[job].safeParse(payload ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue.path.length ? issue.path.join('.') : '(root)';
    throw new ConfigError(`JobSpec ${where}: ${path}: ${issue.message}`);
  }
  return result.data as z.infer<(typeof JOB_SCHEMAS)[J]>;
}

/**
 * Load and validate every job of (project, version). project_parameters must
 * exist; builder jobs fall back to their schema defaults when absent, because a
 * project that never customised FG-B should not need an empty file. An unknown
 * version (no project_parameters) lists the versions that exist.
 */
export async function loadJobSpecs(source: JobSpecSource, project: string, version: string): Promise<JobSpecs> {
  const payloads = await Promise.all(JOB_NAMES.map((job) => source.get(project, job, version)));
  if (payloads[0] === undefined) {
    const known = await source.listVersions(project, 'project_parameters');
    throw new ConfigError(
      `no JobSpec project_parameters#${version} for project ${project} in ${source.description}; ` +
        (known.length ? `known versions: ${known.join(', ')}` : 'no versions exist for this project'),
    );
  }
  const specs: Record<string, unknown> = { project, version };
  const hashes = {} as Record<JobName, string>;
  JOB_NAMES.forEach((job, i) => {
    const parsed = parseJobSpec(job, payloads[i], `${project}/${jobKey(job, version)} (${source.description})`);
    specs[job] = parsed;
    hashes[job] = sha256(canonicalJson(parsed));
  });
  specs.hashes = hashes;
  return specs as unknown as JobSpecs;
}
