#!/usr/bin/env node
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { withGlobalOptions } from './lib/config.js';
import { ConfigError, EXIT_USAGE } from './lib/errors.js';
import { COMMAND_NAMES, COMMANDS } from './commands.js';

/**
 * `pinpipe <command>`. Commands are registered one by one (no directory scanning) and load
 * their implementation only when run, so `--help` stays fast.
 */
export function buildCli(args: string[]) {
  return withGlobalOptions(yargs(args))
    .scriptName('pinpipe')
    .command(COMMANDS as never)
    .demandCommand(1, 'name a command; see pinpipe --help')
    .recommendCommands()
    .strict()
    // A repeated flag takes its last value, as in most CLIs (a wrapper script can override a default).
    .parserConfiguration({ 'camel-case-expansion': true, 'strip-dashed': false, 'duplicate-arguments-array': false })
    .wrap(Math.min(110, process.stdout.columns || 110))
    .epilogue('Settings: a flag wins over its PINPIPE_* variable, which wins over the default. Logs are JSON lines on stderr.')
    .help()
    .alias('h', 'help')
    .version()
    .fail((message, error) => {
      // One line a person can act on, and exit code 2: this is a usage or configuration problem.
      const text = error instanceof ConfigError ? error.message : (error?.message ?? message);
      const command = args.find((a) => COMMAND_NAMES.includes(a));
      process.stderr.write(`pinpipe: ${text} (see pinpipe ${command ? `${command} ` : ''}--help)\n`);
      process.exit(EXIT_USAGE);
    });
}

await buildCli(hideBin(process.argv)).parseAsync();
