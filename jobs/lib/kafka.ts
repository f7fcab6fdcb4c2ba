// First: the fast record decoder must be in place before kafkajs decodes a fetch (see the module).
import './kafkajs-records.js';
import './kafkajs-timers.js';
import { Kafka, logLevel, type Admin, type Consumer, type ITopicConfig, type LogEntry } from 'kafkajs';
import type { KafkaOptions } from './config.js';
import type { Logger } from './logger.js';

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** A kafkajs client whose own logs go through the job's JSON logger. */
export function createKafka(options: KafkaOptions, logger: Logger): Kafka {
  return new Kafka({
    clientId: options.kafkaClientId,
    brokers: options.kafkaBrokers,
    connectionTimeout: 5_000,
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log, namespace }: LogEntry) => {
        const { message, ...extra } = log;
        logger.log(LEVELS[level] ?? 'info', `kafkajs: ${message}`, { namespace, ...extra });
      },
  });
}

/**
 * A consumer in a pinpipe group: fetches bounded per partition and in total (four partitions'
 * worth), so memory stays flat whatever the backlog, and the session settings every job uses.
 */
export function createGroupConsumer(kafka: Kafka, groupId: string, maxBytesPerPartition: number): Consumer {
  return kafka.consumer({ groupId, maxBytesPerPartition, maxBytes: 4 * maxBytesPerPartition, sessionTimeout: 30_000, heartbeatInterval: 3_000 });
}

/** Errors metadata answers with while a new topic's partitions are still getting their leaders. */
const SETTLING = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE']);

/**
 * Creates the topics that are missing; existing topics are left as they are. Returns once every
 * partition of them has a leader. kafkajs's own wait (waitForLeaders) retries only
 * LEADER_NOT_AVAILABLE, but a KRaft broker also answers UNKNOWN_TOPIC_OR_PARTITION for a topic it
 * created a moment ago, so the wait here polls metadata and treats both as "not yet".
 */
export async function ensureTopics(kafka: Kafka, topics: string[], numPartitions = 3, settleMs = 30_000): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing: ITopicConfig[] = topics.filter((t) => !existing.has(t)).map((topic) => ({ topic, numPartitions }));
    if (missing.length === 0) return;
    await admin.createTopics({ topics: missing, waitForLeaders: false });
    const deadline = Date.now() + settleMs;
    for (;;) {
      const pending = await topicsWithoutLeaders(admin, missing.map((t) => t.topic));
      if (pending.length === 0) return;
      if (Date.now() > deadline) throw new Error(`Kafka topics ${pending.join(', ')} have partitions without a leader ${settleMs} ms after they were created`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await admin.disconnect();
  }
}

async function topicsWithoutLeaders(admin: Admin, topics: string[]): Promise<string[]> {
  try {
    const { topics: found } = await admin.fetchTopicMetadata({ topics });
    const led = new Set(found.filter((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0)).map((t) => t.name));
    return topics.filter((t) => !led.has(t));
  } catch (error) {
    if (SETTLING.has((error as { type?: string }).type ?? '')) return topics;
    throw error;
  }
}
