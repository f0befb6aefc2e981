/**
 * The ndr-sql command line. Each command lives in ./commands; this file wires
 * them into yargs and turns errors into one line and an exit code.
 */
import yargs from 'yargs';
import { EXIT, exitCodeOf, oneLine } from '../errors/index.ts';
import { commands } from './commands/index.ts';
import { withRepeatedFlagCheck } from './repeated-flags.ts';

export async function main(argv: string[]): Promise<number> {
  const debug = argv.includes('--debug');
  // Handlers report a non-zero outcome (e.g. 3 for gaps) through process.exitCode.
  process.exitCode = undefined;
  const parser = yargs(argv)
    .scriptName('ndr-sql')
    .usage('$0 <command> [options]\n\nNDR features as versioned SQL templates, executed by DuckDB.')
    .strict()
    .demandCommand(1, 'give a command; see --help')
    .recommendCommands()
    .wrap(Math.min(110, process.stdout.columns ?? 110))
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new UsageFailure(msg);
    });
  // A scalar flag given twice (`--limit 20 --limit 5`) is one usage error, for every command.
  withRepeatedFlagCheck(parser);
  for (const c of commands) parser.command(c);
  try {
    await parser.parseAsync();
  } catch (err) {
    if (err instanceof UsageFailure) {
      process.stderr.write(`ndr-sql: ${err.message}\n`);
      return EXIT.usage;
    }
    process.stderr.write(`ndr-sql: error: ${oneLine(err)}\n`);
    if (debug && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
    return exitCodeOf(err);
  }
  const code = Number(process.exitCode ?? EXIT.ok);
  process.exitCode = undefined;
  return code;
}

class UsageFailure extends Error {}
