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
