import type { CommandModule } from 'yargs';
import { withKafkaOptions, withS3Options, type GlobalOptions, type KafkaOptions, type S3Options } from '../lib/config.js';
import { runJob } from '../lib/job.js';
import { withMetricsOptions, type MetricsOptions } from '../lib/metrics.js';
import { sinkOptions, type SinkOptions } from './options.js';

export type S3SinkOptions = GlobalOptions & KafkaOptions & S3Options & MetricsOptions & SinkOptions;

export const s3SinkCommand: CommandModule<GlobalOptions, S3SinkOptions> = {
  command: 's3-sink',
  describe: 'Land the Kafka topics in the raw lake on S3, exactly once (gzip NDJSON per topic, partition and hour)',
  builder: (y) => sinkOptions(withMetricsOptions(withS3Options(withKafkaOptions(y)), 9101)) as never,
  handler: (argv) =>
    runJob('s3-sink', argv, async (ctx) => {
      const { runS3Sink } = await import('./run.js');
      await runS3Sink(argv, ctx);
    }),
};
