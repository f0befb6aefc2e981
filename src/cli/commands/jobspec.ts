/**
 * `ndr-sql jobspec <push|pull|list|validate|create-table>`: move JobSpecs
 * between a directory (`DIR/<project>/<job>#<version>.json`) and DynamoDB.
 *
 * - push --from DIR   DIR is a JobSpec root (jobspecs/) or one project's directory
 *                     (jobspecs/demo). Every payload is validated first; nothing is
 *                     written if one is invalid, or if one differs from DynamoDB and
 *                     --force is not given. Prints created/unchanged/updated per item,
 *                     and the changed JSON paths of a change.
 * - pull --to DIR     DynamoDB → DIR/<project>/..., same rules for local changes.
 * - list              the configured source (--jobspecs), all projects unless --project.
 * - validate          every payload of the configured source, or of --from DIR.
 * - create-table      the DynamoDB table (dynamodb:TABLE, or ML_PROJECTS_PARAMETERS_TABLE_NAME).
 *
 * push/pull/create-table always talk to DynamoDB: the table of `--jobspecs
 * dynamodb:TABLE`, else env ML_PROJECTS_PARAMETERS_TABLE_NAME, else ml_projects_parameters.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ConfigError, UsageError, oneLine } from '../../errors/index.ts';
import { JOB_NAMES, type JobName } from '../../config/jobspec-schemas.ts';
import { LocalJobSpecSource, canonicalJson, jobKey, parseJobSpec, type JobSpecSource } from '../../config/jobspec-source.ts';
import { defaultTableName, diffJson, formatChange } from '../../config/jobspec-dynamodb.ts';
import { dynamoTableOf, openDynamoJobSpecs, openJobSpecSource } from '../../config/open-jobspecs.ts';
import type { RuntimeConfig } from '../../config/runtime.ts';
import { runtimeFrom, withCommonOptions, type CommonArgs } from '../common.ts';

export const JOBSPEC_ACTIONS = ['push', 'pull', 'list', 'validate', 'create-table'] as const;
export type JobspecAction = (typeof JOBSPEC_ACTIONS)[number];

export interface JobspecArgs extends CommonArgs {
  action: JobspecAction;
  from?: string;
  to?: string;
  force?: boolean;
}

export interface JobspecIO {
  /** One output line (default: stdout). */
  out?: (line: string) => void;
  /** Reuse a DynamoDB client (tests count requests on it). */
  dynamo?: DynamoDBClient;
  env?: NodeJS.ProcessEnv;
}

interface SpecItem {
  project: string;
  job: string;
  version: string;
  payload: unknown;
  /** Where it came from, for messages. */
  where: string;
}

const FILE_RE = /^(.+)#(.+)\.json$/;
const VERSION_RE = /^[a-z0-9][a-z0-9._-]*$/;
const isJob = (j: string): j is JobName => (JOB_NAMES as readonly string[]).includes(j);
const label = (i: { project: string; job: string; version: string }) => `${i.project}/${jobKey(i.job, i.version)}`;

async function isDir(path: string) {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

async function specFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile() && FILE_RE.test(e.name)).map((e) => e.name).sort();
}

async function readProjectDir(dir: string, project: string): Promise<SpecItem[]> {
  const out: SpecItem[] = [];
  for (const name of await specFiles(dir)) {
    const [, job, version] = FILE_RE.exec(name)!;
    const file = join(dir, name);
    let payload: unknown;
    try {
      payload = JSON.parse(await readFile(file, 'utf8'));
    } catch (e) {
      throw new ConfigError(`JobSpec ${file} is not valid JSON: ${oneLine(e)}`);
    }
    out.push({ project, job, version, payload, where: file });
  }
  return out;
}

/**
 * The JobSpec files of DIR: DIR itself when it holds `<job>#<version>.json`
 * files (project = --project, else DIR's name), else DIR/<project>/ for the
 * given project or for every project directory.
 */
