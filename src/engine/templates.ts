/**
 * Versioned SQL templates: `sql/<feature_spec_version>/<name>.sql`. The
 * template text is the feature definition; its sha256 goes into every manifest.
 */
import { readFile } from 'node:fs/promises';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { ConfigError } from '../errors/index.ts';

export const SQL_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../sql');

export interface Template {
  name: string;
  version: string;
  path: string;
  text: string;
  sha256: string;
}

const cache = new Map<string, Template>();

export function knownVersions(): string[] {
  return existsSync(SQL_ROOT) ? readdirSync(SQL_ROOT).filter((d) => /^v\d+/.test(d)).sort() : [];
}

export async function loadTemplate(version: string, name: string): Promise<Template> {
  const key = `${version}/${name}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const path = join(SQL_ROOT, version, `${name}.sql`);
  if (!existsSync(path)) {
    const versions = knownVersions();
    throw new ConfigError(
      versions.includes(version)
        ? `template ${name}.sql does not exist for feature_spec_version ${version}`
        : `no SQL templates for feature_spec_version ${version}; known versions: ${versions.join(', ') || 'none'}`,
    );
  }
  const text = await readFile(path, 'utf8');
  const t = { name, version, path, text, sha256: createHash('sha256').update(text).digest('hex') };
  cache.set(key, t);
  return t;
}

/** Shared macro files of a version (`_macros*.sql`: IP parsing, segments, input typing...). */
export async function macroTemplates(version: string): Promise<Template[]> {
  const dir = join(SQL_ROOT, version);
  const names = existsSync(dir) ? readdirSync(dir).filter((f) => /^_macros.*\.sql$/.test(f)).sort() : [];
  return Promise.all(names.map((f) => loadTemplate(version, f.replace(/\.sql$/, ''))));
}

export async function loadMacros(version: string): Promise<string> {
  return (await macroTemplates(version)).map((t) => t.text).join('\n;\n');
}
