import { BasicAuth, Trino, type QueryError } from 'trino-client';
import type { TrinoOptions } from './config.js';
import { DependencyError, PinpipeError } from './errors.js';

/** Trino's error types that a retry can cure: the cluster was short of something, or a source it reads was. */
const RETRYABLE_ERROR_TYPES = new Set(['INSUFFICIENT_RESOURCES', 'EXTERNAL']);

/** A query Trino ran and failed, with Trino's own error name and message. */
export class TrinoQueryError extends PinpipeError {
  readonly errorName: string;

  constructor(error: QueryError, sql: string) {
    const text = `Trino failed the query with ${error.errorName}: ${error.message} (query: ${sql.replace(/\s+/g, ' ').slice(0, 200)})`;
    super(RETRYABLE_ERROR_TYPES.has(error.errorType) ? 'PINPIPE_DEPENDENCY_UNAVAILABLE' : 'PINPIPE_INTERNAL', text);
    this.errorName = error.errorName;
  }
}

/** Trino's answer to a name that does not exist: its catalog, its schema or the table. */
const MISSING_OBJECT = new Set(['CATALOG_NOT_FOUND', 'SCHEMA_NOT_FOUND', 'TABLE_NOT_FOUND']);

/** Whether Trino failed a query because a catalog, schema or table it names is not there. */
export function isMissingObject(error: unknown): error is TrinoQueryError {
  return error instanceof TrinoQueryError && MISSING_OBJECT.has(error.errorName);
}

/** The few calls pinpipe makes to Trino: a statement in, its rows out as objects keyed by column. */
export class TrinoClient {
  private readonly client: Trino;

  constructor(private readonly options: TrinoOptions) {
    this.client = Trino.create({
      server: options.trinoUrl,
      source: 'pinpipe',
      auth: new BasicAuth(options.trinoUser, options.trinoPassword || undefined),
    });
  }

  async query<T = Record<string, unknown>>(sql: string): Promise<T[]> {
    const rows: T[] = [];
    let columns: string[] | undefined;
    try {
      for await (const page of await this.client.query(sql)) {
        if (page.error) throw new TrinoQueryError(page.error, sql);
        columns ??= page.columns?.map((c) => c.name);
        for (const values of page.data ?? []) {
          rows.push(Object.fromEntries((columns ?? []).map((name, i) => [name, values[i]])) as T);
        }
      }
    } catch (error) {
      if (error instanceof PinpipeError) throw error;
      throw new DependencyError(`Trino at ${this.options.trinoUrl} did not answer: ${describe(error)}`, { cause: error });
    }
    return rows;
  }
}

function describe(error: unknown): string {
  const { code, message } = error as { code?: string; message?: string };
  return [code, message].filter(Boolean).join(' ') || String(error);
}

/** The tables of a Hive-connector schema that have no partition dt = date (lake-tables and reconcile both ask). */
export async function tablesWithoutDay(trino: TrinoClient, catalog: string, schema: string, tables: readonly string[], date: string): Promise<string[]> {
  const missing: string[] = [];
  for (const table of tables) {
    const rows = await trino.query(`SELECT 1 FROM ${ident(catalog)}.${ident(schema)}.${ident(`${table}$partitions`)} WHERE dt = DATE ${literal(date)}`);
    if (rows.length === 0) missing.push(table);
  }
  return missing;
}

/** A SQL identifier for Trino, quoted (names come from settings and the contract; quoting keeps any name safe). */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A SQL string literal for Trino. */
export function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}
