// Worker threads do not inherit the TypeScript loader (tsx) of the thread that
// starts them, so the worker registers it before loading its TypeScript module.
import { register } from 'tsx/esm/api';

register();
await import('./online-worker.ts');
