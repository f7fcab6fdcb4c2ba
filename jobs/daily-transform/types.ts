import type { RecordType } from '../lib/contracts.js';

export interface RejectedSample {
  type: RecordType;
  object: string;
  offset: number | null;
  reason: string;
  line: string;
}

export interface TableStats {
  /** Accepted lines (for pins, geo, users) or joined rows (posts) before duplicates are dropped. */
  rows_in: number;
  rows_out: number;
  duplicates_dropped: number;
}

/** What the transform measured; the quality report adds the verdict. */
export interface TransformStats {
  input: {
    objects: Record<RecordType, number>;
    lines: Record<RecordType, number>;
    /** How each topic was read: `fast` (NDJSON reader) or `robust` (line by line, after a malformed line stopped the fast reader). */
    read_mode: Record<RecordType, 'fast' | 'robust'>;
    /** What stopped the fast reader, per topic read line by line. */
    fast_read_error?: Partial<Record<RecordType, string>>;
  };
  rejected: {
    total: number;
    by_type: Record<RecordType, number>;
    by_reason: Record<string, number>;
    samples: RejectedSample[];
  };
  tables: Record<string, TableStats>;
  joins: { pins_without_geo: number; pins_without_user: number };
  placeholders_replaced: Record<string, number>;
  invalid_values_nulled: Record<string, number>;
  metrics: { history_days: number; history_posts: number; rows: Record<string, number> };
}

export interface TransformOutput {
  /** Curated table name (pins, …, metrics_<name>) → local Parquet file. */
  files: Record<string, string>;
  stats: TransformStats;
}
