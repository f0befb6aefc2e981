/** Test helpers: a run context over a temporary local warehouse and the bundled demo JobSpecs. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalJobSpecSource, loadJobSpecs } from '../../src/config/jobspec-source.ts';
import type { JobSpecs } from '../../src/config/jobspec-schemas.ts';
import { resolveRuntime, type RuntimeOverrides } from '../../src/config/runtime.ts';
import { silentLogger } from '../../src/log/index.ts';
import { openRunContext, type RunContext } from '../../src/pipeline/context.ts';
import { LocalWarehouse } from '../../src/storage/local.ts';

export const REPO = join(import.meta.dirname, '..', '..');
export const FIXTURES = join(REPO, 'fixtures');

export function tempDir(prefix = 'ndr-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function testContext(
  overrides: RuntimeOverrides & { warehouse: string },
  patchSpecs: (s: JobSpecs) => void = () => {},
  force = false,
): Promise<RunContext> {
  const runtime = resolveRuntime({ jobspecs: join(REPO, 'jobspecs'), cacheDir: join(overrides.warehouse, '.cache'), ...overrides }, {}, REPO);
  const specs = await loadJobSpecs(new LocalJobSpecSource(runtime.jobspecs), runtime.project, runtime.specVersion);
  patchSpecs(specs);
  return openRunContext({ specs, runtime, warehouse: new LocalWarehouse(runtime.warehouse), log: silentLogger, force });
}

/** Read every committed partition of a dataset through the manifests, as plain rows. */
export async function readDataset(ctx: RunContext, dataset: string, orderBy: string): Promise<Record<string, unknown>[]> {
  const parts = await ctx.warehouse.listCommitted(dataset);
  const manifests = [...(await ctx.warehouse.readManifests(parts)).values()];
  const files = (await Promise.all(manifests.map((m) => ctx.warehouse.localDataFiles(m)))).flat();
  if (!files.length) return [];
  const list = files.map((f) => `'${f.replaceAll("'", "''")}'`).join(',');
  return ctx.session.all(`SELECT * FROM read_parquet([${list}], hive_partitioning = false) ORDER BY ${orderBy}`);
}
