import type { Admin, Kafka, PartitionMetadata } from 'kafkajs';
import murmurhash from 'murmurhash';
import { DependencyError } from '../lib/errors.js';
import { ensureTopics } from '../lib/kafka.js';
import type { Logger } from '../lib/logger.js';
import type { ProducerPort } from './producer-session.js';
import type { KafkaMessage, PartitionOffset } from './types.js';
import { withTimeout } from '../lib/timeout.js';

const PROBE_TIMEOUT_MS = 3_000;
const PROBE_INTERVAL_UP_MS = 3_000;
const PROBE_INTERVAL_DOWN_MS = 1_000;
const DISCONNECT_TIMEOUT_MS = 5_000;
const STILL_DOWN_REMINDER_MS = 30_000;

export interface KafkaGatewayOptions {
  /** Where produce requests go. */
  producer: ProducerPort;
  topics: readonly string[];
  /** Partitions of the topics ingest creates (existing topics keep theirs). */
  partitions: number;
  /** Bound on one produce request, connecting included. */
  produceTimeoutMs: number;
  logger: Logger;
  onReachable?: (reachable: boolean) => void;
}

/** What the HTTP side needs to know about Kafka. */
export interface KafkaState {
  /** Topics exist, their partition counts are known, and Kafka answered recently. */
  ready(): boolean;
  /** Why not ready, for /readyz and 503 bodies. */
  reason(): string;
  /** Kafka's default (murmur2) partition of a key; undefined until metadata is loaded. */
  partitionFor(topic: string, key: Uint8Array): number | undefined;
}

const noop = (): void => undefined;

/** Seed of the murmur2 hash in Kafka's Java client (org.apache.kafka.common.utils.Utils.murmur2). */
const KAFKA_MURMUR2_SEED = 0x9747b28c;

/** Kafka's default partition of a key: positive murmur2 of its bytes modulo the partition count, as Java producers and kafkajs pick it. */
export function kafkaPartition(key: Uint8Array, partitions: number): number {
  return (murmurhash.v2(key, KAFKA_MURMUR2_SEED) & 0x7fffffff) % partitions;
}

/** An error's message; for an aggregate of retries ("produce failed 4 times."), the last cause too. */
export function messageOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const causes = error instanceof AggregateError ? (error.errors as unknown[]) : [];
  const last = causes[causes.length - 1];
  return last === undefined ? error.message : `${error.message} (${messageOf(last)})`;
}

/**
 * Owns the topics, the producer and a readiness probe: a metadata request every few seconds on
 * one long-lived admin connection.
 * While Kafka is known unreachable, sends fail at once (the caller answers 503 with
 * Retry-After) instead of queueing behind connection attempts; the probe notices when Kafka is
 * back, and the next send connects a new producer.
 */
export class KafkaGateway implements KafkaState {
  private admin: Admin | undefined;
  private readonly partitionMetadata = new Map<string, PartitionMetadata[]>();
  private topicsEnsured = false;
  private reachable = false;
  private lastError = 'not connected yet';
  private probeTimer: NodeJS.Timeout | undefined;
  private probing: Promise<void> | undefined;
  private closed = false;
  private downSince = Date.now();
  private nextReminderMs = STILL_DOWN_REMINDER_MS;

  constructor(
    private readonly kafka: Kafka,
    private readonly options: KafkaGatewayOptions,
  ) {}

  ready(): boolean {
    return !this.closed && this.reachable && this.partitionMetadata.size === this.options.topics.length;
  }

  reason(): string {
    if (this.closed) return 'ingest is shutting down';
    if (this.ready()) return 'Kafka reachable';
    return `Kafka not reachable: ${this.lastError}`;
  }

  partitionFor(topic: string, key: Uint8Array): number | undefined {
    const partitionMetadata = this.partitionMetadata.get(topic);
    if (partitionMetadata === undefined) return undefined;
    return kafkaPartition(key, partitionMetadata.length);
  }

  /** Creates the topics and loads their metadata in the background, then keeps probing. */
  start(): void {
    const loop = async (): Promise<void> => {
      await this.probe();
      if (this.closed) return;
      this.probeTimer = setTimeout(() => void loop(), this.reachable ? PROBE_INTERVAL_UP_MS : PROBE_INTERVAL_DOWN_MS);
      this.probeTimer.unref();
    };
    void loop();
  }

