import { join } from 'node:path';
import type pg from 'pg';
import { ConfigError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { loadSchemaFiles } from '../lib/migrations.js';
import { projectRoot } from '../lib/paths.js';

export interface Migration {
  version: number;
  name: string;
  file: string;
  checksum: string;
  sql: string;
}

export function schemaDir(): string {
  return join(projectRoot(), 'jobs', 'stream-agg', 'schema');
}

export async function loadMigrations(dir: string = schemaDir()): Promise<Migration[]> {
  return (await loadSchemaFiles(dir, 'sql')).map(({ text, ...file }) => ({ ...file, sql: text }));
}

/** An arbitrary constant: the advisory lock that serialises migrations of concurrent starts. */
const MIGRATION_LOCK = 5_705_001;

/**
 * Applies the migrations not yet recorded in stream_agg_schema_migrations, each in its own
 * transaction together with its record, so a file is applied entirely or not at all. PostgreSQL
 * DDL is transactional, which Cassandra's is not. Several instances starting at once take turns
 * on an advisory lock. A recorded file whose text changed is refused.
 */
export async function migrate(pool: pg.Pool, migrations: readonly Migration[], logger: Logger): Promise<number[]> {
  const client = await pool.connect();
  const done: number[] = [];
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS stream_agg_schema_migrations (
      version int PRIMARY KEY, name text NOT NULL, file text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    for (const migration of migrations) {
      await client.query('BEGIN');
      try {
        await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
        const recorded = await client.query<{ checksum: string }>('SELECT checksum FROM stream_agg_schema_migrations WHERE version = $1', [migration.version]);
        const row = recorded.rows[0];
        if (row) {
          await client.query('ROLLBACK');
          if (row.checksum !== migration.checksum) {
            throw new ConfigError(`schema file ${migration.file} changed after it was applied; add a new V<version>__….sql file instead of editing it`);
          }
          continue;
        }
        await client.query(migration.sql);
        await client.query('INSERT INTO stream_agg_schema_migrations (version, name, file, checksum) VALUES ($1, $2, $3, $4)', [
          migration.version,
          migration.name,
          migration.file,
          migration.checksum,
        ]);
        await client.query('COMMIT');
        done.push(migration.version);
        logger.info('schema migration applied', { version: migration.version, file: migration.file });
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    }
  } finally {
    client.release();
  }
  return done;
}
