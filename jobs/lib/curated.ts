/**
 * The curated lake's contract: its tables, their columns and types, how they are partitioned and
 * where their files are. daily-transform writes it, cassandra-load reads it, and the lake's Trino
 * tables are declared from it; each reads this one definition, so they cannot drift apart.
 */
import { curatedPartitionPrefix, LAKE_PREFIXES } from './lake.js';

/** A column's type, named once and spelt for each engine that reads or writes it. */
export const COLUMN_TYPES = {
  bigint: { duckdb: 'BIGINT', trino: 'bigint' },
  integer: { duckdb: 'INTEGER', trino: 'integer' },
  double: { duckdb: 'DOUBLE', trino: 'double' },
  boolean: { duckdb: 'BOOLEAN', trino: 'boolean' },
  varchar: { duckdb: 'VARCHAR', trino: 'varchar' },
  // DuckDB writes microseconds without a zone; Trino's Hive connector reads them as timestamp(3) by default.
  timestamp: { duckdb: 'TIMESTAMP', trino: 'timestamp(3)' },
  date: { duckdb: 'DATE', trino: 'date' },
  'varchar[]': { duckdb: 'VARCHAR[]', trino: 'array(varchar)' },
  'double[]': { duckdb: 'DOUBLE[]', trino: 'array(double)' },
} as const;
export type ColumnType = keyof typeof COLUMN_TYPES;
export type Column = readonly [name: string, type: ColumnType];

const PIN_COLUMNS = [
  ['ind', 'bigint'],
  ['unique_id', 'varchar'],
  ['title', 'varchar'],
  ['description', 'varchar'],
  ['poster_name', 'varchar'],
  ['follower_count', 'bigint'],
  ['tag_list', 'varchar[]'],
  ['media_type', 'varchar'],
  ['story_format', 'boolean'],
  ['image_src', 'varchar'],
  ['downloaded', 'boolean'],
  ['save_location', 'varchar'],
  ['category', 'varchar'],
  // When the pin was posted: its Kafka time, which ingest sets on receipt; stream-agg's pin windows are by it.
  ['posted_at', 'timestamp'],
] as const satisfies readonly Column[];
const GEO_COLUMNS = [
  ['ind', 'bigint'],
  ['event_time', 'timestamp'],
  ['latitude', 'double'],
  ['longitude', 'double'],
  ['coordinates', 'double[]'],
  ['country', 'varchar'],
] as const satisfies readonly Column[];
const USER_COLUMNS = [
  ['ind', 'bigint'],
  ['user_name', 'varchar'],
  ['age', 'integer'],
  ['date_joined', 'timestamp'],
] as const satisfies readonly Column[];

/**
 * Curated columns per table, in file order, and the total order each file is sorted by. A post is
 * a pin with its geo and user columns (all but their ind) and the day; the day is also the
 * partition of every table (`dt=` in the object key).
 */
export const CURATED_TABLES = {
  pins: { columns: PIN_COLUMNS, orderBy: 'ind, unique_id' },
  geo: { columns: GEO_COLUMNS, orderBy: 'ind' },
  users: { columns: USER_COLUMNS, orderBy: 'ind' },
  posts: {
    columns: [...PIN_COLUMNS, ...GEO_COLUMNS.slice(1), ...USER_COLUMNS.slice(1), ['dt', 'date']] as const satisfies readonly Column[],
    orderBy: 'ind, unique_id',
  },
} as const;
export type CuratedTable = keyof typeof CURATED_TABLES;
export const CURATED_TABLE_NAMES = Object.keys(CURATED_TABLES) as CuratedTable[];

/**
 * The metric tables daily-transform computes over the curated history up to day D, one file per
 * day (each day's file is the whole answer as of that day), and their columns.
 */
export const METRIC_TABLES = {
  popular_category_by_country: [['country', 'varchar'], ['category', 'varchar'], ['category_count', 'bigint']],
  posts_per_category_year: [['post_year', 'integer'], ['category', 'varchar'], ['category_count', 'bigint']],
  most_followed_by_country: [['country', 'varchar'], ['poster_name', 'varchar'], ['follower_count', 'bigint']],
  popular_category_by_age_group: [['age_group', 'varchar'], ['category', 'varchar'], ['category_count', 'bigint']],
  median_followers_by_age_group: [['age_group', 'varchar'], ['median_follower_count', 'double'], ['post_count', 'bigint']],
  median_followers_by_join_year: [['join_year', 'integer'], ['median_follower_count', 'double'], ['post_count', 'bigint']],
  median_followers_by_age_group_join_year: [['age_group', 'varchar'], ['join_year', 'integer'], ['median_follower_count', 'double'], ['post_count', 'bigint']],
  users_joined_per_year: [['join_year', 'integer'], ['users_joined', 'bigint']],
} as const satisfies Record<string, readonly Column[]>;
export type MetricName = keyof typeof METRIC_TABLES;
export const METRIC_NAMES = Object.keys(METRIC_TABLES) as MetricName[];

/** The lake table a metric is written to. */
export function metricTable(name: string): string {
  return `metrics_${name}`;
}

/** Every table of the curated area with its columns: the four curated tables and the metric tables. */
export function lakeTables(): Array<{ table: string; columns: readonly Column[] }> {
  return [
    ...CURATED_TABLE_NAMES.map((table) => ({ table, columns: CURATED_TABLES[table].columns as readonly Column[] })),
    ...METRIC_NAMES.map((name) => ({ table: metricTable(name), columns: METRIC_TABLES[name] as readonly Column[] })),
  ];
}

/** The partition column every curated table has in its object keys. */
export const PARTITION_COLUMN = 'dt';

export function columnNames(table: CuratedTable): string[] {
  return CURATED_TABLES[table].columns.map(([name]) => name);
}

/** The one file of a curated table for a day. */
export const PART_FILE = 'part-0.parquet';

export function curatedObjectKey(table: string, date: string): string {
  return `${curatedPartitionPrefix(table, date)}${PART_FILE}`;
}

/** Where a table's days are, as a prefix of the bucket: `curated/<table>/`. */
export function curatedTablePrefix(table: string): string {
  return `${LAKE_PREFIXES.curated}/${table}/`;
}
