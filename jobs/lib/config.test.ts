import yargs from 'yargs';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { commaList, envName, KafkaSettings, validateSettings, withKafkaOptions, withS3Options } from './config.js';
import { ConfigError } from './errors.js';

function parseKafka(args: string[]) {
  return withKafkaOptions(yargs(args))
    .fail((message, error) => {
      throw error ?? new Error(message);
    })
    .parseSync();
}

describe('settings precedence', () => {
  // The shell running the tests may have the local stack's settings exported.
  const outside = process.env.PINPIPE_KAFKA_BROKERS;
  beforeEach(() => {
    delete process.env.PINPIPE_KAFKA_BROKERS;
  });
  afterAll(() => {
    if (outside === undefined) delete process.env.PINPIPE_KAFKA_BROKERS;
    else process.env.PINPIPE_KAFKA_BROKERS = outside;
  });

  it('uses the default when neither flag nor environment is set', () => {
    expect(parseKafka([]).kafkaBrokers).toEqual(['127.0.0.1:9092']);
  });

  it('prefers the environment over the default', () => {
    process.env.PINPIPE_KAFKA_BROKERS = 'a:1,b:2';
    expect(parseKafka([]).kafkaBrokers).toEqual(['a:1', 'b:2']);
  });

  it('prefers the flag over the environment', () => {
    process.env.PINPIPE_KAFKA_BROKERS = 'a:1';
    expect(parseKafka(['--kafka-brokers', 'c:3']).kafkaBrokers).toEqual(['c:3']);
  });

  it('rejects an empty environment value, naming flag and variable', () => {
    process.env.PINPIPE_KAFKA_BROKERS = '';
    expect(() => parseKafka([])).toThrow(new ConfigError('--kafka-brokers / PINPIPE_KAFKA_BROKERS: must not be empty'));
  });

  it('rejects a broker without a port, naming the entry', () => {
    expect(() => parseKafka(['--kafka-brokers', 'ok:1,broken'])).toThrow(
      new ConfigError('--kafka-brokers / PINPIPE_KAFKA_BROKERS (entry 2): has an invalid value: expected host:port'),
    );
  });
});

describe('validateSettings', () => {
  it('returns the typed settings when valid', () => {
    expect(validateSettings(KafkaSettings, { kafkaBrokers: ['h:1'], kafkaClientId: 'x', other: 1 })).toEqual({ kafkaBrokers: ['h:1'], kafkaClientId: 'x' });
  });

  it('reports a missing setting as required', () => {
    const error = (() => {
      try {
        validateSettings(KafkaSettings, { kafkaBrokers: ['h:1'] });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toBe('--kafka-client-id / PINPIPE_KAFKA_CLIENT_ID: is required');
    expect((error as ConfigError).code).toBe('PINPIPE_CONFIG_INVALID');
  });

  it('checks S3 bucket names', () => {
    expect(() =>
      withS3Options(yargs(['--s3-bucket', 'Bad_Bucket']))
        .fail((m, e) => {
          throw e ?? new Error(m);
        })
        .parseSync(),
    ).toThrow(/--s3-bucket \/ PINPIPE_S3_BUCKET: has an invalid value: expected an S3 bucket name/);
  });
});

describe('helpers', () => {
  it('derives environment names from flags', () => {
    expect(envName('kafka-brokers')).toBe('PINPIPE_KAFKA_BROKERS');
  });

  it('splits comma lists and drops blanks', () => {
    expect(commaList(' a:1, ,b:2 ')).toEqual(['a:1', 'b:2']);
    expect(commaList('')).toEqual([]);
    expect(commaList(['a:1,b:2', 'c:3'])).toEqual(['a:1', 'b:2', 'c:3']);
  });
});
