import type { CommandModule } from 'yargs';
import {
  checkDate,
  option,
  withLakeTableOptions,
  withS3Options,
  withStreamTableOptions,
  withTrinoOptions,
  type GlobalOptions,
  type LakeTableOptions,
  type S3Options,
  type StreamTableOptions,
  type TrinoOptions,
} from '../lib/config.js';
import { runJob } from '../lib/job.js';

export interface LakeTablesOptions extends GlobalOptions, S3Options, TrinoOptions, LakeTableOptions, StreamTableOptions {
  date?: string;
}

export const lakeTablesCommand: CommandModule<GlobalOptions, LakeTablesOptions> = {
  command: 'lake-tables',
  describe: "Declare the curated lake's tables in Trino from the curated contract and register every day published so far (idempotent)",
  builder: (y) =>
    withStreamTableOptions(withLakeTableOptions(withTrinoOptions(withS3Options(y))))
      .options({
        ...option('date', {
          type: 'string',
          requiresArg: true,
          description: 'Also require day D (YYYY-MM-DD) to be a partition of every curated table afterwards, or fail with PINPIPE_INPUT_NOT_FOUND',
          group: 'Lake tables:',
        }),
      })
      .check((argv) => {
        if (argv.date !== undefined) checkDate(argv.date);
        return true;
      })
      .example('$0 lake-tables --date 2026-03-01', 'declare the tables, register the days, and check that D is one of them')
      .example('$0 lake-tables', 'declare lake.curated.* over s3://pinpipe/curated/ and register its days') as never,
  handler: (argv) =>
    runJob('lake-tables', argv, async (ctx) => {
      const { runLakeTables } = await import('./run.js');
      await runLakeTables(argv, ctx);
    }),
};
