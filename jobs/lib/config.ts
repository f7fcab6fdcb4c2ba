import { Ajv, type ErrorObject } from 'ajv';
import { Type, type Static, type TObject, type TProperties } from '@sinclair/typebox';
import type { Argv, Options } from 'yargs';
import { TOPICS, type RecordType } from './contracts.js';
import { ConfigError } from './errors.js';
import { assertLakeDate } from './lake.js';

/**
 * Settings come from flags, then PINPIPE_* environment variables, then defaults. This module
 * declares each shared option once, with its description, type and environment name (see
 * option()), and validates a group at start-up so that a bad value is reported as
 * `--flag / PINPIPE_FLAG: what is wrong`.
 */
export const ENV_PREFIX = 'PINPIPE';

export function envName(flag: string): string {
  return `${ENV_PREFIX}_${flag.replace(/-/g, '_').toUpperCase()}`;
}

function kebabCase(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function fromEnvironment(text: string, spec: Options): unknown {
  if (spec.type === 'number') return text.trim() === '' ? Number.NaN : Number(text);
  if (spec.type === 'boolean') {
    if (/^(1|true|yes|on)$/i.test(text.trim())) return true;
    if (/^(0|false|no|off|)$/i.test(text.trim())) return false;
    return text;
  }
  if (spec.array) return text.split(',').map((s) => s.trim()).filter(Boolean);
  return text;
}

/**
 * Declares a flag whose PINPIPE_* variable stands in for it when the flag is not given: the
 * variable becomes the default, so precedence is flag, then environment, then the built-in
 * default. Only the options a command declares read the environment, so a shared ConfigMap
 * holding every job's variables never upsets another job. `--help` names each variable.
 */
export function option(flag: string, spec: Options): Record<string, Options> {
  const env = envName(flag);
  const described: Options = { ...spec, description: `${spec.description ?? ''} [env: ${env}]` };
  const text = process.env[env];
  if (text === undefined) return { [flag]: described };
  return { [flag]: { ...described, default: fromEnvironment(text, spec), defaultDescription: `$${env}` } };
}

/** Splits "a:1, b:2" into ["a:1", "b:2"]; an empty value becomes an empty list (and fails validation). */
export function commaList(value: unknown): string[] {
  const items = Array.isArray(value) ? value.flatMap((v) => String(v).split(',')) : String(value ?? '').split(',');
  return items.map((s) => s.trim()).filter((s) => s.length > 0);
}

const ajv = new Ajv({ allErrors: false, strict: false, coerceTypes: false, verbose: true });
const compiled = new WeakMap<object, ReturnType<typeof ajv.compile>>();

function friendly(error: ErrorObject): string {
  const p = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'minLength':
      return p.limit === 1 ? 'must not be empty' : `must be at least ${String(p.limit)} characters`;
    case 'minItems':
      return p.limit === 1 ? 'must not be empty' : `must list at least ${String(p.limit)} entries`;
    case 'pattern':
      return `has an invalid value${error.parentSchema?.description ? `: expected ${error.parentSchema.description}` : ''}`;
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
      return `${error.message ?? 'is out of range'}`;
    case 'type':
      return String(p.type) === 'integer' ? 'must be an integer' : `must be a ${String(p.type)}`;
    case 'required':
      return 'is required';
    default:
      return error.message ?? 'is invalid';
  }
}

function flagOf(error: ErrorObject): string {
  const segments = error.instancePath.split('/').filter(Boolean);
  if (error.keyword === 'required') segments.push(String((error.params as { missingProperty: string }).missingProperty));
  const key = segments[0] ?? '';
  const flag = kebabCase(key);
  const index = segments.length > 1 ? ` (entry ${Number(segments[1]) + 1})` : '';
  return `--${flag} / ${envName(flag)}${index}`;
}

/**
 * Validates the part of argv a schema describes and returns it typed. Throws ConfigError whose
 * message names the flag and the environment variable, and says what is wrong.
 */
