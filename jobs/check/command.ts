import type { CommandModule } from 'yargs';
import {
  commaList,
  option,
  withCassandraOptions,
  withKafkaOptions,
  withPgOptions,
  withS3Options,
  type CassandraOptions,
  type GlobalOptions,
  type KafkaOptions,
  type PgOptions,
  type S3Options,
} from '../lib/config.js';
import { ConfigError } from '../lib/errors.js';
import { runJob } from '../lib/job.js';

export const SERVICES = ['kafka', 's3', 'cassandra', 'postgres'] as const;
export type Service = (typeof SERVICES)[number];

export type CheckOptions = GlobalOptions & KafkaOptions & S3Options & PgOptions & CassandraOptions & { service: Service[]; timeoutMs: number };

export const checkCommand: CommandModule<GlobalOptions, CheckOptions> = {
  command: 'check',
  describe: 'Check that Kafka, S3, Cassandra and PostgreSQL answer with the current settings',
  builder: (y) =>
    withCassandraOptions(withPgOptions(withS3Options(withKafkaOptions(y))))
      .options({
        ...option('service', { type: 'string', coerce: commaList, default: SERVICES.join(','), description: `Services to check, comma-separated: ${SERVICES.join(', ')}` }),
        ...option('timeout-ms', { type: 'number', default: 10_000, description: 'Give up on a service after this long' }),
      })
      .check((argv) => {
        const unknown = (argv.service as string[]).filter((s) => !(SERVICES as readonly string[]).includes(s));
        if (unknown.length > 0 || (argv.service as string[]).length === 0) {
          throw new ConfigError(`--service / PINPIPE_SERVICE: must list some of ${SERVICES.join(', ')} (got "${unknown.join(',')}")`);
        }
        return true;
      })
      .example('$0 check --service kafka,s3', 'check only Kafka and S3') as never,
  handler: (argv) =>
    runJob('check', argv, async (ctx) => {
      const { runCheck } = await import('./run.js');
      await runCheck(argv, ctx);
    }),
};
