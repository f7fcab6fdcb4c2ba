import cassandra from 'cassandra-driver';

/**
 * Turns DuckDB's row arrays (columns in the query's order) into statement parameters, in place:
 * the date columns, which the queries give as YYYY-MM-DD text, become CQL dates. A load writes
 * one date per table, so the last conversion is kept and reused rather than parsed per row.
 */
export function paramConverter(columns: readonly string[], dateColumns: readonly string[]): (row: unknown[]) => unknown[] {
  const dateIndexes = columns.flatMap((column, i) => (dateColumns.includes(column) ? [i] : []));
  let lastText: string | undefined;
  let lastDate: cassandra.types.LocalDate | undefined;
  const toDate = (value: unknown): cassandra.types.LocalDate => {
    const text = String(value);
    if (text !== lastText || lastDate === undefined) {
      lastDate = cassandra.types.LocalDate.fromString(text);
      lastText = text;
    }
    return lastDate;
  };
  if (dateIndexes.length === 0) return (row) => row;
  return (row) => {
    for (const i of dateIndexes) {
      const value = row[i];
      if (value !== null && value !== undefined) row[i] = toDate(value);
    }
    return row;
  };
}

/** The key of a row's partition from its partition-key columns, as one string. */
export function partitionKeyOf(columns: readonly string[], keyColumns: readonly string[]): (row: readonly unknown[]) => string {
  const indexes = keyColumns.map((column) => {
    const i = columns.indexOf(column);
    if (i < 0) throw new Error(`partition key column ${column} is not among the query's columns ${columns.join(', ')}`);
    return i;
  });
  if (indexes.length === 1) {
    const [only] = indexes as [number];
    return (row) => String(row[only]);
  }
  return (row) => JSON.stringify(indexes.map((i) => String(row[i])));
}

/**
 * How a column travels inside the JSON text of its row: as JSON knows it, or turned into what
 * cassandra-driver takes for the CQL type (BIGINT as decimal text, which it parses without loss;
 * a timestamp as epoch milliseconds; a date as YYYY-MM-DD).
 */
const JSON_COLUMN: Record<string, ((column: string) => string) | undefined> = {
  VARCHAR: (c) => c,
  'VARCHAR[]': (c) => c,
  BOOLEAN: (c) => c,
  TINYINT: (c) => c,
  SMALLINT: (c) => c,
  INTEGER: (c) => c,
  BIGINT: (c) => `CAST(${c} AS VARCHAR)`,
  // JSON has no NaN or infinities: those travel as text and come back as numbers (fromJson).
  DOUBLE: (c) => `CASE WHEN isfinite(${c}) OR ${c} IS NULL THEN to_json(${c}) ELSE to_json(CAST(${c} AS VARCHAR)) END`,
  FLOAT: (c) => `CASE WHEN isfinite(${c}) OR ${c} IS NULL THEN to_json(${c}) ELSE to_json(CAST(${c} AS VARCHAR)) END`,
  TIMESTAMP: (c) => `epoch_ms(${c})`,
  'TIMESTAMP WITH TIME ZONE': (c) => `epoch_ms(${c})`,
  DATE: (c) => `CAST(${c} AS VARCHAR)`,
};

const NON_FINITE: Record<string, number> = { nan: Number.NaN, '-nan': Number.NaN, inf: Number.POSITIVE_INFINITY, '-inf': Number.NEGATIVE_INFINITY };

export interface JsonRows {
  /** The query giving one VARCHAR per row: a JSON array of the row's values in column order. */
  sql: string;
  /** That text back as statement parameters. */
  fromJson: (text: string) => unknown[];
}

/**
 * The query's rows as one JSON text each, built by DuckDB: reading one string per row and
 * JSON.parse costs a third of what reading every value of a wide row through the DuckDB Node
 * API does. Undefined when a column has a type this does not carry (the caller reads rows as
 * values then).
 */
export function jsonRows(sql: string, columns: readonly string[], types: readonly string[]): JsonRows | undefined {
  const expressions: string[] = [];
  const floatIndexes: number[] = [];
  for (const [i, column] of columns.entries()) {
    const type = types[i] ?? '';
    const carry = JSON_COLUMN[type];
    if (!carry) return undefined;
    if (type === 'DOUBLE' || type === 'FLOAT') floatIndexes.push(i);
    expressions.push(carry(`"${column.replaceAll('"', '""')}"`));
  }
  const fromJson =
    floatIndexes.length === 0
      ? (text: string) => JSON.parse(text) as unknown[]
      : (text: string) => {
          const row = JSON.parse(text) as unknown[];
          for (const i of floatIndexes) {
            const value = row[i];
            if (typeof value === 'string') row[i] = NON_FINITE[value.toLowerCase()] ?? Number(value);
          }
          return row;
        };
  return { sql: `SELECT CAST(json_array(${expressions.join(', ')}) AS VARCHAR) FROM (${sql})`, fromJson };
}

/** A replica set's name: its hosts' addresses. */
export function replicaSetName(hosts: ReadonlyArray<{ address: string }>): string {
  return hosts.map((host) => host.address).join(',');
}

/**
 * The one replica set that owns every token range (one node, or every node holding every row),
 * so rows need no hashing to be grouped; undefined when ranges differ or are unknown.
 */
export function singleReplicaSet(rangeReplicas: ReadonlyArray<ReadonlyArray<{ address: string }> | null | undefined>): string | undefined {
  let only: string | undefined;
  for (const hosts of rangeReplicas) {
    if (!hosts || hosts.length === 0) return undefined;
    const name = replicaSetName(hosts);
    if (only !== undefined && name !== only) return undefined;
    only = name;
  }
  return only;
}
