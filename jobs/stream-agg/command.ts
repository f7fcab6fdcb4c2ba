import type { CommandModule } from 'yargs';
import { withKafkaOptions, withPgOptions, type GlobalOptions, type KafkaOptions, type PgOptions } from '../lib/config.js';
import { runJob } from '../lib/job.js';
import { withMetricsOptions, type MetricsOptions } from '../lib/metrics.js';
import { aggOptions, type AggOptions } from './options.js';

export type StreamAggOptions = GlobalOptions & KafkaOptions & PgOptions & MetricsOptions & AggOptions;

export const streamAggCommand: CommandModule<GlobalOptions, StreamAggOptions> = {
  command: 'stream-agg',
  describe: 'Aggregate the topics into event-time tumbling windows in PostgreSQL, exactly once (rows and offsets in one transaction)',
  builder: (y) => aggOptions(withMetricsOptions(withPgOptions(withKafkaOptions(y)), 9102)) as never,
  handler: (argv) =>
    runJob('stream-agg', argv, async (ctx) => {
      const { runStreamAgg } = await import('./run.js');
      await runStreamAgg(argv, ctx);
    }),
};
