/**
 * A scalar flag given more than once (`top --limit 20 --limit 5`, `--date X
 * --date Y`) is a usage error naming the flag, for every command.
 *
 * yargs keeps its `duplicate-arguments-array` default, so a repeated flag
 * parses to an array: what options declared `array: true` (or `type: 'array'`),
 * such as `run --skip`, rely on. Turning that default off would silently keep
 * the last value instead. So one global middleware, run before yargs'
 * validation and each command's `.check()`, compares the parsed values with the
 * options the command declared: an array where the declaration is not one means
 * the flag was repeated. (Boolean flags do not become arrays: the last of
 * `--force --no-force` wins, as usual.)
 */
import type { Argv, MiddlewareFunction } from 'yargs';
import { UsageError } from '../errors/index.ts';

/** The part of yargs' `getOptions()` (what the running command declared) read here. */
export interface DeclaredOptions {
  /** Every declared option and positional, aliases included. */
  key: Record<string, unknown>;
  /** Options declared `array: true` or `type: 'array'`. */
  array: string[];
  /** Option name -> its aliases. */
  alias: Record<string, string[]>;
}

/** The one-line complaint about the repeated scalar flags in a parsed argv, or undefined when there are none. */
export function repeatedFlagsMessage(argv: Record<string, unknown>, options: DeclaredOptions): string | undefined {
  const aliasOf = new Set(Object.values(options.alias ?? {}).flat());
  const arrays = new Set(options.array ?? []);
  const repeated: string[] = [];
  for (const name of Object.keys(options.key ?? {})) {
    // An alias shares its option's value: report the option once, under its declared name.
    if (aliasOf.has(name)) continue;
    const names = [name, ...(options.alias?.[name] ?? [])];
    if (names.some((n) => arrays.has(n))) continue;
    const value = argv[name];
    if (!Array.isArray(value)) continue;
    const shown = value.map((v) => (v === '' ? "''" : String(v))).join(', ');
    repeated.push(`${flag(name)} was given ${value.length} times (${shown})`);
  }
  if (!repeated.length) return undefined;
  return repeated.length === 1 ? `${repeated[0]}; give it once` : `${repeated.join(' and ')}; give each once`;
}

function flag(name: string): string {
  return name.length === 1 ? `-${name}` : `--${name}`;
}

/**
 * yargs calls middleware with the parsed argv and the yargs instance of the
 * running command (whose `getOptions()` holds that command's declarations);
 * @types/yargs only types the first argument.
 */
function rejectRepeatedFlags(argv: Record<string, unknown>, y: { getOptions(): DeclaredOptions }): void {
  // yargs has already printed the help or version text; before-validation middleware still runs.
  if (argv.help === true || argv.version === true) return;
  const message = repeatedFlagsMessage(argv, y.getOptions());
  if (message) throw new UsageError(message);
}

/** Registers the check on the top-level parser: global, before validation, so every command gets it. */
export function withRepeatedFlagCheck<T>(parser: Argv<T>): Argv<T> {
  return parser.middleware(rejectRepeatedFlags as unknown as MiddlewareFunction<T>, true);
}
