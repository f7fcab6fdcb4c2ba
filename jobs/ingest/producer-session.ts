import { ProduceAcks, Producer, type ProduceResult } from '@platformatic/kafka';
import { withTimeout } from '../lib/timeout.js';
import type { KafkaMessage, PartitionOffset } from './types.js';

/**
 * The producer retries a failed produce request itself (the same batch with the same sequence
 * numbers, so the broker drops a copy it already has); this budget makes a dead broker surface
 * as an error in about a second instead of minutes. The session is reset after every failed
 * send anyway: a new producer id starts fresh sequences.
 */
const RETRIES = 3;
const retryDelay = (_client: unknown, _operation: string, attempt: number): number => Math.min(100 * 2 ** (attempt - 1), 1_000);
const CONNECT_TIMEOUT_MS = 5_000;
const CLOSE_TIMEOUT_MS = 5_000;
const noop = (): void => undefined;

/** Where produce requests go; the gateway depends on this, tests can fake it. */
export interface ProducerPort {
  /** One produce request, acknowledged by all in-sync replicas; one base offset per topic-partition. */
  send(messages: KafkaMessage[]): Promise<PartitionOffset[]>;
  /** Forgets the current producer (after a failure); the next send connects a new one. */
  reset(): void;
  close(): Promise<void>;
}

export interface ProducerSessionOptions {
  clientId: string;
  brokers: readonly string[];
  /** Bound on one request to the broker (the gateway bounds the whole send as well). */
  requestTimeoutMs: number;
}

type BufferProducer = Producer<Buffer, Buffer, Buffer, Buffer>;

/** Closes a producer; forced, it also abandons what is still in flight or retrying. */
function closeProducer(producer: BufferProducer, force: boolean): Promise<void> {
  return new Promise<void>((resolve, reject) => producer.close(force, (error) => (error ? reject(error) : resolve())));
}

/** The broker's base offsets, one per topic-partition of the request. */
export function partitionOffsets(result: ProduceResult): PartitionOffset[] {
  return (result.offsets ?? []).map(({ topic, partition, offset }) => ({ topic, partition, baseOffset: offset }));
}

/**
 * One idempotent @platformatic/kafka producer (acks = all in-sync replicas, one request in
 * flight, no compression), its producer id fetched on first use, replaced after a failure.
 * Keys, values and headers arrive as Buffers: nothing is serialized again here.
 */
export class ProducerSession implements ProducerPort {
  private producer: BufferProducer | undefined;
  private connecting: Promise<BufferProducer> | undefined;
  private closed = false;

  constructor(private readonly options: ProducerSessionOptions) {}

  async send(messages: KafkaMessage[]): Promise<PartitionOffset[]> {
    const producer = await this.connect();
    try {
      return partitionOffsets(await producer.send({ messages }));
    } catch (error) {
      this.drop(producer);
      throw error;
    }
  }

  reset(): void {
    this.drop(this.producer);
  }

  private create(): BufferProducer {
    return new Producer<Buffer, Buffer, Buffer, Buffer>({
      clientId: this.options.clientId,
      bootstrapBrokers: [...this.options.brokers],
      idempotent: true,
      acks: ProduceAcks.ALL,
      compression: 'none',
      autocreateTopics: false,
      retries: RETRIES,
      retryDelay,
      connectTimeout: CONNECT_TIMEOUT_MS,
      requestTimeout: this.options.requestTimeoutMs,
      timeout: this.options.requestTimeoutMs,
    });
  }

  private connect(): Promise<BufferProducer> {
    if (this.closed) return Promise.reject(new Error('the Kafka producer is closed'));
    if (this.producer !== undefined) return Promise.resolve(this.producer);
    this.connecting ??= (async () => {
      const producer = this.create();
      try {
        await producer.initIdempotentProducer({});
      } catch (error) {
        void closeProducer(producer, true).catch(noop);
        throw error;
      }
      if (this.closed) {
        void closeProducer(producer, true).catch(noop);
        throw new Error('the Kafka producer is closed');
      }
      this.producer = producer;
      return producer;
    })().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private drop(producer: BufferProducer | undefined): void {
    if (producer === undefined) return;
    if (this.producer === producer) this.producer = undefined;
    // Forced: a send still retrying inside it is abandoned (its records were answered with 503).
    void withTimeout(closeProducer(producer, true), CLOSE_TIMEOUT_MS, 'producer close').catch(noop);
  }

  /** Called after the batcher has flushed: nothing is in flight any more. */
  async close(): Promise<void> {
    this.closed = true;
    const producer = this.producer ?? (await this.connecting?.catch(() => undefined));
    this.producer = undefined;
    if (producer !== undefined) await withTimeout(closeProducer(producer, false), CLOSE_TIMEOUT_MS, 'producer close').catch(noop);
  }
}