export async function readSpecDir(dir: string, project?: string): Promise<SpecItem[]> {
  const abs = resolve(dir);
  if (!(await isDir(abs))) throw new UsageError(`JobSpec directory ${dir} does not exist`);
  if ((await specFiles(abs)).length) return readProjectDir(abs, project ?? basename(abs));
  const projects = project
    ? [project]
    : (await readdir(abs, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  const items = (await Promise.all(projects.map((p) => readProjectDir(join(abs, p), p)))).flat();
  if (!items.length)
    throw new ConfigError(`no JobSpec files (<job>#<version>.json) in ${project ? join(dir, project) : `${dir} or its project directories`}`);
  return items;
}

/** Schema problems of each item (unknown job, bad version name, zod path), or [] when all are valid. */
export function validateItems(items: SpecItem[], description: string): { item: SpecItem; error?: string }[] {
  return items.map((item) => {
    if (!isJob(item.job)) return { item, error: `unknown job ${item.job} (expected one of ${JOB_NAMES.join(', ')})` };
    if (!VERSION_RE.test(item.version)) return { item, error: `version ${JSON.stringify(item.version)} must match ${VERSION_RE}` };
    try {
      parseJobSpec(item.job, item.payload, `${label(item)} (${description})`);
      return { item };
    } catch (e) {
      return { item, error: oneLine(e) };
    }
  });
}

async function readSource(source: JobSpecSource, project: string | undefined): Promise<SpecItem[]> {
  if (!source.list) throw new UsageError(`${source.description} cannot be listed`);
  const entries = await source.list(project);
  return Promise.all(
    entries.map(async (e) => ({
      ...e,
      payload: isJob(e.job) ? await source.get(e.project, e.job, e.version) : undefined,
      where: `${label(e)} (${source.description})`,
    })),
  );
}

type Plan = { item: SpecItem; status: 'create' | 'unchanged' | 'update'; before?: unknown };

/** Compare every item with the target, then write only if nothing is refused. */
async function transfer(items: SpecItem[], target: JobSpecSource, force: boolean, out: (l: string) => void, verb: string) {
  const plans: Plan[] = [];
  for (const item of items) {
    const before = await target.get(item.project, item.job as JobName, item.version);
    const status = before === undefined ? 'create' : canonicalJson(before) === canonicalJson(item.payload) ? 'unchanged' : 'update';
    plans.push({ item, status, before });
  }
  const changed = plans.filter((p) => p.status === 'update');
  if (changed.length && !force) {
    for (const p of plans) {
      out(`${(p.status === 'update' ? 'differs' : p.status === 'create' ? 'new' : 'unchanged').padEnd(9)} ${label(p.item)}`);
      if (p.status === 'update') for (const c of diffJson(p.before, p.item.payload)) out(`    ${formatChange(c)}`);
    }
    throw new ConfigError(
      `${changed.length} JobSpec(s) differ from ${target.description}: ${changed.map((p) => label(p.item)).join(', ')}; ` +
        `nothing was ${verb}; re-run with --force to overwrite`,
    );
  }
  const counts = { created: 0, unchanged: 0, updated: 0 };
  for (const p of plans) {
    const result = await target.put!(p.item.project, p.item.job as JobName, p.item.version, p.item.payload, { force });
    counts[result]++;
    out(`${result.padEnd(9)} ${label(p.item)}`);
    if (result === 'updated') for (const c of diffJson(p.before, p.item.payload)) out(`    ${formatChange(c)}`);
  }
  out(`${verb} ${plans.length} JobSpec(s) to ${target.description}: ${counts.created} created, ${counts.unchanged} unchanged, ${counts.updated} updated`);
}

/** `--project`, or NDR_PROJECT: the scope of list/validate/pull (all projects when neither is given). */
function explicitProject(args: JobspecArgs, env: NodeJS.ProcessEnv) {
  return args.project || env.NDR_PROJECT || undefined;
}

function directoryOf(config: RuntimeConfig, flag: string | undefined, name: string, env: NodeJS.ProcessEnv): string {
  if (flag) return flag;
  if (dynamoTableOf(config.jobspecs, env) === undefined) return config.jobspecs;
  throw new UsageError(`jobspec ${name} needs ${name === 'push' ? '--from' : '--to'} DIR when --jobspecs is DynamoDB`);
}

function targetTable(config: RuntimeConfig, env: NodeJS.ProcessEnv) {
  return dynamoTableOf(config.jobspecs, env) ?? defaultTableName(env);
}

export async function runJobspec(args: JobspecArgs, io: JobspecIO = {}): Promise<void> {
  const out = io.out ?? ((line: string) => void process.stdout.write(line + '\n'));
  const env = io.env ?? process.env;
  const config = runtimeFrom(args);
  const project = explicitProject(args, env);
  const dynamo = () => openDynamoJobSpecs(config, targetTable(config, env), { dynamo: io.dynamo, env });

  switch (args.action) {
    case 'create-table': {
      const target = dynamo();
      const r = await target.createTable();
      out(r === 'created' ? `created ${target.description}` : `${target.description} already exists`);
      return;
    }
    case 'list': {
      const source = openJobSpecSource(config, { dynamo: io.dynamo, env });
      const entries = (await source.list?.(project)) ?? [];
      for (const e of entries) out(label(e));
      out(`${entries.length} JobSpec(s) in ${source.description}${project ? ` for project ${project}` : ''}`);
      return;
    }
    case 'validate': {
      const source = args.from ? undefined : openJobSpecSource(config, { dynamo: io.dynamo, env });
      const description = source?.description ?? `directory ${args.from}`;
      const items = source ? await readSource(source, project) : await readSpecDir(args.from!, args.project);
      if (!items.length) throw new ConfigError(`no JobSpecs in ${description}${project ? ` for project ${project}` : ''}`);
      const results = validateItems(items, description);
      // a version is only loadable with its project_parameters
      const versions = new Set(items.map((i) => `${i.project}\u0000${i.version}`));
      const missing = [...versions]
        .filter((pv) => !items.some((i) => `${i.project}\u0000${i.version}` === pv && i.job === 'project_parameters'))
        .map((pv) => pv.split('\u0000'));
      for (const r of results) out(r.error ? `invalid  ${r.error.startsWith('JobSpec ') ? r.error : `${label(r.item)}: ${r.error}`}` : `ok       ${label(r.item)}`);
      for (const [p, v] of missing) out(`invalid  ${p}/${jobKey('project_parameters', v)}: missing (required for version ${v})`);
      const bad = results.filter((r) => r.error).length + missing.length;
      if (bad) throw new ConfigError(`${bad} of ${results.length + missing.length} JobSpec check(s) failed in ${description}`);
      out(`${results.length} JobSpec(s) valid in ${description}`);
      return;
    }
    case 'push': {
      const from = directoryOf(config, args.from, 'push', env);
      const items = await readSpecDir(from, args.project);
      const invalid = validateItems(items, `directory ${from}`).filter((r) => r.error);
      if (invalid.length) {
        for (const r of invalid) out(`invalid  ${r.error}`);
        throw new ConfigError(`${invalid.length} JobSpec(s) in ${from} are invalid; nothing was pushed`);
      }
      await transfer(items, dynamo(), Boolean(args.force), out, 'pushed');
      return;
    }
    case 'pull': {
      const to = directoryOf(config, args.to, 'pull', env);
      const source = dynamo();
      const all = await readSource(source, project);
      for (const i of all) if (!isJob(i.job)) out(`skipped  ${label(i)}: unknown job ${i.job}`);
      const items = all.filter((i) => isJob(i.job) && i.payload !== undefined);
      if (!items.length) throw new ConfigError(`no JobSpecs in ${source.description}${project ? ` for project ${project}` : ''}`);
      for (const r of validateItems(items, source.description)) if (r.error) out(`warning  ${r.error} (pulled anyway)`);
      // sorted keys: DynamoDB maps have no order, files should not churn between pulls
      const sorted = items.map((i) => ({ ...i, payload: JSON.parse(canonicalJson(i.payload)) as unknown }));
      await transfer(sorted, new LocalJobSpecSource(to), Boolean(args.force), out, 'pulled');
      return;
    }
    default:
      throw new UsageError(`unknown jobspec action ${JSON.stringify(args.action)}; expected ${JOBSPEC_ACTIONS.join(', ')}`);
  }
}

export const jobspecCommand: CommandModule<{}, any> = {
  command: 'jobspec <action>',
  describe: 'JobSpecs: push|pull between a directory and DynamoDB, list, validate, create-table',
  builder: (y: Argv) =>
    withCommonOptions(y)
      .positional('action', { type: 'string', choices: JOBSPEC_ACTIONS, describe: 'what to do', demandOption: true })
      .option('from', { type: 'string', describe: 'push/validate: JobSpec directory (jobspecs/ or jobspecs/<project>)' })
      .option('to', { type: 'string', describe: 'pull: JobSpec directory root; files go to DIR/<project>/' })
      .option('force', { type: 'boolean', default: false, describe: 'push/pull: overwrite JobSpecs whose content differs' }),
  handler: (argv) => runJobspec(argv as unknown as JobspecArgs),
};
