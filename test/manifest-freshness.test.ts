/**
 * Partition manifests and freshness (ARCHITECTURE.md principle 5 and `build`):
 * - a committed partition's `_manifest.json` records the real template hashes
 *   (sha256 of sql/v1/*.sql, recomputed here), the JobSpec hash, the raw inputs
 *   with their fingerprints, the row count of its data files, the dq counters,
 *   the optional raw fields the input lacks, the engine versions and timings;
 * - a rebuild without changes commits nothing; an edit to a JobSpec a dataset
 *   reads makes exactly that dataset stale (rebuilt under a new run id), an edit
 *   to one it does not read does not; --force rebuilds anyway; a rerun of an
 *   upstream partition (new run id) makes FG-A stale; a changed template hash
 *   makes a partition stale (checked on partitionState: sql/ has no root
 *   override, so a template cannot be edited end to end from a test);
 * - checkContract names the template, the column and the rule for a missing
 *   column, a wrong type and undeclared columns.
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalJobSpecSource, loadJobSpecs } from '../src/config/jobspec-source.ts';
import { batchesInRange } from '../src/engine/batches.ts';
import { checkContract } from '../src/engine/execute.ts';
import { Session } from '../src/engine/session.ts';
import { DataError } from '../src/errors/index.ts';
import { buildFgA } from '../src/pipeline/build-fg-a.ts';
import { RAW_DATASETS, buildFromRaw } from '../src/pipeline/build-raw.ts';
import { partitionState } from '../src/pipeline/freshness.ts';
import type { Manifest } from '../src/storage/manifest.ts';
import { deltaColumns, type Column } from '../src/transforms/columns.ts';
import { runCli } from './support/cli.ts';
import { REPO, tempDir, testContext } from './support/context.ts';
import { cliArgs, events } from './nightly/fixture.ts';

const DAY = '2026-05-04';
const FROM = `${DAY}T12:00:00Z`;
const TO = `${DAY}T12:30:00Z`;
const BATCHES = batchesInRange(Date.parse(FROM), Date.parse(TO));
const MMS = ['00', '15'] as const;

const tmp = tempDir('ndr-manifest-');
const RAW = join(tmp.dir, 'raw');
const URI = `${RAW}/dt={dt}/hh={hh}/mm={mm}/*.parquet`;
const SPECS = join(tmp.dir, 'specs');
const WH = join(tmp.dir, 'wh');
const rawFile = (mm: string) => join(RAW, `dt=${DAY}`, 'hh=12', `mm=${mm}`, 'data_0.parquet');
const partitionOf = (ds: string, mm: string) => `${ds}/feature_spec_version=v1/dt=${DAY}/hh=12/mm=${mm}`;
const ALL_PARTITIONS = RAW_DATASETS.flatMap((d) => MMS.map((mm) => partitionOf(d, mm))).sort();

/** The manifest as it is on disk (not through the warehouse code). */
const manifest = (ds: string, mm: string): Manifest => JSON.parse(readFileSync(join(WH, partitionOf(ds, mm), '_manifest.json'), 'utf8'));
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const templateSha = (name: string) => sha256(readFileSync(join(REPO, 'sql', 'v1', `${name}.sql`)));
/** Canonical JSON: keys sorted, as a hash over a JSON document must be. */
const sortedJson = (v: unknown): string =>
  Array.isArray(v)
    ? `[${v.map(sortedJson).join(',')}]`
    : v && typeof v === 'object'
      ? `{${Object.keys(v)
          .sort()
          .map((k) => `${JSON.stringify(k)}:${sortedJson((v as Record<string, unknown>)[k])}`)
          .join(',')}}`
      : JSON.stringify(v);

/** Patch one JobSpec of the copied demo project. */
function patchSpec(job: string, f: (j: Record<string, unknown>) => void) {
  const file = join(SPECS, 'demo', `${job}#v1.json`);
  const j = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  f(j);
  writeFileSync(file, JSON.stringify(j, null, 2));
}

/** The JobSpec fingerprint a dataset should carry, from the per-job hashes of the copied specs. */
async function expectedJobspecSha(jobs: string[]): Promise<string> {
  const specs = await loadJobSpecs(new LocalJobSpecSource(SPECS), 'demo', 'v1');
  const hashes = specs.hashes as Record<string, string>;
  return sha256(sortedJson({ jobs: Object.fromEntries(jobs.map((j) => [j, hashes[j]])), internal_networks: null }));
}

