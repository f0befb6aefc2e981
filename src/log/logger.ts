/**
 * Structured logging in two formats:
 * - `text`: human lines on stderr (`HH:MM:SS LEVEL event key=value ...`);
 * - `json`: one JSON object per line on stdout
 *   (`ts, level, event, dataset, partition, rows, seconds, status`, then extra fields).
 * Default: json when stdout is not a TTY (cron), text otherwise; `--log-format` overrides.
 * Every field goes through `redact`: credentials are never written.
 */
import { UsageError, oneLine } from '../errors/index.ts';

export type LogFormat = 'text' | 'json';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogFields {
  dataset?: string;
  partition?: string;
  rows?: number;
  seconds?: number;
  status?: string;
  /** Optional human message (shown after the event in text mode). */
  msg?: string;
  [extra: string]: unknown;
}

/** The subset of a stream the logger needs (process.stdout/stderr or a test buffer). */
export interface LineSink {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

export interface LoggerOptions {
  format?: LogFormat;
  /** Minimum level written; default `info` (`debug` with --debug). */
  level?: LogLevel;
  stdout?: LineSink;
  stderr?: LineSink;
  now?: () => Date;
  /** Fields added to every record (e.g. project, version, run_id). */
  base?: LogFields;
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];
const STANDARD = ['dataset', 'partition', 'rows', 'seconds', 'status'] as const;

/** `--log-format` if given, else json when stdout is not a TTY, else text. */
export function resolveLogFormat(flag?: string | null, stdoutIsTTY: boolean = Boolean(process.stdout.isTTY)): LogFormat {
  if (flag) {
    if (!(LOG_FORMATS as readonly string[]).includes(flag)) throw new UsageError(`invalid --log-format ${JSON.stringify(flag)}: expected text or json`);
    return flag as LogFormat;
  }
  return stdoutIsTTY ? 'text' : 'json';
}

// ---- redaction ------------------------------------------------------------

const SECRET_KEY = /(secret|passw(or)?d|credential|authorization|session_?token|security_?token|access_?key|private_?key|api_?key|^token$|^auth$)/i;
const SECRET_PATTERNS: [RegExp, string][] = [
  // AWS access key ids
  [/\b(AKIA|ASIA|AROA|AIDA)[A-Z0-9]{16}\b/g, '[redacted]'],
  // user:password@ in URLs
  [/(\b[a-z][a-z0-9+.-]*:\/\/)[^/\s:@]+:[^/\s@]+@/gi, '$1[redacted]@'],
  // key=value / key: value forms of well-known secret names
  [/\b(aws_secret_access_key|aws_session_token|secret_?access_?key|session_?token|password|x-amz-security-token)(["']?\s*[=:]\s*["']?)[^\s"'&,;}]+/gi, '$1$2[redacted]'],
];

function redactString(s: string): string {
  let out = s;
  for (const [re, rep] of SECRET_PATTERNS) out = out.replace(re, rep);
  return out;
}

/** A deep copy with secret-looking keys and values replaced by `[redacted]`; Errors become one line. */
export function redact(value: unknown, depth = 0): unknown {
  if (value === null || value === undefined) return value;
  if (typeof value === 'string') return redactString(value);
  if (typeof value === 'bigint') return Number(value);
  if (typeof value !== 'object') return value;
  if (value instanceof Error) return redactString(oneLine(value));
  if (value instanceof Date) return value.toISOString();
  if (depth > 6) return '[depth]';
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (v === undefined) continue;
    out[k] = SECRET_KEY.test(k) && v !== null && v !== '' ? '[redacted]' : redact(v, depth + 1);
  }
  return out;
}

// ---- logger ---------------------------------------------------------------

const pad2 = (n: number) => String(n).padStart(2, '0');

/** A long list stays whole in JSON; a text line shows its first items and how many more. */
const TEXT_LIST_ITEMS = 5;

function textValue(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Math.round(v * 1000) / 1000);
  if (typeof v === 'string') return /^[^\s"]+$/.test(v) ? v : JSON.stringify(v);
  if (Array.isArray(v) && v.length > TEXT_LIST_ITEMS) return `${JSON.stringify(v.slice(0, TEXT_LIST_ITEMS)).slice(0, -1)},… ${v.length - TEXT_LIST_ITEMS} more]`;
  return JSON.stringify(v);
}

