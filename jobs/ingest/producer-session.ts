import { CompressionTypes, Partitioners, type Kafka, type Producer, type RecordMetadata, type TopicMessages } from 'kafkajs';
import { withTimeout } from '../lib/timeout.js';

/**
 * kafkajs retries a failed produce request itself; this budget makes a dead broker surface as
 * an error in about a second instead of minutes. kafkajs warns that bounded retries can break
 * idempotence (a sequence number reused after a timeout); the session is therefore reset after
 * every failed send, and a new producer id starts fresh sequences.
 */
const PRODUCER_RETRY = { retries: 3, initialRetryTime: 100, maxRetryTime: 1_000 };
const DISCONNECT_TIMEOUT_MS = 5_000;
const noop = (): void => undefined;

/** Where produce requests go; the gateway depends on this, tests can fake it. */
export interface ProducerPort {
  /** One produce request, acknowledged by all in-sync replicas. */
  send(topicMessages: TopicMessages[]): Promise<RecordMetadata[]>;
  /** Forgets the current producer (after a failure); the next send connects a new one. */
  reset(): void;
  close(): Promise<void>;
}

/**
 * One idempotent kafkajs producer (acks -1, one request in flight), connected on first use and
 * replaced after a failure.
 */
export class ProducerSession implements ProducerPort {
  private producer: Producer | undefined;
  private connecting: Promise<Producer> | undefined;
  private closed = false;

  constructor(private readonly kafka: Kafka) {}

  async send(topicMessages: TopicMessages[]): Promise<RecordMetadata[]> {
    const producer = await this.connect();
    try {
      return await producer.sendBatch({ topicMessages, acks: -1, compression: CompressionTypes.None });
    } catch (error) {
      this.drop(producer);
      throw error;
    }
  }

  reset(): void {
    this.drop(this.producer);
  }

  private connect(): Promise<Producer> {
    if (this.closed) return Promise.reject(new Error('the Kafka producer is closed'));
    if (this.producer !== undefined) return Promise.resolve(this.producer);
    this.connecting ??= (async () => {
      const producer = this.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
        retry: PRODUCER_RETRY,
      });
      try {
        await producer.connect();
      } catch (error) {
        void producer.disconnect().catch(noop);
        throw error;
      }
      if (this.closed) {
        void producer.disconnect().catch(noop);
        throw new Error('the Kafka producer is closed');
      }
      this.producer = producer;
      return producer;
    })().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private drop(producer: Producer | undefined): void {
    if (producer === undefined) return;
    if (this.producer === producer) this.producer = undefined;
    void withTimeout(producer.disconnect(), DISCONNECT_TIMEOUT_MS, 'producer disconnect').catch(noop);
  }

  async close(): Promise<void> {
    this.closed = true;
    const producer = this.producer ?? (await this.connecting?.catch(() => undefined));
    this.producer = undefined;
    if (producer !== undefined) await withTimeout(producer.disconnect(), DISCONNECT_TIMEOUT_MS, 'producer disconnect').catch(noop);
  }
}
