import { DuckDBInstance } from '@duckdb/node-api';

function plain(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

/** Rows of a Parquet file as plain values: integers as numbers, timestamps as ISO strings. */
export async function readParquet(path: string, sql = 'SELECT * FROM t'): Promise<Array<Record<string, unknown>>> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    await connection.run(`CREATE VIEW t AS SELECT * FROM read_parquet('${path.replace(/'/g, "''")}')`);
    const reader = await connection.runAndReadAll(sql);
    return reader.getRowObjectsJS().map((r) => plain(r) as Record<string, unknown>);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}