/** `ndr-sql build <ds>` over the two batches; returns the JSON log events and the dataset's step event. */
async function build(ds: string, ...extra: string[]) {
  const r = await runCli(['build', ds, '--from', FROM, '--to', TO, ...cliArgs(WH, URI, SPECS), '--log-format', 'json', ...extra]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const ev = events(r.stdout);
  // The requested dataset's step is the last one (fg-a may first report its look-back compaction step).
  return { ev, step: ev.filter((e) => e.event === 'step').at(-1)! };
}

/** What `plan` would do for the raw stage (or FG-A): partition -> missing | stale | up_to_date. */
async function plan(internalNetworks?: string, stage: 'raw' | 'fg_a' = 'raw'): Promise<Record<string, string>> {
  const ctx = await testContext({ warehouse: WH, raw: URI, rawFormat: 'parquet', preset: 'paloalto', jobspecs: SPECS, internalNetworks });
  try {
    ctx.dryRun = true;
    const planned = stage === 'raw' ? (await buildFromRaw(ctx, [...RAW_DATASETS], BATCHES)).planned! : (await buildFgA(ctx, BATCHES)).at(-1)!.planned!;
    return Object.fromEntries(planned.map((p) => [p.partition, p.state]));
  } finally {
    ctx.session.close();
  }
}
const planFgA = async () => statesOf(await plan(undefined, 'fg_a'), 'fg_a');
/** The digest by which an FG-A manifest names a set of upstream partitions: their paths and run ids. */
const upstreamDigest = (ms: Manifest[]) =>
  sha256(
    [...ms]
      .sort((a, b) => (a.partition < b.partition ? -1 : 1))
      .map((m) => `${m.partition}@${m.run_id}\n`)
      .join(''),
  );
/** FG-A's delta / delta_peers input of anchor batch `mm`: the batches of its widest window (24 h), i.e. ours up to the anchor. */
function expectedFgAInput(ds: 'delta' | 'delta_peers', mm: string) {
  const i = MMS.indexOf(mm as (typeof MMS)[number]);
  const end = new Date(Date.parse(`${DAY}T12:${mm}:00Z`) + 900_000).toISOString().replace('.000Z', 'Z');
  const ups = MMS.slice(0, i + 1).map((x) => manifest(ds, x));
  return { dataset: ds, partition: `window of ${end} (${ups.length} partitions)`, fingerprint: upstreamDigest(ups) };
}
const statesOf = (p: Record<string, string>, ds: string) => MMS.map((mm) => p[partitionOf(ds, mm)]);

/** Row count of Parquet files, read by DuckDB directly. */
async function parquetRows(files: string[]): Promise<{ rows: number; columns: Column[]; data: Record<string, unknown>[]; physical: string[] }> {
  const inst = await DuckDBInstance.create(':memory:');
  const c = await inst.connect();
  try {
    const list = files.map((f) => `'${f.replaceAll("'", "''")}'`).join(',');
    const data = (await c.runAndReadAll(`SELECT * FROM read_parquet([${list}], hive_partitioning = false)`)).getRowObjectsJS() as Record<string, unknown>[];
    const columns = (await c.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet([${list}], hive_partitioning = false)`))
      .getRowObjectsJS()
      .map((r) => ({ name: String(r.column_name), type: String(r.column_type) }));
    // The Parquet types as any reader sees them (role and the labels are written through ENUMs).
    const physical = (await c.runAndReadAll(`SELECT name, converted_type, logical_type::VARCHAR AS logical FROM parquet_schema([${list}]) WHERE num_children IS NULL`))
      .getRowObjectsJS()
      .map((r) => `${r.name}:${r.converted_type}:${r.logical ?? ''}`);
    return { rows: data.length, columns, data, physical: [...new Set(physical)] };
  } finally {
    c.closeSync();
    inst.closeSync();
  }
}

/**
 * Two 15-minute batches, one Parquet file each, with no event_reason,
 * event_name or network_transport column (optional fields, FEATURES.md §1).
 * 12:00 — 9 rows: 5 x 10.0.0.1->8.8.8.8:443, 2 x 10.0.0.2->10.0.0.1:22,
 *         1 malformed destination IP, 1 with NULL bytes and ports (filter_null_bytes_ports).
 * 12:15 — 4 rows: 3 x 10.0.0.1->1.1.1.1:443, 1 x 10.0.0.2->8.8.8.8:0.
 */
async function writeRaw() {
  const inst = await DuckDBInstance.create(':memory:');
  const c = await inst.connect();
  const v = (x: number | null) => (x === null ? 'NULL' : String(x));
  const row = (src: string, dst: string, sp: number | null, dp: number | null, sb: number | null, db: number | null, start: string, action = 'allow') =>
    `('${src}', '${dst}', ${v(sp)}, ${v(dp)}, ${v(sb)}, ${v(db)}, TIMESTAMP '${DAY} ${start}', TIMESTAMP '${DAY} ${start}' + INTERVAL 2 SECOND, '${action}')`;
  const rows = [
    ...[1, 2, 3, 4, 5].map((i) => row('10.0.0.1', '8.8.8.8', 50000 + i, 443, 100 * i, 200, `12:01:0${i}`)),
    row('10.0.0.2', '10.0.0.1', 60001, 22, 50, 70, '12:05:00'),
    row('10.0.0.2', '10.0.0.1', 60002, 22, 50, 70, '12:06:00'),
    row('10.0.0.1', '999.1.1.1', 50010, 80, 10, 0, '12:07:00'),
    row('10.0.0.2', '8.8.8.8', null, null, null, null, '12:08:00'),
    row('10.0.0.1', '1.1.1.1', 50020, 443, 300, 400, '12:16:00'),
    row('10.0.0.1', '1.1.1.1', 50021, 443, 300, 400, '12:17:00', 'deny'),
    row('10.0.0.1', '1.1.1.1', 50022, 443, 300, 400, '12:18:00'),
    row('10.0.0.2', '8.8.8.8', 60020, 0, 10, 10, '12:19:00'),
  ];
  try {
    await c.run(`SET TimeZone = 'UTC'`);
    await c.run(`CREATE TABLE ev (source_ip VARCHAR, destination_ip VARCHAR, source_port INTEGER, destination_port INTEGER,
      source_bytes BIGINT, destination_bytes BIGINT, event_start TIMESTAMP, event_end TIMESTAMP, event_action VARCHAR)`);
    await c.run(`INSERT INTO ev VALUES ${rows.join(',\n')}`);
    for (const mm of MMS) {
      mkdirSync(join(rawFile(mm), '..'), { recursive: true });
      await c.run(
        `COPY (SELECT * FROM ev WHERE strftime(event_start, '%M')::INTEGER // 15 * 15 = ${Number(mm)} ORDER BY event_start) TO '${rawFile(mm)}' (FORMAT parquet)`,
      );
    }
  } finally {
    c.closeSync();
    inst.closeSync();
  }
}

beforeAll(async () => {
  await writeRaw();
  mkdirSync(join(SPECS, 'demo'), { recursive: true });
  cpSync(join(REPO, 'jobspecs', 'demo'), join(SPECS, 'demo'), { recursive: true });
}, 60_000);
afterAll(() => tmp.cleanup());

describe('manifest of a committed partition', () => {
  let first: Awaited<ReturnType<typeof build>>;
  let fgA: Awaited<ReturnType<typeof build>>;
  beforeAll(async () => {
    first = await build('delta,delta_peers,pair_counts');
    fgA = await build('fg-a');
  }, 60_000);

  it('the first build commits every partition of the two batches, and warns about the missing optional fields', () => {
    expect(first.step).toMatchObject({ dataset: 'delta+delta_peers+pair_counts', committed: 6, skipped_up_to_date: 0, missing_input: 0 });
    expect(first.ev.find((e) => e.event === 'missing_optional_fields')).toMatchObject({ level: 'warn', fields: 'event_reason,event_name,network_transport' });
    for (const p of ALL_PARTITIONS) expect(existsSync(join(WH, p, '_manifest.json')), p).toBe(true);
  });

  it('identifies the partition, the version and the run', () => {
    const m = manifest('delta', '00');
    expect(m).toMatchObject({
      dataset: 'delta',
      partition: partitionOf('delta', '00'),
      partition_values: { dt: DAY, hh: '12', mm: '00' },
      feature_spec_version: 'v1',
    });
    expect(m.run_id).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{8}$/);
    // One run wrote every partition.
    expect(new Set(RAW_DATASETS.flatMap((d) => MMS.map((mm) => manifest(d, mm).run_id)))).toEqual(new Set([m.run_id]));
    expect(Date.parse(m.created_at)).not.toBeNaN();
  });

  it('records the sha256 of every template the dataset ran, recomputed from sql/v1', () => {
    const macros = readdirSync(join(REPO, 'sql', 'v1'))
      .filter((f) => /^_macros.*\.sql$/.test(f))
      .map((f) => f.replace(/\.sql$/, ''));
    expect(macros).toContain('_macros');
    // Shared by every raw dataset: the typed events and their DQ, the manifest's dq counters
    // (dq_counts), glob placement (raw_span, raw_file_spans), the parse checks (raw_parse_errors)
    // and the batches' label columns (batch_labels).
    const shared = ['events', 'ip_list_events', 'ip_dim', 'events_dq', 'events_kept', 'dq_counts', 'raw_span', 'raw_file_spans', 'raw_parse_errors', 'batch_labels'];
    const expected: Record<string, string[]> = {
      delta: [...macros, ...shared, 'role_events', 'delta'],
      delta_peers: [...macros, ...shared, 'role_events', 'delta_peers'],
      pair_counts: [...macros, ...shared, 'pair_counts'],
    };
    for (const ds of RAW_DATASETS) {
      for (const mm of MMS) {
        const refs = manifest(ds, mm).template;
        expect(refs.map((t) => t.name).sort(), `${ds} ${mm}`).toEqual([...expected[ds]].sort());
        for (const t of refs) expect(t.sha256, `${ds} ${t.name}`).toBe(templateSha(t.name));
      }
    }
  });

  it('records the JobSpec hash of exactly the jobs the dataset reads', async () => {
    expect(manifest('delta', '00').jobspec_sha256).toBe(await expectedJobspecSha(['project_parameters', 'delta_builder']));
    expect(manifest('delta_peers', '15').jobspec_sha256).toBe(await expectedJobspecSha(['project_parameters', 'delta_builder']));
    expect(manifest('pair_counts', '00').jobspec_sha256).toBe(await expectedJobspecSha(['project_parameters', 'delta_builder', 'pair_counts_builder']));
    expect(manifest('pair_counts', '00').jobspec_sha256).not.toBe(manifest('delta', '00').jobspec_sha256);
  });

  it('records the raw input file of its batch with its size:mtime fingerprint', () => {
    for (const ds of RAW_DATASETS) {
      for (const mm of MMS) {
        const st = statSync(rawFile(mm));
        expect(manifest(ds, mm).inputs, `${ds} ${mm}`).toEqual([{ dataset: 'raw', partition: rawFile(mm), fingerprint: `${st.size}:${st.mtimeMs}` }]);
      }
    }
    expect(manifest('delta', '00').notes).toMatchObject({ raw_uri: URI });
  });

  it('records the row count of its data files, and the columns they hold', async () => {
    const expectedRows: Record<string, [number, number]> = {
      // 12:00: 10.0.0.1 outbound, 10.0.0.2 outbound, 10.0.0.1 inbound; 12:15: both hosts outbound.
      delta: [3, 2],
      // 12:00: one peer per (host, role) above; 12:15: (10.0.0.1, 1.1.1.1:443), (10.0.0.2, 8.8.8.8:0).
      delta_peers: [3, 2],
      // 12:00: (10.0.0.1, 8.8.8.8, 443), (10.0.0.2, 10.0.0.1, 22); 12:15: the port-0 pair is filtered out.
      pair_counts: [2, 1],
    };
    for (const ds of RAW_DATASETS) {
      for (const [i, mm] of MMS.entries()) {
        const m = manifest(ds, mm);
        const files = m.files.map((f) => join(WH, m.partition, f.name));
        const read = await parquetRows(files);
        expect(m.row_count, `${ds} ${mm}`).toBe(read.rows);
        expect(m.row_count, `${ds} ${mm}`).toBe(expectedRows[ds][i]);
        expect(m.files.reduce((a, f) => a + f.rows, 0)).toBe(m.row_count);
        for (const f of m.files) {
          expect(f.name).toContain(m.run_id);
          expect(f.bytes).toBe(statSync(join(WH, m.partition, f.name)).size);
        }
        expect(read.columns).toEqual(m.columns);
        // Text columns are plain UTF8 strings in the file, whatever type wrote them.
        for (const c of m.columns.filter((c) => c.type === 'VARCHAR')) expect(read.physical, `${ds} ${c.name}`).toContain(`${c.name}:UTF8:`);
      }
    }
    const m = manifest('delta', '00');
    expect(m.columns).toEqual(deltaColumns((await loadJobSpecs(new LocalJobSpecSource(SPECS), 'demo', 'v1'))));
    const delta = (await parquetRows(m.files.map((f) => join(WH, m.partition, f.name)))).data;
    expect(delta.map((r) => `${r.host_ip} ${r.role} ${r.sessions_cnt}`).sort()).toEqual(['10.0.0.1 inbound 2', '10.0.0.1 outbound 5', '10.0.0.2 outbound 2']);
  });

  it('records the dq counters of its batch', () => {
    const zero = { null_event_start: 0, outside_batch: 0, duration_non_negative: 0, bytes_non_negative: 0 };
    for (const ds of RAW_DATASETS) {
      expect(manifest(ds, '00').dq, ds).toEqual({ rows_read: 9, filter_null_bytes_ports: 1, drop_malformed_ip: 1, rows_kept: 7, ...zero });
      expect(manifest(ds, '15').dq, ds).toEqual({ rows_read: 4, filter_null_bytes_ports: 0, drop_malformed_ip: 0, rows_kept: 4, ...zero });
    }
  });

  it('lists the optional raw fields the input lacks, and FG-A inherits them from its delta inputs', () => {
    for (const ds of RAW_DATASETS) for (const mm of MMS) expect(manifest(ds, mm).missing_optional_fields).toEqual(['event_reason', 'event_name', 'network_transport']);
    for (const mm of MMS) expect(manifest('fg_a', mm).missing_optional_fields).toEqual(['event_name', 'event_reason', 'network_transport']);
  });

  it('an FG-A partition records its upstream partitions by their run ids, its templates and its JobSpec hash', async () => {
    expect(fgA.step).toMatchObject({ dataset: 'fg_a', committed: 2, skipped_up_to_date: 0, missing_input: 0 });
    const macros = readdirSync(join(REPO, 'sql', 'v1')).filter((f) => /^_macros.*\.sql$/.test(f)).map((f) => f.replace(/\.sql$/, ''));
    for (const mm of MMS) {
      const m = manifest('fg_a', mm);
      expect(m.inputs.find((x) => x.dataset === 'delta'), mm).toEqual(expectedFgAInput('delta', mm));
      expect(m.inputs.find((x) => x.dataset === 'delta_peers'), mm).toEqual(expectedFgAInput('delta_peers', mm));
      expect(m.template.map((t) => t.name).sort()).toEqual([...macros, 'ip_list_peers', 'ip_dim', 'delta_to_fg_a', 'fg_a', 'delta_peers_daily'].sort());
      for (const t of m.template) expect(t.sha256, t.name).toBe(templateSha(t.name));
      expect(m.jobspec_sha256).toBe(await expectedJobspecSha(['project_parameters', 'delta_builder', 'fg_a_builder']));
      const read = await parquetRows(m.files.map((f) => join(WH, m.partition, f.name)));
      expect(m.row_count).toBe(read.rows);
      expect(m.row_count).toBeGreaterThan(0);
    }
    expect(await planFgA()).toEqual(['up_to_date', 'up_to_date']);
  });

  it('records the engine versions and the timings', () => {
    const m = manifest('delta', '00');
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
    expect(m.engine.ndr_sql).toBe(pkg.version);
    expect(m.engine.duckdb).toMatch(/^v\d+\.\d+\.\d+/);
    expect(Object.keys(m.timings_ms).sort()).toEqual(['read_and_dq', 'stage_and_commit', 'transform']);
    for (const [k, v] of Object.entries(m.timings_ms)) {
      expect(Number.isInteger(v), k).toBe(true);
      expect(v, k).toBeGreaterThanOrEqual(0);
    }
  });
});

