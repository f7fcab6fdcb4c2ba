import type { KafkaMessage, OutgoingRecord, PartitionOffset, StoredRecord } from './types.js';

/**
 * Sends one micro-batch: a single Kafka produce request for all its records, which keep their
 * order inside each topic-partition. Answers one base offset per topic-partition.
 */
export type SendBatch = (messages: KafkaMessage[]) => Promise<PartitionOffset[]>;

export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  now(): number;
}

const realTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  now: () => performance.now(),
};

export interface BatchOutcome {
  records: number;
  bytes: number;
  seconds: number;
  ok: boolean;
}

export interface BatcherOptions {
  send: SendBatch;
  /** Records queued or in flight, at most; beyond it submit() fails with QueueFullError. */
  maxQueuedRecords: number;
  /** Records per produce request, at most (one request's records may span several batches). */
  maxBatchRecords: number;
  /** Bytes per topic-partition per request: Kafka refuses a record batch over message.max.bytes. */
  maxPartitionBytes: number;
  /** Bytes per produce request, at most. */
  maxBatchBytes: number;
  /** How long an idle batcher waits for more records before sending the first ones. */
  lingerMs: number;
  timers?: Timers;
  onBatch?: (outcome: BatchOutcome) => void;
  onDepth?: (depth: number) => void;
}

/** The bound on queued records is reached: the caller should answer 503 with Retry-After. */
export class QueueFullError extends Error {
  constructor(
    readonly depth: number,
    readonly limit: number,
  ) {
    super(`ingest holds ${depth} records not yet stored in Kafka (limit ${limit})`);
    this.name = 'QueueFullError';
  }
}

/** submit() after close(): the service is stopping. */
export class BatcherClosedError extends Error {
  constructor() {
    super('ingest is shutting down');
    this.name = 'BatcherClosedError';
  }
}

interface Ticket {
  records: readonly OutgoingRecord[];
  /** Index of the first record not yet taken into a batch. */
  next: number;
  results: StoredRecord[];
  stored: number;
  done: boolean;
  resolve(stored: StoredRecord[]): void;
  reject(error: unknown): void;
}

/** Records [from, to) of one ticket inside a batch. */
interface Slice {
  ticket: Ticket;
  from: number;
  to: number;
}

/**
 * Collects the records of all concurrent requests into shared micro-batches, one produce request
 * in flight at a time (the idempotent producer allows no more per broker anyway); while it is in
 * flight the next batch fills up, so batches grow with load. A request's promise resolves only
 * once every one of its records is stored, with each record's partition and offset: the broker
 * answers one base offset per topic-partition, and records keep their order inside a
 * topic-partition of a request, so a record's offset is baseOffset + its index there.
 * A failed batch fails every request with records in it, and their records still waiting are
 * dropped from the queue: nothing is acknowledged that Kafka did not store.
 */
export class MicroBatcher {
  private readonly queue: Ticket[] = [];
  /** Records waiting, not yet taken into a batch. */
  private queued = 0;
  /** Records in the batch being sent. */
  private sending = 0;
  private inFlight: Promise<void> | undefined;
  private timer: unknown;
  private closing = false;
  private readonly timers: Timers;

  constructor(private readonly options: BatcherOptions) {
    this.timers = options.timers ?? realTimers;
  }

  /** Records queued or in flight. */
  get depth(): number {
    return this.queued + this.sending;
  }

  get capacity(): number {
    return this.options.maxQueuedRecords;
  }

  /** Resolves with where each record was stored, in the order given. */
  submit(records: readonly OutgoingRecord[]): Promise<StoredRecord[]> {
    if (this.closing) return Promise.reject(new BatcherClosedError());
    if (records.length === 0) return Promise.resolve([]);
    if (this.depth + records.length > this.options.maxQueuedRecords) {
      return Promise.reject(new QueueFullError(this.depth, this.options.maxQueuedRecords));
    }
    return new Promise<StoredRecord[]>((resolve, reject) => {
      this.queue.push({ records, next: 0, results: new Array<StoredRecord>(records.length), stored: 0, done: false, resolve, reject });
      this.queued += records.length;
      this.options.onDepth?.(this.depth);
      this.schedule();
    });
  }

  /** Stops taking records and sends everything queued; resolves once nothing is left. */
  async close(): Promise<void> {
    this.closing = true;
    while (this.inFlight !== undefined || this.queue.length > 0) {
      if (this.inFlight === undefined) this.flush();
      await this.inFlight;
    }
  }

  private schedule(): void {
    if (this.inFlight !== undefined || this.queue.length === 0) return;
    if (this.closing || this.queued >= this.options.maxBatchRecords) {
      this.flush();
    } else if (this.timer === undefined) {
      this.timer = this.timers.setTimeout(() => {
        this.timer = undefined;
        this.flush();
      }, this.options.lingerMs);
    }
  }

