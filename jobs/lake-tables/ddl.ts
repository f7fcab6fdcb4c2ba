import { createHash } from 'node:crypto';
import { ident, literal } from '../lib/trino.js';
import { COLUMN_TYPES, columnNames, curatedTablePrefix, lakeTables, PARTITION_COLUMN, type Column } from '../lib/curated.js';

/** Where the lake's Trino tables are declared: a catalog (Trino's Hive connector) and a schema in it. */
export interface LakeTarget {
  catalog: string;
  schema: string;
  bucket: string;
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
  const location = `s3://${target.bucket}/${curatedTablePrefix(table)}`;
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

export interface ViewDefinition {
  view: string;
  create: string;
}

/**
 * Views over the tables. post_history is every curated post once, on the first day it was
 * curated: a post that reappears on a later day (a duplicate that crossed midnight) counts once,
 * as in daily-transform's metrics over the history.
 */
export function lakeViewDefinitions(target: LakeTarget): ViewDefinition[] {
  const schema = `${ident(target.catalog)}.${ident(target.schema)}`;
  const columns = columnNames('posts').map(ident).join(', ');
  return [
    {
      view: 'post_history',
      create: `CREATE OR REPLACE VIEW ${schema}.${ident('post_history')} AS
SELECT ${columns} FROM (
  SELECT *, row_number() OVER (PARTITION BY unique_id ORDER BY dt) AS copy FROM ${schema}.${ident('posts')}
) WHERE copy = 1`,
    },
  ];
}
