import { Type, type Static } from '@sinclair/typebox';
import type { Argv } from 'yargs';
import { envName, option, validateSettings, withTopicOptions, type TopicOptions } from '../lib/config.js';
import { ConfigError } from '../lib/errors.js';

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** "90s", "1m", "500ms", "1.5h"; a bare number is seconds. Returns milliseconds. */
export function parseDuration(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (!m) return undefined;
  return Math.round(Number(m[1]) * (UNITS[m[2] ?? 's'] as number));
}

function duration(flag: string) {
  return (value: unknown): number => {
    const ms = typeof value === 'number' ? value * 1_000 : parseDuration(String(value));
    if (ms === undefined || !Number.isFinite(ms)) throw new ConfigError(`--${flag} / ${envName(flag)}: "${String(value)}" is not a duration such as 30s, 1m or 500ms`);
    return ms;
  };
}

export const AggSettings = Type.Object({
  groupId: Type.String({ minLength: 1 }),
  window: Type.Integer({ minimum: 1_000, maximum: 86_400_000 }),
  allowedLateness: Type.Integer({ minimum: 0, maximum: 86_400_000 }),
  idleTimeout: Type.Integer({ minimum: 0, maximum: 86_400_000 }),
  dedupeHorizon: Type.Integer({ minimum: 0, maximum: 86_400_000 }),
  flushIntervalMs: Type.Integer({ minimum: 10, maximum: 600_000 }),
  flushRecords: Type.Integer({ minimum: 1 }),
  pgRetryMs: Type.Integer({ minimum: 0 }),
});
export type AggOptions = Static<typeof AggSettings> & TopicOptions;

export function aggOptions<T>(y: Argv<T>) {
  return withTopicOptions(y)
    .options({
      ...option('group-id', { type: 'string', description: 'Kafka consumer group; also the key of this aggregation\'s rows and offsets in PostgreSQL', default: 'pinpipe-stream-agg', group: 'Aggregation:' }),
      ...option('window', { type: 'string', description: 'Tumbling window size, e.g. 1m, 30s (1 s to 24 h; a bare number is seconds)', default: '1m', coerce: duration('window'), group: 'Aggregation:' }),
      ...option('allowed-lateness', {
        type: 'string',
        description:
          'How long after its end a window still takes records: a record is late once its partition\'s highest event time is this far past its window\'s end; a window is final once the group watermark (the lowest such time over all partitions not idle, minus this) passes its end',
        default: '10s',
        coerce: duration('allowed-lateness'),
        group: 'Aggregation:',
      }),
      ...option('idle-timeout', {
        type: 'string',
        description:
          'A partition with nothing left to read and no new record for this long (or empty when assigned) stops holding the group watermark back; records it brings later for windows made final meanwhile are late. 0: at once',
        default: '1m',
        coerce: duration('idle-timeout'),
        group: 'Aggregation:',
      }),
      ...option('dedupe-horizon', {
        type: 'string',
        description:
          'A record whose unique_id (pin) or ind (geo, user) was counted on the same UTC day no longer ago than this, in its partition\'s event time, is a repeat and not counted again (recorded in stream_agg_repeats)',
        default: '15m',
        coerce: duration('dedupe-horizon'),
        group: 'Aggregation:',
      }),
      ...option('flush-interval-ms', { type: 'number', description: 'Write changed windows and offsets to PostgreSQL at least this often', default: 1_000, group: 'Aggregation:' }),
      ...option('flush-records', { type: 'number', description: 'Write as soon as this many records arrived since the last flush', default: 20_000, group: 'Aggregation:' }),
      ...option('pg-retry-ms', { type: 'number', description: 'How long a failing flush is retried before the job exits non-zero (it resumes from PostgreSQL when restarted)', default: 30_000, group: 'Aggregation:' }),
    })
    .check((argv) => {
      validateSettings(AggSettings, argv);
      return true;
    });
}
