import { createHash } from 'node:crypto';
import { ident, literal } from '../lib/trino.js';
import { COLUMN_TYPES, columnNames, curatedTablePrefix, lakeTables, PARTITION_COLUMN, type Column } from '../lib/curated.js';

/** Where the lake's Trino tables are declared: a catalog (Trino's Hive connector) and a schema in it. */
export interface LakeTarget {
  catalog: string;
  schema: string;
  bucket: string;
  /** Where the curated/ folder is, when not at the root of the bucket (s3://<bucket>/). */
  locationRoot?: string;
}

export interface TableDefinition {
  table: string;
  /** The full name, quoted: "catalog"."schema"."table". */
  name: string;
  /** Names the definition's content, so a table declared from an older contract or bucket is told apart. */
  fingerprint: string;
  create: string;
}

/** The table comment that carries a definition's fingerprint. */
export function fingerprintComment(fingerprint: string): string {
  return `pinpipe curated contract ${fingerprint}`;
}

/**
 * The Trino table over one curated table: its contract columns (the partition column last, as
 * Hive requires, and not also as a data column: the day is in the object key), Parquet files
 * under curated/<table>/ of the bucket, partitioned by dt. External: dropping it never touches
 * the files.
 */
export function tableDefinition(target: LakeTarget, table: string, columns: readonly Column[]): TableDefinition {
  const name = [target.catalog, target.schema, table].map(ident).join('.');
  const data = columns.filter(([column]) => column !== PARTITION_COLUMN);
  const declared = [...data.map(([column, type]) => `${ident(column)} ${COLUMN_TYPES[type].trino}`), `${ident(PARTITION_COLUMN)} ${COLUMN_TYPES.date.trino}`];
  const location = `${target.locationRoot ?? `s3://${target.bucket}/`}${curatedTablePrefix(table)}`;
  const body = `(\n  ${declared.join(',\n  ')}\n)`;
  const properties = `WITH (external_location = ${literal(location)}, format = 'PARQUET', partitioned_by = ARRAY[${literal(PARTITION_COLUMN)}])`;
  const fingerprint = createHash('sha256').update(`${body}\n${properties}`).digest('hex').slice(0, 16);
  return { table, name, fingerprint, create: `CREATE TABLE ${name} ${body}\nCOMMENT ${literal(fingerprintComment(fingerprint))}\n${properties}` };
}

/** Every table of the curated contract, declared for Trino. */
export function lakeTableDefinitions(target: LakeTarget): TableDefinition[] {
  return lakeTables().map(({ table, columns }) => tableDefinition(target, table, columns));
}

/** Registers the partitions (days) found under the table's location and drops those whose files are gone. */
export function syncPartitionsSql(target: LakeTarget, table: string): string {
  return `CALL ${ident(target.catalog)}.system.sync_partition_metadata(schema_name => ${literal(target.schema)}, table_name => ${literal(table)}, mode => 'FULL')`;
}

/** Where stream-agg's tables are in Trino, and which group's windows the views show. */
export interface StreamTarget {
  catalog: string;
  schema: string;
  groupId: string;
}

export interface ViewDefinition {
  view: string;
  create: string;
  /** False for a history-plus-today view declared without its stream side (see historyPlusToday). */
  streamSide?: boolean;
}

/** stream-agg's window tables the history-plus-today views read. */
export const STREAM_WINDOW_TABLES = ['stream_agg_pin_window', 'stream_agg_geo_window', 'stream_agg_user_window'] as const;

/**
 * Views over the tables. post_history is every curated post once, on the first day it was
 * curated: a post that reappears on a later day (a duplicate that crossed midnight) counts once,
 * as in daily-transform's metrics over the history. The *_day views: history plus today (see
 * historyPlusToday).
 */
export function lakeViewDefinitions(target: LakeTarget, stream: StreamTarget, streamTables: ReadonlySet<string> = new Set(STREAM_WINDOW_TABLES)): ViewDefinition[] {
  const schema = `${ident(target.catalog)}.${ident(target.schema)}`;
  const columns = columnNames('posts').map(ident).join(', ');
  return [
    ...historyPlusToday(target, stream, streamTables),
    {
      view: 'post_history',
      create: `CREATE OR REPLACE VIEW ${schema}.${ident('post_history')} AS
SELECT ${columns} FROM (
  SELECT *, row_number() OVER (PARTITION BY unique_id ORDER BY dt) AS copy FROM ${schema}.${ident('posts')}
) WHERE copy = 1`,
    },
  ];
}

/**
 * Counts per day, history plus today: a day the lake holds comes from the lake (exact,
 * deduplicated by daily-transform), any later day from stream-agg's windows (provisional: open
 * windows count what they have so far), and `source` says which. A day is in the lake once its
 * partition is registered, and from then on the stream's rows of that day are left out, so no
 * day is counted from both. Days are UTC; the stream's by window start, the lake's by dt.
 * A view whose window table does not exist (stream-agg has never run against that schema) is
 * declared with the lake's side only, and gets its stream side on the first run after it exists.
 */
function historyPlusToday(target: LakeTarget, stream: StreamTarget, streamTables: ReadonlySet<string>): ViewDefinition[] {
  const lake = (table: string) => `${ident(target.catalog)}.${ident(target.schema)}.${ident(table)}`;
  const streamTable = (table: string) => `${ident(stream.catalog)}.${ident(stream.schema)}.${ident(table)}`;
  const streamDay = "CAST(CAST(window_start AT TIME ZONE 'UTC' AS timestamp(3)) AS date)";
  const view = (name: string, key: string, lakeTable: string, lakeKey: string, lakeWhere: string, windowTable: string, measure: string, count: string): ViewDefinition => {
    const lakeSide = `SELECT dt, ${lakeKey} AS ${key}, count(*) AS ${count}, 'lake' AS source
FROM ${lake(lakeTable)} WHERE ${lakeWhere} GROUP BY 1, 2`;
    const streamSide = `SELECT ${streamDay} AS dt, ${key}, sum(${measure}) AS ${count}, 'stream' AS source
FROM ${streamTable(windowTable)}
WHERE group_id = ${literal(stream.groupId)} AND ${streamDay} NOT IN (SELECT dt FROM ${lake(`${lakeTable}$partitions`)})
GROUP BY 1, 2`;
    const withStream = streamTables.has(windowTable);
    return { view: name, streamSide: withStream, create: `CREATE OR REPLACE VIEW ${lake(name)} AS\n${withStream ? `${lakeSide}\nUNION ALL\n${streamSide}` : lakeSide}` };
  };
  const ageGroup = `CASE WHEN age IS NULL THEN 'unknown' WHEN age < 18 THEN 'under 18' WHEN age <= 24 THEN '18-24'
  WHEN age <= 35 THEN '25-35' WHEN age <= 50 THEN '36-50' ELSE '50+' END`;
  return [
    // Pins per category: the stream's pin windows count pins, so the lake's side counts curated pins too.
    view('posts_per_category_day', 'category', 'pins', 'category', "trim(category) <> ''", 'stream_agg_pin_window', 'posts', 'posts'),
    view('events_per_country_day', 'country', 'geo', 'country', "trim(country) <> ''", 'stream_agg_geo_window', 'events', 'events'),
    // The stream files a user without an age under 'unknown'; so does the lake's side.
    view('events_per_age_group_day', 'age_group', 'users', ageGroup, 'true', 'stream_agg_user_window', 'events', 'events'),
  ];
}
