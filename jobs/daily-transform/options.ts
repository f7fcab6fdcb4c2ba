import { Type, type Static } from '@sinclair/typebox';
import type { Argv } from 'yargs';
import { option, validateSettings, withDateOption, withTopicOptions, type TopicOptions } from '../lib/config.js';

/** DuckDB sizes such as "512MB", "1GB", "1.5GiB", or a percentage of RAM such as "60%". */
export const MEMORY_LIMIT_PATTERN = '^(\\d+(\\.\\d+)?\\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)|\\d{1,2}%)$';

export const TransformSettings = Type.Object({
  memoryLimit: Type.String({ pattern: MEMORY_LIMIT_PATTERN, description: 'a size such as 512MB or 1GB, or a share of RAM such as 60%' }),
  threads: Type.Integer({ minimum: 1, maximum: 256 }),
  tempDir: Type.Optional(Type.String({ minLength: 1 })),
  maxRejectedPct: Type.Number({ minimum: 0, maximum: 100 }),
  allowEmpty: Type.Boolean(),
  keepTemp: Type.Boolean(),
});
export type TransformOptions = Static<typeof TransformSettings> & { date: string } & TopicOptions;

export function transformOptions<T>(y: Argv<T>) {
  return withTopicOptions(withDateOption(y))
    .options({
      ...option('memory-limit', { type: 'string', description: 'DuckDB memory_limit; a bigger day spills to --temp-dir', default: '2GB', group: 'Transform:' }),
      ...option('threads', { type: 'number', description: 'DuckDB worker threads', default: 2, group: 'Transform:' }),
      ...option('temp-dir', { type: 'string', description: 'Where raw objects are staged and DuckDB spills (default: the system temp folder)', group: 'Transform:' }),
      ...option('max-rejected-pct', {
        type: 'number',
        description: 'Fail the day when more than this percentage of raw lines is rejected (the report is still written, with passed=false)',
        default: 5,
        group: 'Quality:',
      }),
      ...option('allow-empty', { type: 'boolean', description: 'Treat a topic with no raw objects for the day as empty instead of failing', default: false, group: 'Quality:' }),
      ...option('keep-temp', { type: 'boolean', description: 'Keep the staging folder after the run (for debugging)', default: false, group: 'Transform:' }),
    })
    .check((argv) => {
      validateSettings(TransformSettings, argv);
      return true;
    })
    .example('$0 daily-transform --date 2026-03-01', 'clean 2026-03-01 into curated Parquet, metrics and a quality report')
    .example('$0 daily-transform --date 2026-03-01 --memory-limit 4GB --threads 4', 'a big day');
}