export function validateSettings<T extends TProperties>(schema: TObject<T>, argv: Record<string, unknown>): Static<TObject<T>> {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  const picked: Record<string, unknown> = {};
  for (const key of Object.keys(schema.properties)) {
    if (argv[key] !== undefined) picked[key] = argv[key];
  }
  if (!validate(picked)) {
    const error = validate.errors?.[0];
    if (!error) throw new ConfigError('invalid settings');
    throw new ConfigError(`${flagOf(error)}: ${friendly(error)}`);
  }
  return picked as Static<TObject<T>>;
}

/** Registers a validation for one option group; yargs reports its failure through cli.ts's fail handler. */
function checked<A>(y: Argv<A>, schema: TObject): Argv<A> {
  return y.check((argv) => {
    validateSettings(schema, argv as Record<string, unknown>);
    return true;
  });
}

const HostPort = Type.String({ pattern: '^[^\\s:,]+:([1-9][0-9]{0,4})$', description: 'host:port' });

// ---------------------------------------------------------------------------------------------
// Kafka

export const KafkaSettings = Type.Object({
  kafkaBrokers: Type.Array(HostPort, { minItems: 1 }),
  kafkaClientId: Type.String({ minLength: 1 }),
});
export type KafkaOptions = Static<typeof KafkaSettings>;

export function withKafkaOptions<T>(y: Argv<T>): Argv<T & KafkaOptions> {
  return checked(
    y.options({
      ...option('kafka-brokers', {
        type: 'string',
        description: 'Kafka bootstrap brokers, comma-separated host:port',
        default: '127.0.0.1:9092',
        coerce: commaList,
        group: 'Kafka:',
      }),
      ...option('kafka-client-id', { type: 'string', description: 'Kafka client id', default: 'pinpipe', group: 'Kafka:' }),
    }),
    KafkaSettings,
  ) as unknown as Argv<T & KafkaOptions>;
}

// ---------------------------------------------------------------------------------------------
// Topics: the contract names them (TOPICS); a deployment, or a test that must not touch the
// default topics, may use others.

export const TopicSettings = Type.Object({
  pinTopic: Type.String({ minLength: 1 }),
  geoTopic: Type.String({ minLength: 1 }),
  userTopic: Type.String({ minLength: 1 }),
});
export type TopicOptions = Static<typeof TopicSettings>;

export function withTopicOptions<T>(y: Argv<T>): Argv<T & TopicOptions> {
  return y
    .options({
      ...option('pin-topic', { type: 'string', description: 'Topic of pin records', default: TOPICS.pin, group: 'Topics:' }),
      ...option('geo-topic', { type: 'string', description: 'Topic of geo records', default: TOPICS.geo, group: 'Topics:' }),
      ...option('user-topic', { type: 'string', description: 'Topic of user records', default: TOPICS.user, group: 'Topics:' }),
    })
    .check((argv) => {
      const t = validateSettings(TopicSettings, argv as Record<string, unknown>);
      if (new Set([t.pinTopic, t.geoTopic, t.userTopic]).size !== 3) throw new ConfigError('--pin-topic, --geo-topic and --user-topic must be three different topics');
      return true;
    }) as unknown as Argv<T & TopicOptions>;
}

/** The topic of each record type, from the topic settings. */
export function topicsOf(options: TopicOptions): { readonly [K in RecordType]: string } {
  return { pin: options.pinTopic, geo: options.geoTopic, user: options.userTopic };
}

// ---------------------------------------------------------------------------------------------
// S3

export const S3Settings = Type.Object({
  s3Bucket: Type.String({ minLength: 1, pattern: '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$', description: 'an S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)' }),
  s3Endpoint: Type.Optional(Type.String({ pattern: '^$|^https?://[^\\s]+$', description: 'an http(s):// URL, or empty for AWS' })),
  s3Region: Type.String({ minLength: 1 }),
});
export type S3Options = Static<typeof S3Settings>;

