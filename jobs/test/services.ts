import type { CassandraOptions, KafkaOptions, PgOptions, S3Options, TrinoOptions } from '../lib/config.js';
import { commaList } from '../lib/config.js';
import type { RecordType } from '../lib/contracts.js';

/**
 * Connection settings for integration tests: the PINPIPE_* variables `stack/stack.sh env`
 * prints, falling back to the same defaults the jobs use against the local stack.
 */
export function serviceSettings(): KafkaOptions & S3Options & PgOptions & CassandraOptions & TrinoOptions {
  process.env.AWS_ACCESS_KEY_ID ??= 'pinpipe';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'pinpipe-secret';
  const env = process.env;
  return {
    kafkaBrokers: commaList(env.PINPIPE_KAFKA_BROKERS ?? '127.0.0.1:9092'),
    kafkaClientId: 'pinpipe-test',
    s3Bucket: env.PINPIPE_S3_BUCKET ?? 'pinpipe',
    s3Endpoint: env.PINPIPE_S3_ENDPOINT ?? 'http://127.0.0.1:9000',
    s3Region: env.PINPIPE_S3_REGION ?? 'us-east-1',
    pgUrl: env.PINPIPE_PG_URL ?? 'postgres://pinpipe:pinpipe@127.0.0.1:5432/pinpipe',
    cassandraContactPoints: commaList(env.PINPIPE_CASSANDRA_CONTACT_POINTS ?? '127.0.0.1:9042'),
    cassandraLocalDc: env.PINPIPE_CASSANDRA_LOCAL_DC ?? 'datacenter1',
    cassandraKeyspace: env.PINPIPE_CASSANDRA_KEYSPACE ?? 'pinpipe',
    trinoUrl: env.PINPIPE_TRINO_URL ?? 'http://127.0.0.1:8090',
    trinoUser: 'pinpipe-test',
  };
}

/** Settings as PINPIPE_* variables plus the S3 credentials, for tests that run the CLI as a process. */
export function serviceEnv(): Record<string, string> {
  const s = serviceSettings();
  return {
    AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID as string,
    AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY as string,
    PINPIPE_KAFKA_BROKERS: s.kafkaBrokers.join(','),
    PINPIPE_S3_BUCKET: s.s3Bucket,
    PINPIPE_S3_ENDPOINT: s.s3Endpoint ?? '',
    PINPIPE_S3_REGION: s.s3Region,
    PINPIPE_PG_URL: s.pgUrl,
    PINPIPE_CASSANDRA_CONTACT_POINTS: s.cassandraContactPoints.join(','),
    PINPIPE_CASSANDRA_LOCAL_DC: s.cassandraLocalDc,
    PINPIPE_TRINO_URL: s.trinoUrl,
  };
}

/** A PINPIPE_* setting of `stack/stack.sh env` a test cannot run without. */
export function stackSetting(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run with the settings of stack/stack.sh env`);
  return value;
}

let named = 0;

/** A name no other test run, and no other call in this process, has: names made in the same millisecond differ too. */
export function uniqueName(prefix: string): string {
  named += 1;
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${named}`;
}

/**
 * A bucket of a test file's own: the daily jobs read the whole curated history before a day, so
 * a test sharing the bucket would meet whatever a demo, a benchmark or another test left there.
 */
export function privateBucket(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}`.toLowerCase();
}

export type TopicMap = { readonly [K in RecordType]: string };

/** Topics of a test's own for the three record types, so it never writes into the default ones. */
export function privateTopics(prefix: string): TopicMap {
  const base = uniqueName(prefix).replace(/_/g, '-');
  return { pin: `${base}.pin`, geo: `${base}.geo`, user: `${base}.user` };
}

/** The variables that point ingest (and stream-agg) at those topics. */
export function topicEnv(topics: TopicMap): Record<string, string> {
  return { PINPIPE_PIN_TOPIC: topics.pin, PINPIPE_GEO_TOPIC: topics.geo, PINPIPE_USER_TOPIC: topics.user };
}
