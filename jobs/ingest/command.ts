import type { CommandModule } from 'yargs';
import type { GlobalOptions } from '../lib/config.js';
import { runJob } from '../lib/job.js';
import { ingestOptions, type IngestOptions } from './options.js';

export const ingestCommand: CommandModule<GlobalOptions, GlobalOptions & IngestOptions> = {
  command: 'ingest',
  describe: 'HTTP service taking raw pin, geo and user records into Kafka',
  builder: (y) => ingestOptions(y) as never,
  handler: (argv) =>
    runJob('ingest', argv, async (ctx) => {
      const { runIngest } = await import('./run.js');
      await runIngest(argv, ctx);
    }),
};