export function withS3Options<T>(y: Argv<T>): Argv<T & S3Options> {
  return checked(
    y.options({
      ...option('s3-bucket', { type: 'string', description: 'Bucket holding the lake', default: 'pinpipe', group: 'S3:' }),
      ...option('s3-endpoint', {
        type: 'string',
        description: 'S3 endpoint URL for a non-AWS server such as MinIO (path-style addressing); empty for AWS. Credentials come from the standard AWS_* variables',
        default: 'http://127.0.0.1:9000',
        group: 'S3:',
      }),
      ...option('s3-region', { type: 'string', description: 'S3 region', default: 'us-east-1', group: 'S3:' }),
    }),
    S3Settings,
  ) as unknown as Argv<T & S3Options>;
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

export const PgSettings = Type.Object({
  pgUrl: Type.String({ minLength: 1, pattern: '^postgres(ql)?://', description: 'a postgres:// connection URL' }),
});
export type PgOptions = Static<typeof PgSettings>;

export function withPgOptions<T>(y: Argv<T>): Argv<T & PgOptions> {
  return checked(
    y.options({
      ...option('pg-url', {
        type: 'string',
        description: 'PostgreSQL connection URL',
        default: 'postgres://pinpipe:pinpipe@127.0.0.1:5432/pinpipe',
        group: 'PostgreSQL:',
      }),
    }),
    PgSettings,
  ) as unknown as Argv<T & PgOptions>;
}

// ---------------------------------------------------------------------------------------------
// Cassandra

export const CassandraSettings = Type.Object({
  cassandraContactPoints: Type.Array(HostPort, { minItems: 1 }),
  cassandraLocalDc: Type.String({ minLength: 1 }),
  cassandraKeyspace: Type.String({ pattern: '^[a-z][a-z0-9_]{0,47}$', description: 'a lowercase CQL identifier' }),
});
export type CassandraOptions = Static<typeof CassandraSettings>;

export function withCassandraOptions<T>(y: Argv<T>): Argv<T & CassandraOptions> {
  return checked(
    y.options({
      ...option('cassandra-contact-points', {
        type: 'string',
        description: 'Cassandra contact points, comma-separated host:port',
        default: '127.0.0.1:9042',
        coerce: commaList,
        group: 'Cassandra:',
      }),
      ...option('cassandra-local-dc', { type: 'string', description: 'Cassandra local datacenter name', default: 'datacenter1', group: 'Cassandra:' }),
      ...option('cassandra-keyspace', { type: 'string', description: 'Keyspace for pinpipe tables', default: 'pinpipe', group: 'Cassandra:' }),
    }),
    CassandraSettings,
  ) as unknown as Argv<T & CassandraOptions>;
}

// ---------------------------------------------------------------------------------------------
// Options every command has

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface GlobalOptions {
  logLevel: LogLevel;
  verbose: boolean;
}

export function withGlobalOptions<T>(y: Argv<T>): Argv<T & GlobalOptions> {
  return y.options({
    ...option('log-level', { type: 'string', choices: LOG_LEVELS, description: 'Minimum level of the JSON log lines on stderr', default: 'info' }),
    ...option('verbose', { type: 'boolean', description: 'Print stack traces with errors', default: false }),
  }) as unknown as Argv<T & GlobalOptions>;
}

// ---------------------------------------------------------------------------------------------
// Trino

export const TrinoSettings = Type.Object({
  trinoUrl: Type.String({ pattern: '^https?://[^\\s]+$', description: 'an http(s):// URL' }),
  trinoUser: Type.String({ minLength: 1 }),
  trinoPassword: Type.Optional(Type.String()),
});
export type TrinoOptions = Static<typeof TrinoSettings>;

export function withTrinoOptions<T>(y: Argv<T>): Argv<T & TrinoOptions> {
  return checked(
    y.options({
      ...option('trino-url', { type: 'string', description: "Trino coordinator's URL", default: 'http://127.0.0.1:8090', group: 'Trino:' }),
      ...option('trino-user', { type: 'string', description: 'User the queries run as', default: 'pinpipe', group: 'Trino:' }),
      ...option('trino-password', { type: 'string', description: 'Password for basic authentication (https only; empty: none)', group: 'Trino:' }),
    }),
    TrinoSettings,
  ) as unknown as Argv<T & TrinoOptions>;
}

/** Where the lake's tables are declared in Trino: a catalog (Trino's Hive connector) and a schema of it. */
export const LakeTableSettings = Type.Object({
  lakeCatalog: Type.String({ pattern: '^[a-z][a-z0-9_]{0,62}$', description: 'a lowercase SQL identifier' }),
  lakeSchema: Type.String({ pattern: '^[a-z][a-z0-9_]{0,62}$', description: 'a lowercase SQL identifier' }),
});
export type LakeTableOptions = Static<typeof LakeTableSettings>;

export function withLakeTableOptions<T>(y: Argv<T>): Argv<T & LakeTableOptions> {
  return checked(
    y.options({
      ...option('lake-catalog', { type: 'string', default: 'lake', description: "Trino catalog (Hive connector) over the lake's bucket", group: 'Trino:' }),
      ...option('lake-schema', { type: 'string', default: 'curated', description: 'Schema of that catalog the curated tables are declared in', group: 'Trino:' }),
    }),
    LakeTableSettings,
  ) as unknown as Argv<T & LakeTableOptions>;
}

/** Where stream-agg's tables are in Trino, and whose windows (stream-agg's consumer group) are meant. */
export const StreamTableSettings = Type.Object({
  streamCatalog: Type.String({ pattern: '^[a-z][a-z0-9_]{0,62}$', description: 'a lowercase SQL identifier' }),
  streamSchema: Type.String({ pattern: '^[a-z][a-z0-9_]{0,62}$', description: 'a lowercase SQL identifier' }),
  streamGroupId: Type.String({ minLength: 1 }),
});
export type StreamTableOptions = Static<typeof StreamTableSettings>;

export function withStreamTableOptions<T>(y: Argv<T>): Argv<T & StreamTableOptions> {
  return checked(
    y.options({
      ...option('stream-catalog', { type: 'string', default: 'stream', description: "Trino catalog (PostgreSQL connector) over stream-agg's database", group: 'Trino:' }),
      ...option('stream-schema', { type: 'string', default: 'public', description: 'Schema of that catalog holding the stream_agg_* tables', group: 'Trino:' }),
      ...option('stream-group-id', { type: 'string', default: 'pinpipe-stream-agg', description: "stream-agg's --group-id: whose windows are meant", group: 'Trino:' }),
    }),
    StreamTableSettings,
  ) as unknown as Argv<T & StreamTableOptions>;
}

// ---------------------------------------------------------------------------------------------
// The day a daily job works on

/** `--date`: a real calendar day; reported as a configuration error (exit 2) otherwise. */
export function checkDate(value: unknown): string {
  if (value === undefined || value === null || value === '') throw new ConfigError('--date / PINPIPE_DATE: is required (YYYY-MM-DD)');
  const text = String(value);
  try {
    return assertLakeDate(text);
  } catch {
    throw new ConfigError(`--date / PINPIPE_DATE: "${text}" is not a calendar date in YYYY-MM-DD form`);
  }
}

/** The `--date` option both daily jobs take. */
export function withDateOption<T>(y: Argv<T>): Argv<T & { date: string }> {
  return y
    .options({
      ...option('date', { type: 'string', description: 'The day D to process, YYYY-MM-DD (UTC)', requiresArg: true, group: 'Day:' }),
    })
    .check((argv) => {
      checkDate(argv.date);
      return true;
    }) as unknown as Argv<T & { date: string }>;
}
