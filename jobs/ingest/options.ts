import { Type, type Static } from '@sinclair/typebox';
import type { Argv } from 'yargs';
import { option, validateSettings, withKafkaOptions, withTopicOptions, type KafkaOptions, type TopicOptions } from '../lib/config.js';
import { ConfigError } from '../lib/errors.js';

export const MIB = 1024 * 1024;

export const IngestSettings = Type.Object({
  port: Type.Integer({ minimum: 0, maximum: 65_535 }),
  host: Type.String({ minLength: 1 }),
  apiKeys: Type.Optional(Type.String()),
  apiKeysFile: Type.Optional(Type.String({ minLength: 1 })),
  authDisabled: Type.Boolean(),
  maxBodyBytes: Type.Integer({ minimum: 1_024, maximum: 256 * MIB }),
  maxRecordBytes: Type.Integer({ minimum: 1_024, maximum: 64 * MIB }),
  maxQueuedRecords: Type.Integer({ minimum: 1 }),
  maxBatchRecords: Type.Integer({ minimum: 1, maximum: 100_000 }),
  lingerMs: Type.Integer({ minimum: 0, maximum: 1_000 }),
  produceTimeoutMs: Type.Integer({ minimum: 100, maximum: 300_000 }),
  kafkaPartitions: Type.Integer({ minimum: 1, maximum: 10_000 }),
});
export type IngestSettings = Static<typeof IngestSettings>;
export type IngestOptions = IngestSettings & KafkaOptions & TopicOptions;

/** Auth must be set up on purpose: keys, or an explicit --auth-disabled. */
export function checkAuthSettings(settings: { apiKeys?: unknown; apiKeysFile?: unknown; authDisabled?: unknown }): void {
  const given = (v: unknown): boolean => v !== undefined && String(v).trim() !== '';
  if (settings.authDisabled === true || given(settings.apiKeys) || given(settings.apiKeysFile)) return;
  throw new ConfigError(
    '--api-keys / PINPIPE_API_KEYS or --api-keys-file / PINPIPE_API_KEYS_FILE: give the API keys clients must present, or --auth-disabled / PINPIPE_AUTH_DISABLED for local use',
  );
}

export function ingestOptions<T>(y: Argv<T>): Argv<T & IngestOptions> {
  return withTopicOptions(withKafkaOptions(y))
    .options({
      ...option('port', { type: 'number', description: 'HTTP port; 0 picks a free one', default: 8088, group: 'HTTP:' }),
      ...option('host', { type: 'string', description: 'Address to listen on (0.0.0.0 for all)', default: '127.0.0.1', group: 'HTTP:' }),
      ...option('max-body-bytes', { type: 'number', description: 'Largest request body; larger is refused with 413', default: 5 * MIB, group: 'HTTP:' }),
      ...option('api-keys', {
        type: 'string',
        description: 'Accepted bearer API keys, comma-separated (prefer the variable or a file: flags show up in the process list)',
        group: 'Auth:',
      }),
      ...option('api-keys-file', { type: 'string', requiresArg: true, description: 'File of accepted API keys: one per line, # comments', group: 'Auth:' }),
      ...option('auth-disabled', { type: 'boolean', description: 'Accept requests without an API key (local use only)', default: false, group: 'Auth:' }),
      ...option('max-record-bytes', {
        type: 'number',
        description: 'Largest record (value, key and headers); keep it under the broker\'s message.max.bytes',
        default: 1_000_000,
        group: 'Kafka producer:',
      }),
      ...option('max-queued-records', {
        type: 'number',
        description: 'Records accepted but not yet stored in Kafka, at most; beyond it requests get 503 with Retry-After',
        default: 50_000,
        group: 'Kafka producer:',
      }),
      ...option('max-batch-records', { type: 'number', description: 'Records per Kafka produce request, at most', default: 2_000, group: 'Kafka producer:' }),
      ...option('linger-ms', { type: 'number', description: 'How long an idle producer waits to batch more records', default: 2, group: 'Kafka producer:' }),
      ...option('produce-timeout-ms', {
        type: 'number',
        description: 'Bound on one produce request, connecting included; past it the records\' requests get 503',
        default: 5_000,
        group: 'Kafka producer:',
      }),
      ...option('kafka-partitions', { type: 'number', description: 'Partitions of the topics ingest creates when missing', default: 3, group: 'Kafka:' }),
    })
    .check((argv) => {
      validateSettings(IngestSettings, argv);
      checkAuthSettings(argv as Record<string, unknown>);
      return true;
    })
    .example('$0 ingest --api-keys-file /etc/pinpipe/api-keys', 'serve on 127.0.0.1:8088, keys from a file')
    .example('$0 ingest --auth-disabled --host 0.0.0.0', 'local use without keys') as unknown as Argv<T & IngestOptions>;
}
