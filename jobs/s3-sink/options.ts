import { Type, type Static } from '@sinclair/typebox';
import type { Argv } from 'yargs';
import { commaList, option, validateSettings } from '../lib/config.js';
import { TOPICS } from '../lib/contracts.js';

export const SinkSettings = Type.Object({
  groupId: Type.String({ minLength: 1 }),
  topics: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
  flushRecords: Type.Integer({ minimum: 1 }),
  flushBytes: Type.Integer({ minimum: 1024 }),
  flushIdleMs: Type.Integer({ minimum: 10 }),
  flushMaxAgeMs: Type.Integer({ minimum: 10 }),
  maxBufferBytes: Type.Integer({ minimum: 1024 * 1024 }),
  maxOpenHours: Type.Integer({ minimum: 1, maximum: 48 }),
  gzipLevel: Type.Integer({ minimum: 1, maximum: 9 }),
  fetchAheadBytes: Type.Integer({ minimum: 1024 * 1024 }),
});
export type SinkOptions = Static<typeof SinkSettings>;

export function sinkOptions<T>(y: Argv<T>) {
  return y
    .options({
      ...option('group-id', { type: 'string', description: 'Kafka consumer group of the sink', default: 'pinpipe-s3-sink', group: 'Sink:' }),
      ...option('topics', { type: 'string', description: 'Topics to land, comma-separated', default: Object.values(TOPICS).join(','), coerce: commaList, group: 'Sink:' }),
      ...option('flush-records', { type: 'number', description: 'Rotate an object after this many records', default: 50_000, group: 'Sink:' }),
      ...option('flush-bytes', { type: 'number', description: 'Rotate an object after this many uncompressed bytes', default: 16 * 1024 * 1024, group: 'Sink:' }),
      ...option('flush-idle-ms', { type: 'number', description: 'Flush a partition that received nothing for this long', default: 10_000, group: 'Sink:' }),
      ...option('flush-max-age-ms', { type: 'number', description: 'Flush an object open this long, so a steady trickle still lands', default: 60_000, group: 'Sink:' }),
      ...option('max-open-hours', {
        type: 'number',
        description: 'Hour buckets open at once per partition, so late records join their own hour; one more flushes the earliest hour',
        default: 3,
        group: 'Sink:',
      }),
      ...option('max-buffer-bytes', { type: 'number', description: 'Memory ceiling for all buffers; above it the largest flush early', default: 96 * 1024 * 1024, group: 'Sink:' }),
      ...option('fetch-ahead-bytes', {
        type: 'number',
        description: 'Fetched bytes that may wait while earlier batches are processed; above it fetching waits',
        default: 16 * 1024 * 1024,
        group: 'Sink:',
      }),
      ...option('gzip-level', { type: 'number', description: 'gzip level of the objects (1 fastest, 9 smallest)', default: 1, group: 'Sink:' }),
    })
    .check((argv) => {
      validateSettings(SinkSettings, argv);
      return true;
    });
}
