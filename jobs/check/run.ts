import { createCassandraClient } from '../lib/cassandra.js';
import { DependencyError } from '../lib/errors.js';
import { probeCassandra, probeKafka, probePg, probeS3 } from '../lib/health.js';
import type { JobContext } from '../lib/job.js';
import { createKafka } from '../lib/kafka.js';
import { createPgPool, redactPgUrl } from '../lib/pg.js';
import { createS3Client } from '../lib/s3.js';
import { withTimeout } from '../lib/timeout.js';
import type { CheckOptions, Service } from './command.js';

interface Probe {
  target: string;
  run: () => Promise<string>;
}

function probeFor(service: Service, options: CheckOptions, ctx: JobContext): Probe {
  switch (service) {
    case 'kafka':
      return { target: options.kafkaBrokers.join(','), run: () => probeKafka(createKafka(options, ctx.logger)) };
    case 's3':
      return {
        target: `${options.s3Endpoint || 'aws'}/${options.s3Bucket}`,
        run: async () => {
          const client = createS3Client(options);
          try {
            return await probeS3(client, options.s3Bucket);
          } finally {
            client.destroy();
          }
        },
      };
    case 'cassandra':
      return {
        target: options.cassandraContactPoints.join(','),
        run: async () => {
          const client = createCassandraClient(options);
          try {
            return await probeCassandra(client);
          } finally {
            await client.shutdown();
          }
        },
      };
    case 'postgres':
      return {
        target: redactPgUrl(options.pgUrl),
        run: async () => {
          const pool = createPgPool(options);
          try {
            return await probePg(pool);
          } finally {
            await pool.end();
          }
        },
      };
  }
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}

/** Prints one line per service and fails when any service does not answer. */
export async function runCheck(options: CheckOptions, ctx: JobContext): Promise<void> {
  const services = [...new Set(options.service)];
  const results = await Promise.all(
    services.map(async (service) => {
      const probe = probeFor(service, options, ctx);
      const started = Date.now();
      try {
        const detail = await withTimeout(probe.run(), options.timeoutMs, service);
        return { service, ok: true, line: `${service.padEnd(10)} up    ${probe.target}  ${detail} (${Date.now() - started} ms)` };
      } catch (error) {
        return { service, ok: false, line: `${service.padEnd(10)} DOWN  ${probe.target}  ${firstLine(error)}` };
      }
    }),
  );
  process.stdout.write(`${results.map((r) => r.line).join('\n')}\n`);
  const down = results.filter((r) => !r.ok).map((r) => r.service);
  if (down.length > 0) throw new DependencyError(`not reachable: ${down.join(', ')}`);
}
