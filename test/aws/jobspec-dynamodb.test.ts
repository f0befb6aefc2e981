import { mkdir, readFile, writeFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import yargs from 'yargs';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoJobSpecSource, diffJson, formatChange } from '../../src/config/jobspec-dynamodb.ts';
import { openJobSpecSource } from '../../src/config/open-jobspecs.ts';
import { LocalJobSpecSource, loadJobSpecs } from '../../src/config/jobspec-source.ts';
import { createDocumentClient } from '../../src/aws/clients.ts';
import { jobspecCommand, runJobspec, type JobspecArgs } from '../../src/cli/commands/jobspec.ts';
import { ConfigError, UsageError } from '../../src/errors/index.ts';
import { countCommands, dynamoClient, endpoints, tmp, uniqueName, type Counter } from './helpers.ts';

const PP_V1 = {
  calendar: { timezone: 'UTC', weekend_days: [6, 7] },
  internal_networks: ['10.0.0.0/8'],
  raw_input: { uri: 's3://raw/paloalto/dt={dt}/hh={hh}/*.json.gz', format: 'ndjson', preset: 'paloalto' },
};
const FGA_V1 = { windows: { w_15m: 15, w_1h: 60 }, eps_a: 1e-9, novelty: { enabled: false } };
const PP_V2 = { calendar: { timezone: 'Asia/Jerusalem' }, baseline_schedule: 'weekly' };

async function writeSpecs(root: string, project: string, files: Record<string, unknown>) {
  await mkdir(join(root, project), { recursive: true });
  for (const [name, payload] of Object.entries(files)) await writeFile(join(root, project, `${name}.json`), JSON.stringify(payload, null, 2));
}

