import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';

export interface DuckDbSettings {
  memoryLimit: string;
  threads: number;
  /** Where DuckDB spills when a day does not fit in memory_limit. */
  spillDir: string;
}

export interface DuckDb {
  connection: DuckDBConnection;
  /** Another connection to the same database, for work that can run beside the first one's. */
  connect(): Promise<DuckDBConnection>;
  /** Stops whatever every connection is running (SIGTERM). */
  interrupt(): void;
  close(): void;
}

/** Raw times without a zone are UTC; TIMESTAMPTZ casts must not depend on the host's zone. */
async function utcConnection(instance: DuckDBInstance): Promise<DuckDBConnection> {
  const connection = await instance.connect();
  await connection.run("SET TimeZone = 'UTC'");
  return connection;
}

/** An in-memory DuckDB bounded by memory_limit, spilling to spillDir, in UTC. */
export async function openDuckDb(settings: DuckDbSettings): Promise<DuckDb> {
  const instance = await DuckDBInstance.create(':memory:', {
    memory_limit: settings.memoryLimit,
    threads: String(settings.threads),
    temp_directory: settings.spillDir,
    // Output order must follow ORDER BY exactly, so reruns give identical files.
    preserve_insertion_order: 'true',
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'true',
    // A LEFT JOIN builds its hash table on the side written on the right. DuckDB would otherwise
    // flip the pin stage's joins when it underestimates the raw files, hashing the day's widest
    // rows instead of geo and users (several times the memory, and a spill).
    disabled_optimizers: 'build_side_probe_side',
  });
  const connections = [await utcConnection(instance)];
  return {
    connection: connections[0] as DuckDBConnection,
    async connect() {
      const connection = await utcConnection(instance);
      connections.push(connection);
      return connection;
    },
    interrupt() {
      for (const connection of connections) connection.interrupt();
    },
    close() {
      for (const connection of connections) connection.closeSync();
      instance.closeSync();
    },
  };
}

export async function run(connection: DuckDBConnection, sql: string): Promise<void> {
  await connection.run(sql);
}

/** Rows as plain JSON values (BIGINT as number when safe, else string; timestamps as text). */
export async function rows<T = Record<string, unknown>>(connection: DuckDBConnection, sql: string): Promise<T[]> {
  const reader = await connection.runAndReadAll(sql);
  return reader.getRowObjectsJson() as unknown as T[];
}

export async function scalar(connection: DuckDBConnection, sql: string): Promise<number> {
  const reader = await connection.runAndReadAll(sql);
  const value = reader.getRows()[0]?.[0];
  return Number(value ?? 0);
}

export function createTableSql(name: string, select: string): string {
  return `CREATE OR REPLACE TABLE ${name} AS ${select}`;
}

/** A SQL string literal. */
export function quote(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}
