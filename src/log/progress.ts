/**
 * A progress bar for multi-batch runs: drawn with cli-progress on stderr when
 * the log format is text and stderr is a TTY; silent otherwise (json/cron).
 * While the bar is on screen, text log lines are printed above it.
 */
import { MultiBar, Presets } from 'cli-progress';
import type { LineSink, Logger } from './logger.ts';

export interface Progress {
  /** Whether a bar is actually drawn. */
  readonly active: boolean;
  /** Advance by n (default 1); `label` shows what just finished (e.g. a dataset/batch). */
  tick(n?: number, label?: string): void;
  stop(): void;
}

export interface ProgressOptions {
  /** Force on/off (default: text format, TTY stream, total > 1). */
  enabled?: boolean;
  /** Where to draw (default: the logger's stderr). */
  stream?: LineSink & NodeJS.WritableStream;
}

const NOOP: Progress = { active: false, tick() {}, stop() {} };

export function startProgress(logger: Logger, total: number, title: string, opts: ProgressOptions = {}): Progress {
  const stream = (opts.stream ?? logger.humanStream) as LineSink & NodeJS.WritableStream;
  const enabled = opts.enabled ?? (logger.format === 'text' && Boolean(stream.isTTY) && total > 1);
  if (!enabled) return NOOP;
  const bars = new MultiBar(
    {
      stream,
      format: `${title} [{bar}] {value}/{total} | {duration_formatted} | ETA {eta_formatted} | {label}`,
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      noTTYOutput: opts.enabled === true && !stream.isTTY,
    },
    Presets.shades_classic,
  );
  const bar = bars.create(total, 0, { label: '' });
  // Print immediately (a line buffered by cli-progress would be lost if the bar stops first).
  logger.setTextWriter((line) => {
    bars.log(line + '\n');
    bars.update();
  });
  let stopped = false;
  return {
    active: true,
    tick(n = 1, label = '') {
      if (!stopped) bar.increment(n, { label });
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bars.stop();
      logger.setTextWriter(undefined);
    },
  };
}