describe('freshness: what a rebuild does', () => {
  const runIds = () => Object.fromEntries(ALL_PARTITIONS.map((p) => [p, (JSON.parse(readFileSync(join(WH, p, '_manifest.json'), 'utf8')) as Manifest).run_id]));
  const dataFiles = (p: string) => readdirSync(join(WH, p)).filter((f) => f.endsWith('.parquet')).sort();

  it('a rebuild without changes commits nothing and leaves every manifest and file as it was', async () => {
    expect(Object.values(await plan()).every((s) => s === 'up_to_date')).toBe(true);
    const before = Object.fromEntries(ALL_PARTITIONS.map((p) => [p, readFileSync(join(WH, p, '_manifest.json'), 'utf8')]));
    const filesBefore = ALL_PARTITIONS.map(dataFiles);
    const { step } = await build('delta,delta_peers,pair_counts');
    expect(step).toMatchObject({ committed: 0, skipped_up_to_date: 6, missing_input: 0 });
    const single = await build('delta');
    expect(single.step).toMatchObject({ dataset: 'delta', committed: 0, skipped_up_to_date: 2 });
    const fgA = await build('fg-a');
    expect(fgA.step).toMatchObject({ dataset: 'fg_a', committed: 0, skipped_up_to_date: 2 });
    for (const p of ALL_PARTITIONS) expect(readFileSync(join(WH, p, '_manifest.json'), 'utf8'), p).toBe(before[p]);
    expect(ALL_PARTITIONS.map(dataFiles)).toEqual(filesBefore);
  }, 60_000);

  it('a host-scope override (--internal-networks) makes every partition stale', async () => {
    const p = await plan('all');
    for (const ds of RAW_DATASETS) expect(statesOf(p, ds), ds).toEqual(['stale', 'stale']);
  }, 30_000);

  it('an edit to a JobSpec no raw dataset reads (fg_c_builder) leaves them up to date', async () => {
    const before = runIds();
    const fgCHash = async () => (await loadJobSpecs(new LocalJobSpecSource(SPECS), 'demo', 'v1')).hashes.fg_c_builder;
    const hashBefore = await fgCHash();
    patchSpec('fg_c_builder', (j) => (j.z_max = 5));
    expect(await fgCHash()).not.toBe(hashBefore);
    const p = await plan();
    expect(Object.values(p).every((s) => s === 'up_to_date')).toBe(true);
    const { step } = await build('delta,delta_peers,pair_counts');
    expect(step).toMatchObject({ committed: 0, skipped_up_to_date: 6 });
    expect(runIds()).toEqual(before);
  }, 60_000);

  it('an edit to pair_counts_builder makes only pair_counts stale; building it commits a new run and the new rows', async () => {
    const before = runIds();
    patchSpec('pair_counts_builder', (j) => (j.filters = { require_positive_dst_port: false }));
    const p = await plan();
    expect(statesOf(p, 'pair_counts')).toEqual(['stale', 'stale']);
    expect(statesOf(p, 'delta')).toEqual(['up_to_date', 'up_to_date']);
    expect(statesOf(p, 'delta_peers')).toEqual(['up_to_date', 'up_to_date']);

    const { step } = await build('pair_counts');
    expect(step).toMatchObject({ dataset: 'pair_counts', committed: 2, skipped_up_to_date: 0 });
    const after = runIds();
    for (const p of ALL_PARTITIONS) {
      if (p.startsWith('pair_counts/')) expect(after[p], p).not.toBe(before[p]);
      else expect(after[p], p).toBe(before[p]);
    }
    const m = manifest('pair_counts', '15');
    expect(m.jobspec_sha256).toBe(await expectedJobspecSha(['project_parameters', 'delta_builder', 'pair_counts_builder']));
    // The port-0 pair is no longer filtered out; the superseded file is gone.
    expect(m.row_count).toBe(2);
    expect(dataFiles(m.partition)).toEqual(m.files.map((f) => f.name).sort());
    expect(m.files.every((f) => f.name.includes(after[m.partition]))).toBe(true);
    expect(Object.values(await plan()).every((s) => s === 'up_to_date')).toBe(true);
    // pair_counts is no FG-A input, and FG-A does not read pair_counts_builder.
    expect(await planFgA()).toEqual(['up_to_date', 'up_to_date']);
  }, 60_000);

  it('--force rebuilds up-to-date partitions', async () => {
    const before = runIds();
    expect(Object.values(await plan()).every((s) => s === 'up_to_date')).toBe(true);
    const { step } = await build('delta', '--force');
    expect(step).toMatchObject({ dataset: 'delta', committed: 2, skipped_up_to_date: 0 });
    const after = runIds();
    for (const p of ALL_PARTITIONS) {
      if (p.startsWith('delta/')) expect(after[p], p).not.toBe(before[p]);
      else expect(after[p], p).toBe(before[p]);
    }
  }, 60_000);

  it('a rerun of an upstream partition (new run id, same JobSpecs) makes FG-A stale; its rebuild records the new run ids', async () => {
    const before = MMS.map((mm) => manifest('fg_a', mm));
    // The delta inputs recorded by FG-A name the delta runs that --force replaced.
    for (const [i, mm] of MMS.entries()) expect(before[i].inputs.find((x) => x.dataset === 'delta')).not.toEqual(expectedFgAInput('delta', mm));
    expect(await planFgA()).toEqual(['stale', 'stale']);
    expect((await build('fg-a')).step).toMatchObject({ dataset: 'fg_a', committed: 2, skipped_up_to_date: 0 });
    for (const [i, mm] of MMS.entries()) {
      const m = manifest('fg_a', mm);
      expect(m.run_id).not.toBe(before[i].run_id);
      expect(m.jobspec_sha256).toBe(before[i].jobspec_sha256);
      expect(m.inputs.find((x) => x.dataset === 'delta')).toEqual(expectedFgAInput('delta', mm));
      expect(m.inputs.find((x) => x.dataset === 'delta_peers')).toEqual(before[i].inputs.find((x) => x.dataset === 'delta_peers'));
    }
    expect(await planFgA()).toEqual(['up_to_date', 'up_to_date']);
  }, 60_000);

  it('an edit to delta_builder makes all three stale; the rebuild commits new runs with the new results', async () => {
    const before = runIds();
    const oldDeltaSha = manifest('delta', '00').jobspec_sha256;
    patchSpec('delta_builder', (j) => (j.dq = { drop_malformed_ip: false }));
    const p = await plan();
    for (const ds of RAW_DATASETS) expect(statesOf(p, ds), ds).toEqual(['stale', 'stale']);

    const { step } = await build('delta,delta_peers,pair_counts');
    expect(step).toMatchObject({ committed: 6, skipped_up_to_date: 0 });
    const after = runIds();
    for (const part of ALL_PARTITIONS) {
      expect(after[part], part).not.toBe(before[part]);
      const m = JSON.parse(readFileSync(join(WH, part, '_manifest.json'), 'utf8')) as Manifest;
      expect(dataFiles(part)).toEqual(m.files.map((f) => f.name).sort());
      expect(m.files.every((f) => f.name.includes(m.run_id))).toBe(true);
    }
    const m = manifest('delta', '00');
    expect(m.jobspec_sha256).not.toBe(oldDeltaSha);
    expect(m.jobspec_sha256).toBe(await expectedJobspecSha(['project_parameters', 'delta_builder']));
    // The malformed-IP row is kept now.
    expect(m.dq).toMatchObject({ rows_read: 9, drop_malformed_ip: 0, filter_null_bytes_ports: 1, rows_kept: 8 });
    const delta = (await parquetRows(m.files.map((f) => join(WH, m.partition, f.name)))).data;
    expect(delta.map((r) => `${r.host_ip} ${r.role} ${r.sessions_cnt}`).sort()).toEqual(['10.0.0.1 inbound 2', '10.0.0.1 outbound 6', '10.0.0.2 outbound 2']);
    expect(manifest('pair_counts', '00').row_count).toBe(3);
    // FG-A reads delta_builder and the rebuilt partitions: stale.
    expect(await planFgA()).toEqual(['stale', 'stale']);
  }, 60_000);

  it('a changed, added or removed template hash makes a committed partition stale (partitionState)', () => {
    // sql/ is resolved from the package (templates.ts SQL_ROOT) with no override, so
    // a template edit is simulated on the expected side, against a real manifest.
    const m = manifest('delta', '00');
    const expected = { templates: m.template.map((t) => ({ ...t })), jobspecSha256: m.jobspec_sha256, inputs: m.inputs.map((i) => ({ ...i })) };
    expect(partitionState(m, expected)).toBe('up_to_date');
    expect(partitionState(m, { ...expected, templates: [...expected.templates].reverse() })).toBe('up_to_date');
    const edited = expected.templates.map((t) => (t.name === 'delta' ? { ...t, sha256: sha256(readFileSync(join(REPO, 'sql/v1/delta.sql'), 'utf8') + '\n-- edited') } : t));
    expect(edited.find((t) => t.name === 'delta')!.sha256).not.toBe(templateSha('delta'));
    expect(partitionState(m, { ...expected, templates: edited })).toBe('stale');
    expect(partitionState(m, { ...expected, templates: [...expected.templates, { name: 'new_step', sha256: sha256('SELECT 1') }] })).toBe('stale');
    expect(partitionState(m, { ...expected, templates: expected.templates.filter((t) => t.name !== 'role_events') })).toBe('stale');
    expect(partitionState(m, { ...expected, jobspecSha256: sha256('other') })).toBe('stale');
    expect(partitionState(m, { ...expected, inputs: [{ ...expected.inputs[0], fingerprint: '1:2' }] })).toBe('stale');
    expect(partitionState(undefined, expected)).toBe('missing');
  });
});

