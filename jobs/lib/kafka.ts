// First: the fast record decoder must be in place before kafkajs decodes a fetch (see the module).
import './kafkajs-records.js';
import './kafkajs-timers.js';
import { Kafka, logLevel, type Consumer, type ITopicConfig, type LogEntry } from 'kafkajs';
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

/** Creates the topics that are missing; existing topics are left as they are. */
export async function ensureTopics(kafka: Kafka, topics: string[], numPartitions = 3): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing: ITopicConfig[] = topics.filter((t) => !existing.has(t)).map((topic) => ({ topic, numPartitions }));
    if (missing.length > 0) await admin.createTopics({ topics: missing, waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}
