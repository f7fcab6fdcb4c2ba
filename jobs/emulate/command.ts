import type { CommandModule } from 'yargs';
import type { GlobalOptions } from '../lib/config.js';
import { runJob } from '../lib/job.js';
import { emulateOptions, type EmulateOptions } from './options.js';

export const emulateCommand: CommandModule<GlobalOptions, GlobalOptions & EmulateOptions> = {
  command: 'emulate',
  describe: 'Emulate users posting pins: pin, geo and user records sharing ind, to ingest or NDJSON',
  builder: (y) => emulateOptions(y) as never,
  handler: (argv) =>
    runJob('emulate', argv, async (ctx) => {
      const { runEmulate } = await import('./run.js');
      await runEmulate(argv, ctx);
    }),
};
