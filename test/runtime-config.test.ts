/**
 * Runtime configuration (ARCHITECTURE.md "Configuration"): flags > env NDR_* >
 * ndr-sql.config.json > defaults, one-line errors for a bad file or value, and the DuckDB
 * session really runs with the resolved memory_limit, threads and temp directory.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveRuntime } from '../src/config/runtime.ts';
import { Session } from '../src/engine/session.ts';
import { tempDir } from './support/context.ts';

const tmp = tempDir('ndr-runtime-');
afterAll(() => tmp.cleanup());

describe('runtime configuration', () => {
  it('flags override env, env overrides ndr-sql.config.json, the file overrides defaults', () => {
    writeFileSync(join(tmp.dir, 'ndr-sql.config.json'), JSON.stringify({ project: 'from-file', warehouse: '/wh/file', memoryLimit: '3GB', threads: 3 }));
    const env = { NDR_WAREHOUSE: '/wh/env', NDR_MEMORY_LIMIT: '2GB', NDR_THREADS: '' };
    const r = resolveRuntime({ memoryLimit: '512MB' }, env, tmp.dir);
    expect([r.project, r.warehouse, r.memoryLimit, r.threads]).toEqual(['from-file', '/wh/env', '512MB', 3]);
    // Without the file, the defaults.
    const d = resolveRuntime({}, {}, join(tmp.dir, 'nowhere'));
    expect(d.project).toBe('demo');
    expect(d.specVersion).toBe('v1');
  });

  it('JobSpecs default to ./jobspecs where it exists, else to the bundled ones (project demo, v1)', () => {
    const bare = join(tmp.dir, 'bare');
    mkdirSync(bare);
    const bundled = resolveRuntime({}, {}, bare).jobspecs;
    expect(bundled).toBe(join(import.meta.dirname, '..', 'jobspecs'));
    expect(existsSync(join(bundled, 'demo', 'project_parameters#v1.json'))).toBe(true);
    mkdirSync(join(bare, 'jobspecs'));
    expect(resolveRuntime({}, {}, bare).jobspecs).toBe('jobspecs');
    expect(resolveRuntime({}, { NDR_JOBSPECS: 'dynamodb' }, bare).jobspecs).toBe('dynamodb');
  });

  it('a config file that is not JSON, or a bad value, is one clear error', () => {
    const broken = join(tmp.dir, 'broken');
    mkdirSync(broken);
    writeFileSync(join(broken, 'ndr-sql.config.json'), '{ "project": ');
    expect(() => resolveRuntime({}, {}, broken)).toThrow(/^cannot parse .*ndr-sql\.config\.json: /);
    expect(() => resolveRuntime({}, { NDR_THREADS: 'many' }, join(tmp.dir, 'nowhere'))).toThrow(/^runtime config threads: /);
  });

  it('the DuckDB session runs with the configured memory_limit, threads and temp directory', async () => {
    const temp = join(tmp.dir, 'spill');
    const s = await Session.open({ memoryLimit: '300MB', threads: 1, tempDir: temp });
    try {
      const row = await s.one<{ mem: string; threads: number; temp: string }>(
        `SELECT current_setting('memory_limit') AS mem, current_setting('threads')::INTEGER AS threads, current_setting('temp_directory') AS temp`,
      );
      // DuckDB reports the limit in binary units: 300 MB = 286.1 MiB.
      expect(row.mem).toBe('286.1 MiB');
      expect([row.threads, row.temp]).toEqual([1, temp]);
      expect(existsSync(temp)).toBe(true);
    } finally {
      s.close();
    }
  });
});
