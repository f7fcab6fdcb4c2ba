import { describe, expect, it } from 'vitest';
import { CURATED_TABLES, lakeTables } from '../lib/curated.js';
import { ident } from '../lib/trino.js';
import { fingerprintComment, lakeTableDefinitions, lakeViewDefinitions, syncPartitionsSql, tableDefinition } from './ddl.js';

const target = { catalog: 'lake', schema: 'curated', bucket: 'pinpipe' };

describe('lake table definitions from the curated contract', () => {
  it('declares every contract column with its Trino type, the day last as the partition, external over the table prefix', () => {
    const users = tableDefinition(target, 'users', CURATED_TABLES.users.columns);
    expect(users.name).toBe('"lake"."curated"."users"');
    expect(users.create).toBe(
      [
        'CREATE TABLE "lake"."curated"."users" (',
        '  "ind" bigint,',
        '  "user_name" varchar,',
        '  "age" integer,',
        '  "date_joined" timestamp(3),',
        '  "dt" date',
        ')',
        `COMMENT 'pinpipe curated contract ${users.fingerprint}'`,
        "WITH (external_location = 's3://pinpipe/curated/users/', format = 'PARQUET', partitioned_by = ARRAY['dt'])",
      ].join('\n'),
    );
  });

  it("posts carry dt in their files too: it is declared once, as the partition", () => {
    const posts = tableDefinition(target, 'posts', CURATED_TABLES.posts.columns);
    expect(posts.create.match(/"dt"/g)).toHaveLength(1);
    expect(posts.create).toContain('"tag_list" array(varchar)');
    expect(posts.create).toContain('"coordinates" array(double)');
  });

  it('one definition per table of the contract, metric tables included', () => {
    expect(lakeTableDefinitions(target).map((d) => d.table)).toEqual(lakeTables().map((t) => t.table));
    expect(lakeTableDefinitions(target).map((d) => d.table)).toContain('metrics_popular_category_by_country');
  });

  it('the fingerprint changes with the columns or the bucket, and only then', () => {
    const base = tableDefinition(target, 'users', CURATED_TABLES.users.columns);
    expect(tableDefinition(target, 'users', CURATED_TABLES.users.columns).fingerprint).toBe(base.fingerprint);
    expect(tableDefinition({ ...target, bucket: 'other' }, 'users', CURATED_TABLES.users.columns).fingerprint).not.toBe(base.fingerprint);
    expect(tableDefinition(target, 'users', CURATED_TABLES.users.columns.slice(0, 2)).fingerprint).not.toBe(base.fingerprint);
    expect(fingerprintComment(base.fingerprint)).toBe(`pinpipe curated contract ${base.fingerprint}`);
  });

  it('a history-plus-today view without its window table reads the lake alone', () => {
    const stream = { catalog: 'stream', schema: 'public', groupId: 'g' };
    const withStream = lakeViewDefinitions(target, stream).find((v) => v.view === 'posts_per_category_day');
    expect(withStream?.create).toContain('"stream"."public"."stream_agg_pin_window"');
    expect(withStream?.streamSide).toBe(true);
    const views = lakeViewDefinitions(target, stream, new Set(['stream_agg_geo_window']));
    const lakeOnly = views.find((v) => v.view === 'posts_per_category_day');
    expect(lakeOnly?.streamSide).toBe(false);
    expect(lakeOnly?.create).not.toContain('UNION ALL');
    expect(lakeOnly?.create).not.toContain('stream_agg_pin_window');
    expect(views.find((v) => v.view === 'events_per_country_day')?.create).toContain('"stream_agg_geo_window"');
  });

  it('quotes identifiers and literals', () => {
    expect(ident('we"ird')).toBe('"we""ird"');
    expect(syncPartitionsSql({ ...target, schema: "it's" }, 'pins')).toBe(`CALL "lake".system.sync_partition_metadata(schema_name => 'it''s', table_name => 'pins', mode => 'FULL')`);
  });
});
