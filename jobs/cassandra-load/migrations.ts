import { join } from 'node:path';
import type cassandra from 'cassandra-driver';
import { ConfigError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { loadSchemaFiles } from '../lib/migrations.js';
import { projectRoot } from '../lib/paths.js';

export interface Migration {
  version: number;
  name: string;
  file: string;
  checksum: string;
  statements: string[];
}

export function schemaDir(): string {
  return join(projectRoot(), 'jobs', 'cassandra-load', 'schema');
}

/** Splits a CQL file into statements: `--` and `//` comment lines dropped, split on ";" at a line end. */
export function splitCql(text: string): string[] {
  const body = text
    .split('\n')
    .filter((line) => !/^\s*(--|\/\/)/.test(line))
    .join('\n');
  return body
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export async function loadMigrations(dir: string = schemaDir()): Promise<Migration[]> {
  return (await loadSchemaFiles(dir, 'cql')).map(({ text, ...file }) => ({ ...file, statements: splitCql(text) }));
}

const MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version int PRIMARY KEY, name text, file text, checksum text, applied_at timestamp)`;

/**
 * Applies the migrations not yet recorded in schema_migrations, in order, recording each after
 * its statements succeeded. Statements are idempotent (IF NOT EXISTS), so a run that died half
 * way simply applies the file again. A recorded file whose text changed is refused.
 */
export async function migrate(client: cassandra.Client, migrations: readonly Migration[], logger: Logger): Promise<number[]> {
  await client.execute(MIGRATIONS_TABLE);
  const applied = new Map<number, string>();
  for (const row of (await client.execute('SELECT version, checksum FROM schema_migrations')).rows) {
    applied.set(Number(row.version), String(row.checksum));
  }
  const done: number[] = [];
  for (const migration of migrations) {
    const recorded = applied.get(migration.version);
    if (recorded !== undefined) {
      if (recorded !== migration.checksum) {
        throw new ConfigError(`schema file ${migration.file} changed after it was applied; add a new V<version>__….cql file instead of editing it`);
      }
      continue;
    }
    for (const statement of migration.statements) await client.execute(statement);
    await client.execute(
      'INSERT INTO schema_migrations (version, name, file, checksum, applied_at) VALUES (?, ?, ?, ?, toTimestamp(now()))',
      [migration.version, migration.name, migration.file, migration.checksum],
      { prepare: true },
    );
    logger.info('schema migration applied', { version: migration.version, file: migration.file });
    done.push(migration.version);
  }
  return done;
}
