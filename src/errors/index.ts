/**
 * Error types with the exit code each maps to. The CLI prints `message` on one
 * line and exits with `exitCode`; stacks only appear with --debug.
 */
export const EXIT = { ok: 0, failure: 1, usage: 2, notReady: 3 } as const;

export class NdrError extends Error {
  readonly exitCode: number = EXIT.failure;
  /** Transient errors (network, throttling, 5xx) may be retried; deterministic ones are not. */
  readonly transient: boolean = false;
}

/** Bad data or bad configuration: names the file set, column and rule that failed. */
export class DataError extends NdrError {
  constructor(
    readonly where: { file?: string; column?: string; rule: string; jobspecKey?: string },
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(
      [
        where.file && `file ${where.file}`,
        where.column && `column ${where.column}`,
        `rule ${where.rule}`,
        where.jobspecKey && `jobspec ${where.jobspecKey}`,
      ]
        .filter(Boolean)
        .join(', ') + `: ${detail}`,
      options,
    );
  }
}

export class ConfigError extends NdrError {}

export class UsageError extends NdrError {
  override readonly exitCode: number = EXIT.usage;
}

/** Raw input (or an upstream partition) does not exist yet: exit 3, never an empty success. */
export class InputNotReadyError extends NdrError {
  override readonly exitCode: number = EXIT.notReady;
}

/** Another run holds the lock for the partitions this run needs. */
export class LockBusyError extends NdrError {
  override readonly exitCode: number = EXIT.notReady;
}

export class TransientError extends NdrError {
  override readonly transient = true;
}

/** One line, no stack: what a cron mail or a terminal should show. */
export function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.replace(/\s*\n\s*/g, ' ').trim();
}

export function exitCodeOf(err: unknown): number {
  return err instanceof NdrError ? err.exitCode : EXIT.failure;
}
