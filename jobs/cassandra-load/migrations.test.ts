import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../lib/errors.js';
import { loadMigrations, splitCql } from './migrations.js';

describe('CQL migrations', () => {
  it('split into statements without comments', () => {
    expect(splitCql('-- a table\nCREATE TABLE a (k int PRIMARY KEY);\n\n// another\nCREATE TABLE b (\n  k int PRIMARY KEY\n);\n')).toEqual([
      'CREATE TABLE a (k int PRIMARY KEY)',
      'CREATE TABLE b (\n  k int PRIMARY KEY\n)',
    ]);
  });

  it('ship V001 with the query tables, in version order', async () => {
    const migrations = await loadMigrations();
    expect(migrations[0]).toMatchObject({ version: 1, file: 'V001__pins_and_metrics.cql' });
    const tables = migrations.flatMap((m) => m.statements).map((s) => /CREATE TABLE IF NOT EXISTS (\w+)/.exec(s)?.[1]);
    expect(tables).toContain('pins_by_id');
    expect(tables).toContain('pins_by_category_day');
    expect(tables).toContain('metrics_users_joined_per_year');
  });

  it('sort by number and refuse badly named or repeated versions', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pinpipe-cql-'));
    try {
      await writeFile(join(dir, 'V010__later.cql'), 'CREATE TABLE x (k int PRIMARY KEY);');
      await writeFile(join(dir, 'V002__earlier.cql'), 'CREATE TABLE y (k int PRIMARY KEY);');
      expect((await loadMigrations(dir)).map((m) => m.version)).toEqual([2, 10]);
      await writeFile(join(dir, 'V002__again.cql'), '');
      await expect(loadMigrations(dir)).rejects.toThrow('two schema files share version 2');
      await writeFile(join(dir, 'tables.cql'), '');
      await expect(loadMigrations(dir)).rejects.toThrow(ConfigError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
