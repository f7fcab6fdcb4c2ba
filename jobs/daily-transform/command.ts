import type { CommandModule } from 'yargs';
import { withS3Options, type GlobalOptions, type S3Options } from '../lib/config.js';
import { runJob } from '../lib/job.js';
import { withPushgatewayOptions, type PushgatewayOptions } from '../lib/metrics.js';
import { transformOptions, type TransformOptions } from './options.js';

export type DailyTransformOptions = GlobalOptions & S3Options & TransformOptions & PushgatewayOptions;

export const dailyTransformCommand: CommandModule<GlobalOptions, DailyTransformOptions> = {
  command: 'daily-transform',
  describe: 'Clean day D of the raw lake with DuckDB into curated Parquet, metric tables and a data-quality report',
  builder: (y) => withPushgatewayOptions(transformOptions(withS3Options(y))) as never,
  handler: (argv) =>
    runJob('daily-transform', argv, async (ctx) => {
      const { runDailyTransform } = await import('./run.js');
      await runDailyTransform(argv, ctx);
    }),
};
