// Worker threads do not inherit the TypeScript loader (tsx) of the thread that starts them.
// Next to the compiled worker (dist/publish/, see bin/ndr-sql) this entry imports it; next to
// the TypeScript source it registers the loader first.
import { existsSync } from 'node:fs';

const compiled = new URL('./online-worker.js', import.meta.url);
if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('./online-worker.ts');
}