  private flush(): void {
    if (this.timer !== undefined) {
      this.timers.clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.inFlight !== undefined || this.queue.length === 0) return;
    const { slices, count, bytes, partitionKeys } = this.take();
    this.queued -= count;
    this.sending = count;
    this.inFlight = this.sendSlices(slices, count, bytes, partitionKeys).finally(() => {
      this.sending = 0;
      this.inFlight = undefined;
      this.options.onDepth?.(this.depth);
      // Whatever arrived meanwhile has waited long enough: send it now.
      if (this.queue.length > 0) this.flush();
    });
  }

  /** Takes records from the head of the queue, in order, until a limit would be passed. */
  private take(): { slices: Slice[]; count: number; bytes: number; partitionKeys: string[] } {
    const { maxBatchRecords, maxBatchBytes, maxPartitionBytes } = this.options;
    const slices: Slice[] = [];
    const partitionBytes = new Map<string, number>();
    const partitionKeys: string[] = [];
    let count = 0;
    let bytes = 0;
    while (this.queue.length > 0) {
      const ticket = this.queue[0] as Ticket;
      const from = ticket.next;
      let full = false;
      while (ticket.next < ticket.records.length) {
        const record = ticket.records[ticket.next] as OutgoingRecord;
        const key = `${record.topic}\u0000${record.partition}`;
        const inPartition = partitionBytes.get(key) ?? 0;
        // The first record always goes, and a partition's first record too: a single record
        // was checked against --max-record-bytes already.
        const fits = count === 0 || (count < maxBatchRecords && bytes + record.bytes <= maxBatchBytes && (inPartition === 0 || inPartition + record.bytes <= maxPartitionBytes));
        if (!fits) {
          full = true;
          break;
        }
        partitionBytes.set(key, inPartition + record.bytes);
        partitionKeys.push(key);
        count += 1;
        bytes += record.bytes;
        ticket.next += 1;
      }
      if (ticket.next > from) slices.push({ ticket, from, to: ticket.next });
      if (full) break;
      this.queue.shift();
    }
    return { slices, count, bytes, partitionKeys };
  }

  private async sendSlices(slices: Slice[], count: number, bytes: number, partitionKeys: string[]): Promise<void> {
    // Records in queue order, and each record's index inside its topic-partition.
    const messages = new Array<KafkaMessage>(count);
    const positions = new Array<number>(count);
    const counters = new Map<string, number>();
    let k = 0;
    for (const { ticket, from, to } of slices) {
      for (let i = from; i < to; i += 1) {
        messages[k] = (ticket.records[i] as OutgoingRecord).message;
        const key = partitionKeys[k] as string;
        const position = counters.get(key) ?? 0;
        counters.set(key, position + 1);
        positions[k] = position;
        k += 1;
      }
    }

    const started = this.timers.now();
    let offsets: PartitionOffset[];
    try {
      offsets = await this.options.send(messages);
    } catch (error) {
      this.options.onBatch?.({ records: count, bytes, seconds: (this.timers.now() - started) / 1000, ok: false });
      for (const { ticket } of slices) this.fail(ticket, error);
      return;
    }
    this.options.onBatch?.({ records: count, bytes, seconds: (this.timers.now() - started) / 1000, ok: true });

    const baseOffsets = new Map<string, bigint>();
    for (const o of offsets) baseOffsets.set(`${o.topic}\u0000${o.partition}`, o.baseOffset);
    k = 0;
    for (const { ticket, from, to } of slices) {
      for (let i = from; i < to; i += 1, k += 1) {
        if (ticket.done) continue;
        const record = ticket.records[i] as OutgoingRecord;
        const base = baseOffsets.get(partitionKeys[k] as string);
        if (base === undefined || base < 0n) {
          this.fail(ticket, new Error(`Kafka reported no offset for ${record.topic}[${record.partition}]`));
          continue;
        }
        ticket.results[i] = { eventId: record.eventId, topic: record.topic, partition: record.partition, offset: (base + BigInt(positions[k] as number)).toString() };
        ticket.stored += 1;
      }
      if (!ticket.done && ticket.stored === ticket.records.length) {
        ticket.done = true;
        ticket.resolve(ticket.results);
      }
    }
  }

  private fail(ticket: Ticket, error: unknown): void {
    if (ticket.done) return;
    ticket.done = true;
    const index = this.queue.indexOf(ticket);
    if (index !== -1) {
      this.queue.splice(index, 1);
      this.queued -= ticket.records.length - ticket.next;
    }
    ticket.reject(error);
  }
}
