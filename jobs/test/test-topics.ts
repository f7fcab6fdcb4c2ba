import { createKafka } from '../lib/kafka.js';
import { createLogger } from '../lib/logger.js';
import { serviceSettings } from './services.js';

/**
 * Integration tests make topics of their own (privateTopics, uniqueName) and used to leave them
 * behind: thousands of them made the local Kafka take longer to load its logs at start than its
 * readiness bound allows. This global setup deletes, at the end of a run, the test topics the run
 * made, and at its start those a killed run left more than STALE_MS ago (a run never lasts that
 * long, so a run in progress elsewhere keeps its topics).
 */
const STALE_MS = 3 * 3600_000;

/** A test topic's name: a prefix starting with it- or pinpipe-it-, then -pid-time-n as uniqueName makes it. */
const TEST_TOPIC = /^(?:pinpipe-)?it(?:-[a-z]+)*-\d+-([0-9a-z]{6,})-\d+(?:[-.][a-z0-9.-]*)?$/;

/** When a test topic was named, or undefined for any other topic. */
export function testTopicTime(topic: string): number | undefined {
  const match = TEST_TOPIC.exec(topic);
  if (!match) return undefined;
  const ms = parseInt(match[1] as string, 36);
  return Number.isSafeInteger(ms) ? ms : undefined;
}

async function deleteTestTopics(keep: (namedAt: number) => boolean): Promise<number> {
  const kafka = createKafka({ ...serviceSettings(), kafkaClientId: 'pinpipe-test-cleanup' }, createLogger('test-topics', 'error'));
  const admin = kafka.admin();
  await admin.connect();
  try {
    const doomed = (await admin.listTopics()).filter((topic) => {
      const namedAt = testTopicTime(topic);
      return namedAt !== undefined && !keep(namedAt);
    });
    for (let i = 0; i < doomed.length; i += 100) await admin.deleteTopics({ topics: doomed.slice(i, i + 100), timeout: 30_000 });
    return doomed.length;
  } finally {
    await admin.disconnect();
  }
}

export default async function setup(): Promise<() => Promise<void>> {
  const startedAt = Date.now();
  await deleteTestTopics((namedAt) => namedAt > startedAt - STALE_MS);
  return async () => {
    const deleted = await deleteTestTopics((namedAt) => namedAt < startedAt);
    process.stdout.write(`test topics: deleted the ${deleted} topics this run made\n`);
  };
}
