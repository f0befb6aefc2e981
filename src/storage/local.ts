/** The local-filesystem warehouse. Same protocol as S3: run-unique files, manifest last. */
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { ConfigError } from '../errors/index.ts';
import { MANIFEST_NAME, type Manifest, type ManifestFile } from './manifest.ts';
import type { StagedPartition, Warehouse } from './warehouse.ts';

/** Write-then-rename, so readers see the old file or the new one, never a part. */
function writeFileAtomic(path: string, text: string) {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

async function readJsonFile<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * Manifests are read by the thousand (a day's FG-A checks ~3,600: its windows and its
 * 30-day look-back), each a few KB. fs/promises' readFile costs four thread-pool round trips
 * per file; reading them synchronously was 2–8x faster (2,688 manifests: 0.34–0.70 s
 * against 1.3–2.6 s), and nothing else waits on the event loop while a step plans.
 */
function readJsonFileSync<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

export class LocalWarehouse implements Warehouse {
  readonly dir: string;
  constructor(root: string) {
    this.dir = resolve(root);
  }
  get root() {
    return this.dir;
  }

  /** Fails early, with the path, when the root cannot be created or written. */
  async ensureWritable(): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true });
      const probe = join(this.dir, `.probe-${process.pid}`);
      await writeFile(probe, '');
      await rm(probe);
    } catch (e) {
      throw new ConfigError(`warehouse ${this.dir} is not writable: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }

  async stagingDir(runId: string) {
    const dir = join(this.dir, '_staging', runId);
    await mkdir(dir, { recursive: true });
    return dir;
  }

  async cleanupStaging(runId: string) {
    await rm(join(this.dir, '_staging', runId), { recursive: true, force: true });
  }

  private manifestOf(partition: string) {
    return readJsonFileSync<Manifest>(join(this.dir, partition, MANIFEST_NAME));
  }

  async readManifest(partition: string) {
    return this.manifestOf(partition);
  }

  async readManifests(partitions: string[]) {
    const out = new Map<string, Manifest>();
    for (const p of partitions) {
      const m = this.manifestOf(p);
      if (m) out.set(p, m);
    }
    return out;
  }

  async localDataFiles(manifest: Manifest) {
    return manifest.files.map((f) => join(this.dir, manifest.partition, f.name));
  }

  /**
   * Synchronous file operations, like the manifest reads above: a commit is ~8 small ones
   * (mkdir, rename, stat, the manifest's write and swap, the directory listing), and through
   * the thread pool 288 commits of 11 KB files took 180–250 ms against 105–120 ms (a demo
   * commits 3,756 partitions). Nothing else waits on the event loop while a step commits.
   */
  async commit(staged: StagedPartition): Promise<Manifest> {
    const partDir = join(this.dir, staged.partition);
    mkdirSync(partDir, { recursive: true });
    const files: ManifestFile[] = [];
    for (const { path: local, rows } of staged.localFiles) {
      const name = basename(local);
      const target = join(partDir, name);
      try {
        renameSync(local, target);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
        copyFileSync(local, target);
      }
      files.push({ name, rows, bytes: statSync(target).size });
    }
    const manifest: Manifest = { ...staged.manifest, files };
    writeFileAtomic(join(partDir, MANIFEST_NAME), JSON.stringify(manifest, null, 2));
    this.removeUnreferenced(partDir, new Set(files.map((f) => f.name)));
    return manifest;
  }

  /**
   * After the manifest swap: delete superseded files and orphans of killed runs.
   * Safe because a partition is only ever written under its lock.
   */
  private removeUnreferenced(partDir: string, keep: Set<string>) {
    for (const entry of readdirSync(partDir, { withFileTypes: true })) {
      if (entry.isFile() && entry.name !== MANIFEST_NAME && !keep.has(entry.name)) rmSync(join(partDir, entry.name), { force: true });
    }
  }

  async listCommitted(prefix: string) {
    const out: string[] = [];
    const walk = async (dir: string) => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        if (e.isDirectory() && e.name !== '_staging') await walk(join(dir, e.name));
        else if (e.name === MANIFEST_NAME) out.push(relative(this.dir, dir));
      }
    };
    await walk(join(this.dir, prefix));
    return out.sort();
  }

  async writeJson(path: string, value: unknown) {
    writeFileAtomic(join(this.dir, path), JSON.stringify(value, null, 2));
  }
  readJson<T>(path: string) {
    return readJsonFile<T>(join(this.dir, path));
  }
  async listJson(prefix: string) {
    const base = join(this.dir, prefix);
    const entries = await readdir(base, { recursive: true }).catch(() => [] as string[]);
    return entries
      .filter((e) => e.endsWith('.json') && !e.endsWith(MANIFEST_NAME))
      .map((e) => relative(this.dir, join(base, e)))
      .sort();
  }
}
