/**
 * Groups rows into unlogged batches that Cassandra applies cheaply: every row of a batch goes to
 * the same group (one partition, or one replica set), and a batch stays under a row count and an
 * estimated size, so it never trips the server's batch-size warning (5 KiB by default).
 */
export interface BatchLimits {
  maxRows: number;
  maxBytes: number;
  /** Open groups kept before all are flushed, so memory stays bounded whatever the spread. */
  maxOpenGroups: number;
}

export const DEFAULT_BATCH_LIMITS: BatchLimits = { maxRows: 20, maxBytes: 4000, maxOpenGroups: 256 };

interface OpenBatch<T> {
  items: T[];
  bytes: number;
}

export class RowBatcher<T> {
  private readonly open = new Map<string, OpenBatch<T>>();

  constructor(private readonly limits: BatchLimits = DEFAULT_BATCH_LIMITS) {
    if (limits.maxRows < 1 || limits.maxBytes < 1 || limits.maxOpenGroups < 1) throw new RangeError('batch limits must be at least 1');
  }

  /** Adds one row of `bytes` estimated size; returns the batches that are complete now. */
  add(group: string, item: T, bytes: number): T[][] {
    const done: T[][] = [];
    let batch = this.open.get(group);
    // A row that would push the batch over the byte budget starts a new one; a single row larger
    // than the budget still goes, alone.
    if (batch && batch.bytes + bytes > this.limits.maxBytes) {
      done.push(batch.items);
      batch = undefined;
      this.open.delete(group);
    }
    if (!batch) {
      if (this.open.size >= this.limits.maxOpenGroups) done.push(...this.finish());
      batch = { items: [], bytes: 0 };
      this.open.set(group, batch);
    }
    batch.items.push(item);
    batch.bytes += bytes;
    if (batch.items.length >= this.limits.maxRows || batch.bytes >= this.limits.maxBytes) {
      done.push(batch.items);
      this.open.delete(group);
    }
    return done;
  }

  /** Every batch still open, emptied. */
  finish(): T[][] {
    const rest = [...this.open.values()].map((b) => b.items);
    this.open.clear();
    return rest;
  }
}

/** Bytes Cassandra counts per cell of a mutation (timestamp, TTL, local deletion time). */
const CELL_OVERHEAD = 16;
/** A list element is a cell of its own, whose path is a 16-byte time UUID. */
const LIST_ELEMENT_OVERHEAD = CELL_OVERHEAD + 16;

/**
 * A cheap estimate of a row's size in the mutation Cassandra checks against its batch thresholds
 * (PartitionUpdate.dataSize: per cell its overhead and value; a null is a tombstone cell).
 * Text counts one byte per UTF-16 unit, so text beyond ASCII is under-counted: the budget keeps
 * a margin for it (thresholds.ts BUDGET_SHARE).
 */
export function estimateBytes(values: readonly unknown[]): number {
  let bytes = 0;
  for (const value of values) {
    bytes += CELL_OVERHEAD;
    if (typeof value === 'string') bytes += value.length;
    else if (Array.isArray(value)) {
      for (const item of value) bytes += LIST_ELEMENT_OVERHEAD + (typeof item === 'string' ? item.length : 8);
    } else if (value !== null && value !== undefined) bytes += 8;
  }
  return bytes;
}
