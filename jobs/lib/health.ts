import { HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Kafka } from 'kafkajs';
import type { CassandraClient } from './cassandra.js';
import type { PgPool } from './pg.js';

/**
 * Cheap real round trips to each dependency. ingest's /readyz, `pinpipe check` and the
 * integration tests use the same probes, so "ready" means one thing everywhere.
 */
export async function probeKafka(kafka: Kafka): Promise<string> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const cluster = await admin.describeCluster();
    return `${cluster.brokers.length} broker(s), cluster ${cluster.clusterId}`;
  } finally {
    await admin.disconnect();
  }
}

export async function probeS3(client: S3Client, bucket: string): Promise<string> {
  await client.send(new HeadBucketCommand({ Bucket: bucket }));
  return `bucket ${bucket} reachable`;
}

export async function probeCassandra(client: CassandraClient): Promise<string> {
  const result = await client.execute('SELECT release_version FROM system.local');
  return `Cassandra ${String(result.first()?.get('release_version'))}`;
}

export async function probePg(pool: PgPool): Promise<string> {
  const result = await pool.query<{ version: string }>('SELECT version() AS version');
  return (result.rows[0]?.version ?? '').split(' on ')[0] ?? 'PostgreSQL';
}
