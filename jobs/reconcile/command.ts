import type { CommandModule } from 'yargs';
import {
  option,
  withDateOption,
  withLakeTableOptions,
  withS3Options,
  withStreamTableOptions,
  withTopicOptions,
  withTrinoOptions,
  type GlobalOptions,
  type LakeTableOptions,
  type S3Options,
  type StreamTableOptions,
  type TopicOptions,
  type TrinoOptions,
} from '../lib/config.js';
import { ConfigError } from '../lib/errors.js';
import { runJob } from '../lib/job.js';

export interface ReconcileOptions extends GlobalOptions, S3Options, TrinoOptions, LakeTableOptions, StreamTableOptions, TopicOptions {
  date: string;
  maxUnexplained: number;
  requireStream: boolean;
}

export const reconcileCommand: CommandModule<GlobalOptions, ReconcileOptions> = {
  command: 'reconcile',
  describe: "Compare day D's batch (the curated lake) with stream-agg's final windows of D in one Trino query, explain the difference by the late records stream-agg recorded, and write the result beside the quality report",
  builder: (y) =>
    withTopicOptions(withStreamTableOptions(withLakeTableOptions(withTrinoOptions(withS3Options(withDateOption(y))))))
      .options({
        ...option('max-unexplained', {
          type: 'number',
          default: 0,
          description: 'Records per category or country the batch and the stream may differ by, beyond what late records explain, before the day fails',
          group: 'Reconcile:',
        }),
        ...option('require-stream', {
          type: 'boolean',
          default: true,
          description: 'Fail when the stream group has no windows at all (false: say so and exit 0, for a pipeline that runs no stream-agg)',
          group: 'Reconcile:',
        }),
      })
      .check((argv) => {
        if (!Number.isInteger(argv.maxUnexplained) || (argv.maxUnexplained as number) < 0) throw new ConfigError('--max-unexplained / PINPIPE_MAX_UNEXPLAINED: must be a whole number >= 0');
        return true;
      })
      .example('$0 reconcile --date 2026-03-01', 'batch = stream + late for every category and country of the day, or exit 1 naming where not') as never,
  handler: (argv) =>
    runJob('reconcile', argv, async (ctx) => {
      const { runReconcile } = await import('./run.js');
      await runReconcile(argv, ctx);
    }),
};
