import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { ConfigError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { projectRoot } from '../lib/paths.js';

/** Versioned SQL files: V001__windows_offsets_late_events.sql, V002__….sql, applied in version order. */
export const MIGRATION_FILE = /^V(\d{3,})__([A-Za-z0-9_-]+)\.sql$/;

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
  const names = (await readdir(dir)).filter((n) => n.endsWith('.sql'));
  const migrations: Migration[] = [];
  for (const file of names) {
    const m = MIGRATION_FILE.exec(file);
    if (!m) throw new ConfigError(`schema file ${file} is not named V<version>__<name>.sql`);
    const sql = await readFile(join(dir, file), 'utf8');
    migrations.push({ version: Number(m[1]), name: m[2] as string, file, checksum: createHash('sha256').update(sql).digest('hex'), sql });
  }
  migrations.sort((a, b) => a.version - b.version);
  const versions = migrations.map((m) => m.version);
  const repeated = versions.find((v, i) => versions.indexOf(v) !== i);
  if (repeated !== undefined) throw new ConfigError(`two schema files share version ${repeated}`);
  return migrations;
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
