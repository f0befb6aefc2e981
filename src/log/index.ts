export * from './logger.ts';
export * from './progress.ts';
export * from './summary.ts';
