import { cassandraLoadCommand } from './cassandra-load/command.js';
import { checkCommand } from './check/command.js';
import { dailyTransformCommand } from './daily-transform/command.js';
import { emulateCommand } from './emulate/command.js';
import { ingestCommand } from './ingest/command.js';
import { lakeTablesCommand } from './lake-tables/command.js';
import { rawReadyCommand } from './raw-ready/command.js';
import { reconcileCommand } from './reconcile/command.js';
import { s3SinkCommand } from './s3-sink/command.js';
import { streamAggCommand } from './stream-agg/command.js';

/**
 * Every command of `pinpipe`, registered explicitly (no directory scanning), in the order
 * `pinpipe --help` lists them. cli.ts registers them; the reference pages under docs/reference/
 * are generated from the same list.
 */
export const COMMANDS = [emulateCommand, ingestCommand, s3SinkCommand, streamAggCommand, rawReadyCommand, dailyTransformCommand, cassandraLoadCommand, lakeTablesCommand, reconcileCommand, checkCommand] as const;

/** The name of a command, as typed after `pinpipe`. */
export function commandName(command: (typeof COMMANDS)[number]): string {
  return String(command.command).split(' ')[0] ?? '';
}

export const COMMAND_NAMES = COMMANDS.map(commandName);