  /**
   * One metadata round trip; also creates the topics until that has worked once. A probe that
   * takes longer than PROBE_TIMEOUT_MS counts as a failure, but its request keeps going (kafkajs
   * retries connecting inside it) and no second one starts meanwhile: when Kafka comes back,
   * that request is what notices.
   */
  probe(): Promise<void> {
    this.probing ??= this.loadMetadata()
      .then(
        () => this.setReachable(true),
        (error: unknown) => {
          this.dropAdmin();
          this.setReachable(false, error);
        },
      )
      .finally(() => {
        this.probing = undefined;
      });
    return withTimeout(this.probing, PROBE_TIMEOUT_MS, 'Kafka metadata probe').catch((error: unknown) => this.setReachable(false, error));
  }

  private async loadMetadata(): Promise<void> {
    if (!this.topicsEnsured) {
      await ensureTopics(this.kafka, [...this.options.topics], this.options.partitions);
      this.topicsEnsured = true;
    }
    if (this.closed) throw new Error('ingest is shutting down');
    this.admin ??= this.kafka.admin();
    const admin = this.admin;
    await admin.connect();
    const { topics } = await admin.fetchTopicMetadata({ topics: [...this.options.topics] });
    for (const topic of topics) {
      if (topic.partitions.length === 0) throw new Error(`topic ${topic.name} has no partitions`);
      // Sorted by id, as the partitioner indexes them by hash modulo count.
      const sorted = [...topic.partitions].sort((a, b) => a.partitionId - b.partitionId);
      const known = this.partitionMetadata.get(topic.name);
      if (known !== undefined && known.length !== sorted.length) {
        this.options.logger.warn('partition count changed; new keys map to new partitions', { topic: topic.name, from: known.length, to: sorted.length });
      }
      this.partitionMetadata.set(topic.name, sorted);
    }
  }

  /** One produce request: stored by all in-sync replicas, or a DependencyError. */
  async send(messages: KafkaMessage[]): Promise<PartitionOffset[]> {
    if (this.closed) throw new DependencyError('the Kafka producer is closed (ingest is shutting down)');
    if (!this.reachable) throw new DependencyError(`Kafka is not reachable: ${this.lastError}`);
    try {
      const metadata = await withTimeout(this.options.producer.send(messages), this.options.produceTimeoutMs, 'Kafka produce');
      this.setReachable(true);
      return metadata;
    } catch (error) {
      // A producer whose send failed is not reused: its sequence numbers may no longer be safe.
      this.options.producer.reset();
      this.setReachable(false, error);
      throw new DependencyError(`Kafka did not store the records: ${messageOf(error)}`, { cause: error });
    }
  }

  private dropAdmin(): void {
    const admin = this.admin;
    this.admin = undefined;
    if (admin !== undefined) void withTimeout(admin.disconnect(), DISCONNECT_TIMEOUT_MS, 'admin disconnect').catch(noop);
  }

  private setReachable(reachable: boolean, error?: unknown): void {
    if (error !== undefined) this.lastError = messageOf(error);
    if (reachable === this.reachable) {
      if (!reachable && Date.now() - this.downSince >= this.nextReminderMs) {
        this.nextReminderMs += STILL_DOWN_REMINDER_MS;
        this.options.logger.warn('Kafka still unreachable', { error: this.lastError, seconds: Math.round((Date.now() - this.downSince) / 1000) });
      }
      return;
    }
    this.reachable = reachable;
    this.downSince = Date.now();
    this.nextReminderMs = STILL_DOWN_REMINDER_MS;
    if (reachable) this.options.logger.info('Kafka reachable', { topics: Object.fromEntries([...this.partitionMetadata].map(([t, p]) => [t, p.length])) });
    else this.options.logger.warn('Kafka unreachable: answering 503 until it is back', { error: this.lastError });
    this.options.onReachable?.(reachable);
  }

  /** Disconnects the producer (after the batcher has flushed) and the probe's admin client. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.probeTimer !== undefined) clearTimeout(this.probeTimer);
    const admin = this.admin;
    this.admin = undefined;
    await Promise.all([this.options.producer.close(), admin ? withTimeout(admin.disconnect(), DISCONNECT_TIMEOUT_MS, 'admin disconnect').catch(noop) : undefined]);
  }
}