describe('JobSpecs in DynamoDB (dynalite)', () => {
  let client: DynamoDBClient;
  let counter: Counter;
  let table: string;
  let dir: string;
  let lines: string[];
  const env = { ...process.env, NDR_PROJECT: '' };
  const run = (action: JobspecArgs['action'], extra: Partial<JobspecArgs> = {}) =>
    runJobspec({ action, jobspecs: `dynamodb:${table}`, dynamodbEndpoint: endpoints().dynamodb, ...extra }, { out: (l) => lines.push(l), dynamo: client, env });

  beforeAll(async () => {
    client = dynamoClient();
    counter = countCommands(client);
    table = uniqueName('ndr_jobspecs');
    dir = await tmp();
    await writeSpecs(dir, 'acme', { 'project_parameters#v1': PP_V1, 'fg_a_builder#v1': FGA_V1, 'project_parameters#v2': PP_V2 });
    lines = [];
    await run('create-table');
    expect(lines).toEqual([`created DynamoDB table ${table}`]);
  });
  beforeEach(() => {
    lines = [];
    counter.reset();
  });

  it('create-table is idempotent', async () => {
    await run('create-table');
    expect(lines).toEqual([`DynamoDB table ${table} already exists`]);
  });

  it('push creates every item of a project directory, then is idempotent with no writes', async () => {
    await run('push', { from: join(dir, 'acme') });
    expect(lines).toEqual([
      'created   acme/fg_a_builder#v1',
      'created   acme/project_parameters#v1',
      'created   acme/project_parameters#v2',
      `pushed 3 JobSpec(s) to DynamoDB table ${table}: 3 created, 0 unchanged, 0 updated`,
    ]);
    expect(counter.count('PutItem')).toBe(3);
    const stored = await new DynamoJobSpecSource({ client, table }).get('acme', 'fg_a_builder', 'v1');
    expect(stored).toEqual(FGA_V1);

    lines = [];
    counter.reset();
    await run('push', { from: dir, project: 'acme' }); // the root layout works too
    expect(lines).toEqual([
      'unchanged acme/fg_a_builder#v1',
      'unchanged acme/project_parameters#v1',
      'unchanged acme/project_parameters#v2',
      `pushed 3 JobSpec(s) to DynamoDB table ${table}: 0 created, 3 unchanged, 0 updated`,
    ]);
    expect(counter.count('PutItem')).toBe(0);
  });

  it('refuses a changed spec without --force (no write at all), shows the changed paths, and overwrites with --force', async () => {
    const d = await tmp();
    await writeSpecs(d, 'beta', { 'project_parameters#v1': PP_V1, 'fg_a_builder#v1': FGA_V1 });
    await run('push', { from: join(d, 'beta') });
    await writeSpecs(d, 'beta', {
      'fg_a_builder#v1': { ...FGA_V1, eps_a: 2e-9, windows: { w_15m: 15 }, lookback_days: 7 },
      'fg_b_builder#v1': {},
    });

    lines = [];
    counter.reset();
    const err = await run('push', { from: join(d, 'beta') }).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe(
      `1 JobSpec(s) differ from DynamoDB table ${table}: beta/fg_a_builder#v1; nothing was pushed; re-run with --force to overwrite`,
    );
    expect(lines).toEqual([
      'differs   beta/fg_a_builder#v1',
      '    ~ eps_a: 1e-9 -> 2e-9',
      '    + lookback_days: 7',
      '    - windows.w_1h: 60',
      'new       beta/fg_b_builder#v1',
      'unchanged beta/project_parameters#v1',
    ]);
    expect(counter.count('PutItem')).toBe(0);
    const source = new DynamoJobSpecSource({ client, table });
    expect(await source.get('beta', 'fg_a_builder', 'v1')).toEqual(FGA_V1);
    expect(await source.get('beta', 'fg_b_builder', 'v1')).toBeUndefined();

    lines = [];
    await run('push', { from: join(d, 'beta'), force: true });
    expect(lines).toEqual([
      'updated   beta/fg_a_builder#v1',
      '    ~ eps_a: 1e-9 -> 2e-9',
      '    + lookback_days: 7',
      '    - windows.w_1h: 60',
      'created   beta/fg_b_builder#v1',
      'unchanged beta/project_parameters#v1',
      `pushed 3 JobSpec(s) to DynamoDB table ${table}: 1 created, 1 unchanged, 1 updated`,
    ]);
    expect(await source.get('beta', 'fg_a_builder', 'v1')).toEqual({ ...FGA_V1, eps_a: 2e-9, windows: { w_15m: 15 }, lookback_days: 7 });
  });

  it('the source itself refuses without force, and a forced write loses to a concurrent change', async () => {
    const source = new DynamoJobSpecSource({ client, table });
    expect(await source.put('gamma', 'delta_builder', 'v1', { quantiles: [50] }, { force: false })).toBe('created');
    expect(await source.put('gamma', 'delta_builder', 'v1', { quantiles: [50] }, { force: false })).toBe('unchanged');
    await expect(source.put('gamma', 'delta_builder', 'v1', { quantiles: [50, 95] }, { force: false })).rejects.toThrow(
      `delta_builder#v1 of project gamma exists in DynamoDB table ${table} with different content (1 change(s): quantiles); use --force to overwrite`,
    );

    // another writer changes the item between our read and our conditional write
    const racer = createDocumentClient(dynamoClient());
    let armed = true;
    const raced = dynamoClient();
    countCommands(raced, async (command) => {
      if (command === 'PutItem' && armed) {
        armed = false;
        await racer.send(
          new PutCommand({ TableName: table, Item: { project_name: 'gamma', job_name_version: 'delta_builder#v1', spec: { quantiles: [1] }, spec_sha256: 'other' } }),
        );
      }
    });
    const src2 = new DynamoJobSpecSource({ client: raced, table });
    await expect(src2.put('gamma', 'delta_builder', 'v1', { quantiles: [50, 95] }, { force: true })).rejects.toThrow(
      `gamma/delta_builder#v1 changed concurrently in DynamoDB table ${table} (conditional write refused); nothing was overwritten, re-run to see the new state`,
    );
    expect(await source.get('gamma', 'delta_builder', 'v1')).toEqual({ quantiles: [1] });
  });

  it('pull writes the project tree, list shows it, and a push of the pulled tree changes nothing', async () => {
    const out = await tmp();
    await run('pull', { to: out, project: 'acme' });
    expect(lines.at(-1)).toBe(`pulled 3 JobSpec(s) to directory ${out}: 3 created, 0 unchanged, 0 updated`);
    expect((await readdir(join(out, 'acme'))).sort()).toEqual(['fg_a_builder#v1.json', 'project_parameters#v1.json', 'project_parameters#v2.json']);
    expect(JSON.parse(await readFile(join(out, 'acme', 'project_parameters#v1.json'), 'utf8'))).toEqual(PP_V1);

    lines = [];
    await run('list', { project: 'acme' });
    expect(lines).toEqual([
      'acme/fg_a_builder#v1',
      'acme/project_parameters#v1',
      'acme/project_parameters#v2',
      `3 JobSpec(s) in DynamoDB table ${table} for project acme`,
    ]);

    lines = [];
    counter.reset();
    await run('push', { from: join(out, 'acme') });
    expect(lines.at(-1)).toBe(`pushed 3 JobSpec(s) to DynamoDB table ${table}: 0 created, 3 unchanged, 0 updated`);
    expect(counter.count('PutItem')).toBe(0);

    lines = [];
    await run('pull', { to: out, project: 'acme' });
    expect(lines.at(-1)).toBe(`pulled 3 JobSpec(s) to directory ${out}: 0 created, 3 unchanged, 0 updated`);
  });

  it('loads the same validated JobSpecs from DynamoDB as from the directory (same schemas, versioned key)', async () => {
    const fromDynamo = await loadJobSpecs(openJobSpecSource({ jobspecs: `dynamodb:${table}`, dynamodbEndpoint: endpoints().dynamodb }, { dynamo: client }), 'acme', 'v1');
    const fromDir = await loadJobSpecs(new LocalJobSpecSource(dir), 'acme', 'v1');
    expect(fromDynamo).toEqual(fromDir);
    expect(fromDynamo.fg_a_builder.windows).toEqual({ w_15m: 15, w_1h: 60 });
    expect(fromDynamo.fg_a_builder.lookback_days).toBe(30); // schema default
    expect(fromDynamo.project_parameters.calendar.weekend_days).toEqual([6, 7]);
    const v2 = await loadJobSpecs(new DynamoJobSpecSource({ client, table }), 'acme', 'v2');
    expect(v2.project_parameters.baseline_schedule).toBe('weekly');
    expect(v2.fg_a_builder.windows).toEqual({ w_15m: 15, w_30m: 30, w_1h: 60, w_8h: 480, w_24h: 1440 }); // no fg_a_builder#v2: defaults
  });

  it('an unknown version lists the known ones, through a begins_with Query', async () => {
    counter.reset();
    const err = await loadJobSpecs(new DynamoJobSpecSource({ client, table }), 'acme', 'v9').catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe(`no JobSpec project_parameters#v9 for project acme in DynamoDB table ${table}; known versions: v1, v2`);
    const q = counter.calls.find((c) => c.command === 'Query')!;
    expect(q.input.KeyConditionExpression).toBe('#pk = :pk AND begins_with(#sk, :prefix)');
    expect(q.input.ExpressionAttributeValues).toEqual({ ':pk': 'acme', ':prefix': 'project_parameters#' });
    const gets = counter.calls.filter((c) => c.command === 'GetItem').map((c) => (c.input.Key as Record<string, string>).job_name_version);
    expect(gets).toContain('project_parameters#v9');
  });

  it('an invalid payload fails with the zod path, in loading and in validate', async () => {
    const doc = createDocumentClient(client);
    await doc.send(
      new PutCommand({ TableName: table, Item: { project_name: 'bad', job_name_version: 'project_parameters#v1', spec: { calendar: { weekend_days: [5, 8] } } } }),
    );
    await doc.send(new PutCommand({ TableName: table, Item: { project_name: 'bad', job_name_version: 'fg_c_builder#v1', spec: { z_max: 3 } } }));
    const err = await loadJobSpecs(new DynamoJobSpecSource({ client, table }), 'bad', 'v1').catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe(
      `JobSpec bad/project_parameters#v1 (DynamoDB table ${table}): calendar.weekend_days.1: Too big: expected number to be <=7`,
    );

    const verr = await run('validate', { project: 'bad' }).catch((e) => e);
    expect(verr).toBeInstanceOf(ConfigError);
    expect(verr.message).toBe(`1 of 2 JobSpec check(s) failed in DynamoDB table ${table}`);
    expect(lines).toEqual([
      'ok       bad/fg_c_builder#v1',
      `invalid  JobSpec bad/project_parameters#v1 (DynamoDB table ${table}): calendar.weekend_days.1: Too big: expected number to be <=7`,
    ]);
  });

  it('validate --from checks a directory; push refuses invalid files before writing anything', async () => {
    await run('validate', { from: dir, project: 'acme' });
    expect(lines).toEqual([
      'ok       acme/fg_a_builder#v1',
      'ok       acme/project_parameters#v1',
      'ok       acme/project_parameters#v2',
      `3 JobSpec(s) valid in directory ${dir}`,
    ]);

    const d = await tmp();
    await writeSpecs(d, 'delta_co', {
      'project_parameters#v1': PP_V1,
      'fg_a_builder#v1': { windows: { 'W-1h': 60 } },
      'fg_x_builder#v1': {},
    });
    lines = [];
    const verr = await run('validate', { from: join(d, 'delta_co') }).catch((e) => e);
    expect(verr.message).toBe(`2 of 3 JobSpec check(s) failed in directory ${join(d, 'delta_co')}`);
    expect(lines[0]).toMatch(/^invalid {2}JobSpec delta_co\/fg_a_builder#v1 \(directory .*\): windows\.W-1h: /);
    expect(lines[1]).toBe(
      'invalid  delta_co/fg_x_builder#v1: unknown job fg_x_builder (expected one of project_parameters, delta_builder, pair_counts_builder, fg_a_builder, fg_b_builder, fg_c_builder)',
    );

    lines = [];
    counter.reset();
    const perr = await run('push', { from: join(d, 'delta_co') }).catch((e) => e);
    expect(perr.message).toBe(`2 JobSpec(s) in ${join(d, 'delta_co')} are invalid; nothing was pushed`);
    expect(counter.count('PutItem')).toBe(0);
    expect(counter.count('GetItem')).toBe(0);
  });

  it('a version without project_parameters fails validate', async () => {
    const d = await tmp();
    await writeSpecs(d, 'eps', { 'fg_c_builder#v3': {} });
    const err = await run('validate', { from: join(d, 'eps') }).catch((e) => e);
    expect(err.message).toBe(`1 of 2 JobSpec check(s) failed in directory ${join(d, 'eps')}`);
    expect(lines).toEqual(['ok       eps/fg_c_builder#v3', 'invalid  eps/project_parameters#v3: missing (required for version v3)']);
  });

  it('a missing table names the table and the commands that create it', async () => {
    const source = openJobSpecSource({ jobspecs: 'dynamodb:ndr_no_such_table', dynamodbEndpoint: endpoints().dynamodb }, { dynamo: client });
    const err = await loadJobSpecs(source, 'acme', 'v1').catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe(
      'DynamoDB table ndr_no_such_table does not exist; create it with `ndr-sql jobspec create-table --jobspecs dynamodb:ndr_no_such_table` or: ' +
        'aws dynamodb create-table --table-name ndr_no_such_table --attribute-definitions AttributeName=project_name,AttributeType=S ' +
        'AttributeName=job_name_version,AttributeType=S --key-schema AttributeName=project_name,KeyType=HASH ' +
        'AttributeName=job_name_version,KeyType=RANGE --billing-mode PAY_PER_REQUEST',
    );
  });

  it('the table comes from --jobspecs dynamodb:TABLE, else ML_PROJECTS_PARAMETERS_TABLE_NAME, else the default', () => {
    const ep = { dynamodbEndpoint: endpoints().dynamodb };
    expect(openJobSpecSource({ jobspecs: 'dynamodb:explicit_t', ...ep }, { env: { ML_PROJECTS_PARAMETERS_TABLE_NAME: 'env_t' } }).description).toBe(
      'DynamoDB table explicit_t',
    );
    expect(openJobSpecSource({ jobspecs: 'dynamodb', ...ep }, { env: { ML_PROJECTS_PARAMETERS_TABLE_NAME: 'env_t' } }).description).toBe('DynamoDB table env_t');
    expect(openJobSpecSource({ jobspecs: 'dynamodb', ...ep }, { env: {} }).description).toBe('DynamoDB table ml_projects_parameters');
    expect(openJobSpecSource({ jobspecs: 'jobspecs' }).description).toBe('directory jobspecs');
    expect(() => openJobSpecSource({ jobspecs: 'dynamodb:' })).toThrow(UsageError);
    expect(() => openJobSpecSource({ jobspecs: 'dynamodb:ab', ...ep })).toThrow('DynamoDB table name "ab" is invalid');
  });

  it('runs through yargs with the common flags', async () => {
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      await yargs(['jobspec', 'list', '--jobspecs', `dynamodb:${table}`, '--dynamodb-endpoint', endpoints().dynamodb, '--project', 'acme'])
        .command(jobspecCommand)
        .strict()
        .exitProcess(false)
        .parseAsync();
      const printed = write.mock.calls.map((c) => String(c[0])).join('');
      expect(printed).toBe(
        `acme/fg_a_builder#v1\nacme/project_parameters#v1\nacme/project_parameters#v2\n3 JobSpec(s) in DynamoDB table ${table} for project acme\n`,
      );
    } finally {
      write.mockRestore();
    }
  });

  it('diffJson reports added, removed and changed paths', () => {
    const changes = diffJson({ a: 1, b: { c: [1, 2], d: 'x' }, e: true }, { a: 1, b: { c: [1, 3], f: null }, g: 2 });
    expect(changes.map(formatChange)).toEqual(['~ b.c[1]: 2 -> 3', '- b.d: "x"', '+ b.f: null', '- e: true', '+ g: 2']);
    expect(diffJson({ a: [1] }, { a: [1, 2] }).map(formatChange)).toEqual(['~ a: [1] -> [1,2]']);
  });
});
