import type cassandra from 'cassandra-driver';
import type { BatchLimits } from './batches.js';

/**
 * The batch thresholds of the cluster the load writes to (cassandra.yaml): a batch whose mutations
 * exceed `batch_size_warn_threshold` is logged as a warning on the server, one over
 * `batch_size_fail_threshold` is refused, and an unlogged batch spanning more partitions than
 * `unlogged_batch_across_partitions_warn_threshold` is warned about too.
 */
export interface BatchThresholds {
  warnBytes: number;
  failBytes: number;
  acrossPartitionsWarn: number;
}

/** Cassandra's own defaults, assumed when the cluster does not say (before 4.0, or no access). */
export const DEFAULT_THRESHOLDS: BatchThresholds = { warnBytes: 5 * 1024, failBytes: 50 * 1024, acrossPartitionsWarn: 10 };

/** The share of the warning threshold a batch's estimated size stays under (4,000 of 5 KiB). */
export const BUDGET_SHARE = 0.78125;

const UNITS: Record<string, number> = { b: 1, kib: 1024, kb: 1024, mib: 1024 ** 2, mb: 1024 ** 2, gib: 1024 ** 3, gb: 1024 ** 3 };

/** "5KiB", "64 KiB", "50KB", "1MiB" (system_views.settings) as bytes; a bare number is `bareUnit` bytes each. */
export function parseDataSize(text: string, bareUnit = 1): number | undefined {
  const match = /^\s*(\d+)\s*([A-Za-z]*)\s*$/.exec(text);
  if (!match) return undefined;
  const count = Number(match[1]);
  if (!match[2]) return count * bareUnit;
  const unit = UNITS[match[2].toLowerCase()];
  return unit === undefined ? undefined : count * unit;
}

/**
 * The thresholds from rows of system_views.settings (name, value). Cassandra 4.1+ names them
 * `batch_size_warn_threshold` ("5KiB"); 4.0 has only `batch_size_warn_threshold_in_kb` ("5").
 * What is missing or unreadable keeps its default.
 */
export function thresholdsFromSettings(rows: ReadonlyArray<{ name: string; value: string | null }>): BatchThresholds {
  const settings = new Map(rows.filter((r) => r.value !== null).map((r) => [r.name, r.value as string]));
  const size = (name: string, fallback: number): number => {
    const current = settings.get(name);
    const legacy = settings.get(`${name}_in_kb`);
    const bytes = (current === undefined ? undefined : parseDataSize(current)) ?? (legacy === undefined ? undefined : parseDataSize(legacy, 1024));
    return bytes !== undefined && bytes > 0 ? bytes : fallback;
  };
  const across = Number(settings.get('unlogged_batch_across_partitions_warn_threshold'));
  return {
    warnBytes: size('batch_size_warn_threshold', DEFAULT_THRESHOLDS.warnBytes),
    failBytes: size('batch_size_fail_threshold', DEFAULT_THRESHOLDS.failBytes),
    acrossPartitionsWarn: Number.isInteger(across) && across >= 1 ? across : DEFAULT_THRESHOLDS.acrossPartitionsWarn,
  };
}

const SETTING_NAMES = [
  'batch_size_warn_threshold',
  'batch_size_warn_threshold_in_kb',
  'batch_size_fail_threshold',
  'batch_size_fail_threshold_in_kb',
  'unlogged_batch_across_partitions_warn_threshold',
];

/** Reads the thresholds of the node that answers; Cassandra's defaults when it cannot tell. */
export async function readBatchThresholds(session: cassandra.Client): Promise<{ thresholds: BatchThresholds; fromCluster: boolean }> {
  try {
    const result = await session.execute(`SELECT name, value FROM system_views.settings WHERE name IN (${SETTING_NAMES.map(() => '?').join(', ')})`, SETTING_NAMES);
    const rows = result.rows.map((r) => ({ name: String(r.get('name')), value: r.get('value') as string | null }));
    return { thresholds: thresholdsFromSettings(rows), fromCluster: rows.length > 0 };
  } catch {
    return { thresholds: DEFAULT_THRESHOLDS, fromCluster: false };
  }
}

export interface BatchFlags {
  /** --batch-rows; absent: 100 rows in one partition, the across-partitions threshold across them. */
  batchRows?: number;
  /** --batch-bytes; absent: BUDGET_SHARE of the smaller of the warning and failure thresholds. */
  batchBytes?: number;
}

export const DEFAULT_PARTITION_ROWS = 100;

/**
 * Batch limits for rows of one partition and for rows spread over partitions (of one replica
 * set): the flags where given, else what keeps every batch clear of the cluster's warnings.
 */
export function batchLimitsFor(thresholds: BatchThresholds, flags: BatchFlags): { partition: BatchLimits; replicas: BatchLimits } {
  const maxBytes = flags.batchBytes ?? Math.max(100, Math.floor(Math.min(thresholds.warnBytes, thresholds.failBytes) * BUDGET_SHARE));
  return {
    partition: { maxRows: flags.batchRows ?? DEFAULT_PARTITION_ROWS, maxBytes, maxOpenGroups: 256 },
    replicas: { maxRows: flags.batchRows ?? thresholds.acrossPartitionsWarn, maxBytes, maxOpenGroups: 256 },
  };
}