describe('checkContract: the output schema at the boundary', () => {
  const LABEL = 'sql/v1/delta.sql';
  const contract: Column[] = [
    { name: 'host_ip', type: 'VARCHAR' },
    { name: 'sessions_cnt', type: 'BIGINT' },
    { name: 'slice_start_ts', type: 'TIMESTAMP' },
    { name: 'duration_sum', type: 'DOUBLE' },
  ];
  let s: Session;
  beforeAll(async () => {
    s = await Session.open();
    await s.run(`
      CREATE TEMP TABLE ok_rel AS SELECT '10.0.0.1' AS host_ip, 1::BIGINT AS sessions_cnt, TIMESTAMP '2026-05-04 12:00' AS slice_start_ts, 1.5::DOUBLE AS duration_sum;
      CREATE TEMP TABLE reordered AS SELECT 1.5::DOUBLE AS duration_sum, TIMESTAMP '2026-05-04 12:00' AS slice_start_ts, 1::BIGINT AS sessions_cnt, '10.0.0.1' AS host_ip;
      CREATE TEMP TABLE "out delta" AS SELECT * FROM ok_rel;
      CREATE TEMP TABLE missing_col AS SELECT host_ip, slice_start_ts, duration_sum FROM ok_rel;
      CREATE TEMP TABLE wrong_type AS SELECT host_ip, sessions_cnt::INTEGER AS sessions_cnt, slice_start_ts, duration_sum FROM ok_rel;
      CREATE TEMP TABLE wrong_ts AS SELECT host_ip, sessions_cnt, slice_start_ts::TIMESTAMPTZ AS slice_start_ts, duration_sum FROM ok_rel;
      CREATE TEMP TABLE extra_cols AS SELECT *, 'x' AS debug_note, 2 AS tmp_n FROM ok_rel;
      CREATE TEMP TABLE two_faults AS SELECT host_ip, sessions_cnt::DOUBLE AS sessions_cnt, slice_start_ts, 'x' AS debug_note FROM ok_rel;
    `);
  });
  afterAll(() => s?.close());

  const failure = async (relation: string): Promise<DataError> => {
    const err = await checkContract(s, relation, contract, LABEL).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err, relation).toBeInstanceOf(DataError);
    return err as DataError;
  };

  it('accepts a relation with the declared columns and types, in any order, under any relation name', async () => {
    await expect(checkContract(s, 'ok_rel', contract, LABEL)).resolves.toBeUndefined();
    await expect(checkContract(s, 'reordered', contract, LABEL)).resolves.toBeUndefined();
    await expect(checkContract(s, 'out delta', contract, LABEL)).resolves.toBeUndefined();
  });

  it('a missing column names the template, the column and the rule', async () => {
    const e = await failure('missing_col');
    expect(e.message).toBe('file sql/v1/delta.sql, column sessions_cnt, rule output contract: column present: declared column is missing');
    expect(e.where).toEqual({ file: LABEL, column: 'sessions_cnt', rule: 'output contract: column present' });
    expect(e.exitCode).toBe(1);
  });

  it('a wrong type names the column, the declared and the actual type', async () => {
    const e = await failure('wrong_type');
    expect(e.message).toBe('file sql/v1/delta.sql, column sessions_cnt, rule output contract: type: expected BIGINT, got INTEGER');
    expect(e.where).toEqual({ file: LABEL, column: 'sessions_cnt', rule: 'output contract: type' });
    const ts = await failure('wrong_ts');
    expect(ts.message).toBe('file sql/v1/delta.sql, column slice_start_ts, rule output contract: type: expected TIMESTAMP, got TIMESTAMP WITH TIME ZONE');
  });

  it('undeclared columns are named, all of them', async () => {
    const e = await failure('extra_cols');
    expect(e.message).toBe('file sql/v1/delta.sql, column debug_note,tmp_n, rule output contract: no undeclared columns: undeclared output column');
    expect(e.where).toEqual({ file: LABEL, column: 'debug_note,tmp_n', rule: 'output contract: no undeclared columns' });
  });

  it('with several faults, the first declared column that fails is reported', async () => {
    // two_faults: sessions_cnt is DOUBLE (wrong type) before duration_sum (missing) in contract order, plus an extra column.
    const e = await failure('two_faults');
    expect(e.where).toEqual({ file: LABEL, column: 'sessions_cnt', rule: 'output contract: type' });
    expect(e.message).toContain('expected BIGINT, got DOUBLE');
  });
});
