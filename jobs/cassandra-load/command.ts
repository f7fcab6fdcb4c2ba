import type { CommandModule } from 'yargs';
import { withCassandraOptions, withS3Options, type CassandraOptions, type GlobalOptions, type S3Options } from '../lib/config.js';
import { runJob } from '../lib/job.js';
import { withPushgatewayOptions, type PushgatewayOptions } from '../lib/metrics.js';
import { loadOptions, type LoadOptions } from './options.js';

export type CassandraLoadOptions = GlobalOptions & S3Options & CassandraOptions & LoadOptions & PushgatewayOptions;

export const cassandraLoadCommand: CommandModule<GlobalOptions, CassandraLoadOptions> = {
  command: 'cassandra-load',
  describe: "Load day D's curated pins and metric tables from S3 into Cassandra query tables",
  builder: (y) => withPushgatewayOptions(loadOptions(withCassandraOptions(withS3Options(y)))) as never,
  handler: (argv) =>
    runJob('cassandra-load', argv, async (ctx) => {
      const { runCassandraLoad } = await import('./run.js');
      await runCassandraLoad(argv, ctx);
    }),
};
