import type { CommandModule } from 'yargs';
import {
  option,
  withDateOption,
  withLakeTableOptions,
  withS3Options,
  withTopicOptions,
  withTrinoOptions,
  type GlobalOptions,
  type LakeTableOptions,
  type S3Options,
  type TopicOptions,
  type TrinoOptions,
} from '../lib/config.js';
import { ConfigError } from '../lib/errors.js';
import { runJob } from '../lib/job.js';

export interface ReconcileOptions extends GlobalOptions, S3Options, TrinoOptions, LakeTableOptions, TopicOptions {
  date: string;
  streamCatalog: string;
  streamSchema: string;
  streamGroupId: string;
  maxUnexplained: number;
  requireStream: boolean;
}

const IDENTIFIER = /^[a-z][a-z0-9_]{0,62}$/;

export const reconcileCommand: CommandModule<GlobalOptions, ReconcileOptions> = {
  command: 'reconcile',
  describe: "Compare day D's batch (the curated lake) with stream-agg's final windows of D in one Trino query, explain the difference by the late records stream-agg recorded, and write the result beside the quality report",
  builder: (y) =>
    withTopicOptions(withLakeTableOptions(withTrinoOptions(withS3Options(withDateOption(y)))))
      .options({
        ...option('stream-catalog', { type: 'string', default: 'stream', description: "Trino catalog (PostgreSQL connector) over stream-agg's database", group: 'Trino:' }),
        ...option('stream-schema', { type: 'string', default: 'public', description: 'Schema of that catalog holding the stream_agg_* tables', group: 'Trino:' }),
        ...option('stream-group-id', { type: 'string', default: 'pinpipe-stream-agg', description: "stream-agg's --group-id: whose windows are compared", group: 'Reconcile:' }),
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
        for (const [flag, value] of [['stream-catalog', argv.streamCatalog], ['stream-schema', argv.streamSchema]] as const) {
          if (!IDENTIFIER.test(String(value))) throw new ConfigError(`--${flag} / PINPIPE_${flag.toUpperCase().replace(/-/g, '_')}: "${String(value)}" is not a lowercase SQL identifier`);
        }
        if (String(argv.streamGroupId).trim() === '') throw new ConfigError('--stream-group-id / PINPIPE_STREAM_GROUP_ID: must not be empty');
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
