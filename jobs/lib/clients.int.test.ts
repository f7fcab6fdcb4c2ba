import { gunzipSync, gzipSync } from 'node:zlib';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { createCassandraClient } from './cassandra.js';
import { createKafka, ensureTopics } from './kafka.js';
import { createLogger } from './logger.js';
import { createPgPool } from './pg.js';
import { createS3Client, ensureBucket } from './s3.js';
import { runCli } from '../test/cli.js';
import { serviceEnv, serviceSettings, uniqueName } from '../test/services.js';

const settings = serviceSettings();
const logger = createLogger('test', 'error');

describe('jobs/lib clients against the real local services', () => {
  it('Kafka: an idempotent produce is consumed back by a group with key, value and headers', async () => {
    const kafka = createKafka(settings, logger);
    const topic = uniqueName('pinpipe-it').replace(/_/g, '-');
    await ensureTopics(kafka, [topic], 3);
    await ensureTopics(kafka, [topic], 3); // a second call leaves the topic alone

    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const sent = Array.from({ length: 20 }, (_, i) => ({ key: String(i), value: JSON.stringify({ ind: i }), headers: { 'event-id': `e${i}` } }));
    await producer.send({ topic, acks: -1, messages: sent });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: uniqueName('pinpipe-it-group') });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const received: Array<{ key: string; value: string; eventId: string; partition: number }> = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${received.length} of 20 records arrived`)), 60_000);
      void consumer.run({
        eachMessage: async ({ message, partition }) => {
          received.push({ key: String(message.key), value: String(message.value), eventId: String(message.headers?.['event-id']), partition });
          if (received.length === sent.length) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
    await consumer.disconnect();

    expect(received.map((r) => r.key).sort()).toEqual(sent.map((s) => s.key).sort());
    for (const r of received) expect(JSON.parse(r.value)).toEqual({ ind: Number(r.key) });
    expect(received.find((r) => r.key === '3')?.eventId).toBe('e3');
    // Same key, same partition: the property the per-ind ordering downstream relies on.
    const admin = kafka.admin();
    await admin.connect();
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(topics[0]?.partitions).toHaveLength(3);
    await admin.deleteTopics({ topics: [topic] });
    await admin.disconnect();
  });

  it('S3: a gzip object is put and read back byte for byte', async () => {
    const s3 = createS3Client(settings);
    await ensureBucket(s3, settings.s3Bucket);
    await ensureBucket(s3, settings.s3Bucket);
    const key = `it/${uniqueName('object')}.ndjson.gz`;
    const body = gzipSync('{"a":1}\n{"a":2}\n');
    await s3.send(new PutObjectCommand({ Bucket: settings.s3Bucket, Key: key, Body: body, ContentType: 'application/x-ndjson', ContentEncoding: 'gzip' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: settings.s3Bucket, Key: key }));
    const bytes = Buffer.from(await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
    expect(gunzipSync(bytes).toString()).toBe('{"a":1}\n{"a":2}\n');
    await s3.send(new DeleteObjectCommand({ Bucket: settings.s3Bucket, Key: key }));
    s3.destroy();
  });

  it('Cassandra: a prepared write is read back', async () => {
    const client = createCassandraClient(settings);
    const keyspace = uniqueName('pinpipe_it').toLowerCase().slice(0, 48);
    try {
      await client.execute(`CREATE KEYSPACE IF NOT EXISTS ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
      await client.execute(`CREATE TABLE IF NOT EXISTS ${keyspace}.pins (unique_id text PRIMARY KEY, category text, follower_count bigint)`);
      await client.execute(`INSERT INTO ${keyspace}.pins (unique_id, category, follower_count) VALUES (?, ?, ?)`, ['u1', 'art', 13000], { prepare: true });
      const result = await client.execute(`SELECT category, follower_count FROM ${keyspace}.pins WHERE unique_id = ?`, ['u1'], { prepare: true });
      expect(result.rows).toHaveLength(1);
      expect(result.first().get('category')).toBe('art');
      expect(Number(result.first().get('follower_count'))).toBe(13000);
    } finally {
      await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
      await client.shutdown();
    }
  });

  it('PostgreSQL: a write in a transaction is read back', async () => {
    const pool = createPgPool(settings);
    const table = uniqueName('it_windows');
    try {
      await pool.query(`CREATE TABLE ${table} (window_start timestamptz, category text, posts int, PRIMARY KEY (window_start, category))`);
      const client = await pool.connect();
      await client.query('BEGIN');
      await client.query(`INSERT INTO ${table} VALUES ($1, $2, $3) ON CONFLICT (window_start, category) DO UPDATE SET posts = EXCLUDED.posts`, ['2020-08-28T03:52:00Z', 'art', 3]);
      await client.query(`INSERT INTO ${table} VALUES ($1, $2, $3) ON CONFLICT (window_start, category) DO UPDATE SET posts = EXCLUDED.posts`, ['2020-08-28T03:52:00Z', 'art', 5]);
      await client.query('COMMIT');
      client.release();
      const { rows } = await pool.query(`SELECT category, posts FROM ${table}`);
      expect(rows).toEqual([{ category: 'art', posts: 5 }]);
    } finally {
      await pool.query(`DROP TABLE IF EXISTS ${table}`);
      await pool.end();
    }
  });

  it('pinpipe check reports all four services up', async () => {
    const { code, stdout } = await runCli(['check'], serviceEnv());
    expect(stdout).toMatch(/^kafka +up /m);
    expect(stdout).toMatch(/^s3 +up /m);
    expect(stdout).toMatch(/^cassandra +up .*Cassandra 5\.0/m);
    expect(stdout).toMatch(/^postgres +up .*PostgreSQL 15/m);
    expect(code).toBe(0);
  });

  it('pinpipe check fails with exit code 1 when a service is down', async () => {
    const { code, stdout } = await runCli(['check', '--service', 'postgres', '--pg-url', 'postgres://pinpipe:pinpipe@127.0.0.1:1/pinpipe']);
    expect(code).toBe(1);
    expect(stdout).toMatch(/^postgres +DOWN .*ECONNREFUSED/m);
  });
});