export class Logger {
  readonly format: LogFormat;
  readonly level: LogLevel;
  private readonly stdout: LineSink;
  private readonly stderr: LineSink;
  private readonly now: () => Date;
  private readonly base: LogFields;
  /** Shared with children so a progress bar can take over text output. */
  private readonly shared: { textWriter?: (line: string) => void };

  constructor(opts: LoggerOptions = {}, shared?: { textWriter?: (line: string) => void }) {
    this.stdout = opts.stdout ?? process.stdout;
    this.stderr = opts.stderr ?? process.stderr;
    this.format = opts.format ?? resolveLogFormat(undefined, Boolean(this.stdout.isTTY));
    this.level = opts.level ?? 'info';
    this.now = opts.now ?? (() => new Date());
    this.base = opts.base ?? {};
    this.shared = shared ?? {};
  }

  /** A logger that adds `fields` to every record. */
  child(fields: LogFields): Logger {
    return new Logger(
      { format: this.format, level: this.level, stdout: this.stdout, stderr: this.stderr, now: this.now, base: { ...this.base, ...fields } },
      this.shared,
    );
  }

  /** Where text lines go while a progress bar is drawn (undefined: back to stderr). */
  setTextWriter(writer: ((line: string) => void) | undefined): void {
    this.shared.textWriter = writer;
  }

  /** The stream a human reads in text mode (stderr). */
  get humanStream(): LineSink {
    return this.stderr;
  }

  enabled(level: LogLevel): boolean {
    return LEVELS[level] >= LEVELS[this.level];
  }

  debug(event: string, fields?: LogFields) {
    this.log('debug', event, fields);
  }
  info(event: string, fields?: LogFields) {
    this.log('info', event, fields);
  }
  warn(event: string, fields?: LogFields) {
    this.log('warn', event, fields);
  }
  error(event: string, fields?: LogFields) {
    this.log('error', event, fields);
  }

  log(level: LogLevel, event: string, fields?: LogFields): void {
    if (!this.enabled(level)) return;
    const merged = redact({ ...this.base, ...fields }) as Record<string, unknown>;
    const ts = this.now();
    if (this.format === 'json') {
      const record: Record<string, unknown> = { ts: ts.toISOString(), level, event };
      for (const k of STANDARD) if (merged[k] !== undefined) record[k] = merged[k];
      for (const [k, v] of Object.entries(merged)) if (!(k in record)) record[k] = v;
      this.stdout.write(JSON.stringify(record) + '\n');
      return;
    }
    const head = `${pad2(ts.getUTCHours())}:${pad2(ts.getUTCMinutes())}:${pad2(ts.getUTCSeconds())} ${level.toUpperCase().padEnd(5)} ${event}`;
    const parts = [head];
    if (typeof merged.msg === 'string') parts.push(merged.msg);
    for (const k of STANDARD) if (merged[k] !== undefined) parts.push(k === 'seconds' ? `${textValue(merged[k])}s` : `${k}=${textValue(merged[k])}`);
    for (const [k, v] of Object.entries(merged)) if (k !== 'msg' && !(STANDARD as readonly string[]).includes(k)) parts.push(`${k}=${textValue(v)}`);
    const line = parts.join(' ');
    if (this.shared.textWriter) this.shared.textWriter(line);
    else this.stderr.write(line + '\n');
  }
}

export interface CreateLoggerOptions {
  /** The `--log-format` flag / NDR_LOG_FORMAT (runtime config `logFormat`). */
  logFormat?: string;
  /** `--debug`: debug level. */
  debug?: boolean;
  base?: LogFields;
  stdout?: LineSink;
  stderr?: LineSink;
}

export function createLogger(opts: CreateLoggerOptions = {}): Logger {
  const stdout = opts.stdout ?? process.stdout;
  return new Logger({
    format: resolveLogFormat(opts.logFormat, Boolean(stdout.isTTY)),
    level: opts.debug ? 'debug' : 'info',
    stdout,
    stderr: opts.stderr,
    base: opts.base,
  });
}

/** A logger that writes nothing (library default). */
export const silentLogger = new Logger({ format: 'json', level: 'error', stdout: { write: () => true }, stderr: { write: () => true } });
