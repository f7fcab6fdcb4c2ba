import type { CommandModule } from 'yargs';
import { option, withDateOption, withS3Options, type GlobalOptions, type S3Options } from '../lib/config.js';
import { ConfigError } from '../lib/errors.js';
import { runJob } from '../lib/job.js';


export interface RawReadyOptions extends GlobalOptions, S3Options {
  date: string;
  minObjects: number;
  requireLaterData: boolean;
  waitMinutes: number;
  pollSeconds: number;
}

export const rawReadyCommand: CommandModule<GlobalOptions, RawReadyOptions> = {
  command: 'raw-ready',
  describe: "Check that day D of the raw lake is complete enough for daily-transform (exit 0), waiting up to --wait-minutes",
  builder: (y) =>
    withDateOption(withS3Options(y))
      .options({
        ...option('min-objects', { type: 'number', default: 1, description: 'Raw objects each topic must have for day D', group: 'Readiness:' }),
        ...option('require-later-data', {
          type: 'boolean',
          default: false,
          description: 'Also require an object of a later day in every topic: the sink has moved past D, so D is closed',
          group: 'Readiness:',
        }),
        ...option('wait-minutes', { type: 'number', default: 0, description: 'Keep checking this long before giving up (0: check once)', group: 'Readiness:' }),
        ...option('poll-seconds', { type: 'number', default: 60, description: 'Time between two checks while waiting', group: 'Readiness:' }),
      })
      .check((argv) => {
        if (!Number.isInteger(argv.minObjects) || (argv.minObjects as number) < 1) throw new ConfigError('--min-objects / PINPIPE_MIN_OBJECTS: must be a whole number >= 1');
        if (!Number.isFinite(argv.waitMinutes) || (argv.waitMinutes as number) < 0) throw new ConfigError('--wait-minutes / PINPIPE_WAIT_MINUTES: must be >= 0');
        if (!Number.isFinite(argv.pollSeconds) || (argv.pollSeconds as number) <= 0) throw new ConfigError('--poll-seconds / PINPIPE_POLL_SECONDS: must be > 0');
        return true;
      })
      .example('$0 raw-ready --date 2026-03-01 --wait-minutes 60', 'wait up to an hour for day D to land') as never,
  handler: (argv) =>
    runJob('raw-ready', argv, async (ctx) => {
      const { runRawReady } = await import('./run.js');
      await runRawReady(argv, ctx);
    }),
};
