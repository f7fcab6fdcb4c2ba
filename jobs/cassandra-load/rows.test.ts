import { tmpdir } from 'node:os';
import cassandra from 'cassandra-driver';
import { describe, expect, it } from 'vitest';
import { openDuckDb } from '../lib/duckdb.js';
import { jsonRows, paramConverter, partitionKeyOf, singleReplicaSet } from './rows.js';

describe('paramConverter', () => {
  it('turns the date columns into CQL dates in place and leaves the rest', () => {
    const convert = paramConverter(['dt', 'n', 'day'], ['dt', 'day']);
    const row = ['2030-06-15', 5n, null];
    const out = convert(row);
    expect(out).toBe(row);
    expect(out[0]).toBeInstanceOf(cassandra.types.LocalDate);
    expect(String(out[0])).toBe('2030-06-15');
    expect(out[1]).toBe(5n);
    expect(out[2]).toBeNull();
  });

  it('parses a date again when it changes', () => {
    const convert = paramConverter(['dt'], ['dt']);
    const first = convert(['2030-06-15'])[0];
    expect(convert(['2030-06-15'])[0]).toBe(first);
    expect(String(convert(['2030-06-16'])[0])).toBe('2030-06-16');
  });

  it('passes rows through when there is no date column', () => {
    const row = ['a'];
    expect(paramConverter(['x'], ['dt'])(row)).toBe(row);
  });
});

describe('partitionKeyOf', () => {
  it('keys a row by its partition columns, in order', () => {
    const key = partitionKeyOf(['category', 'day', 'id'], ['category', 'day']);
    expect(key(['art', '2030-06-15', 'x'])).toBe(key(['art', '2030-06-15', 'y']));
    expect(key(['art', '2030-06-15', 'x'])).not.toBe(key(['art', '2030-06-16', 'x']));
    expect(key(['a,b', 'c', 'x'])).not.toBe(key(['a', 'b,c', 'x']));
    expect(partitionKeyOf(['id', 'v'], ['id'])(['p1', 2])).toBe('p1');
  });

  it('names a key column the query lacks', () => {
    expect(() => partitionKeyOf(['a'], ['b'])).toThrow(/partition key column b/);
  });
});

describe('jsonRows', () => {
  const VALUES = `SELECT * FROM (VALUES
      ('a"\\b é😀', 9007199254740993::BIGINT, 1.5::DOUBLE, TIMESTAMP '2030-06-15 01:02:03.456', DATE '2030-06-15', ['x', 'y'], true, 7::INTEGER),
      (NULL, NULL, 'nan'::DOUBLE, NULL, NULL, NULL, NULL, NULL),
      ('', -1::BIGINT, '-inf'::DOUBLE, TIMESTAMP '1969-12-31 23:59:59', DATE '1970-01-01', [], false, -2::INTEGER),
      ('z', 0::BIGINT, 'inf'::DOUBLE, NULL, NULL, NULL, NULL, 0::INTEGER)
    ) t(s, b, d, ts, dt, l, f, i)`;

  async function read(sql: string): Promise<unknown[][]> {
    const db = await openDuckDb({ memoryLimit: '64MB', threads: 1, spillDir: tmpdir() });
    try {
      const shape = await db.connection.run(`SELECT * FROM (${sql}) LIMIT 0`);
      const json = jsonRows(sql, shape.columnNames(), shape.columnTypes().map(String));
      if (!json) throw new Error('no JSON form');
      const reader = await db.connection.runAndReadAll(json.sql);
      return reader.getRowsJS().map((row) => json.fromJson(row[0] as string));
    } finally {
      db.close();
    }
  }

  it('carries every value as cassandra-driver takes it for the CQL type', async () => {
    const rows = await read(VALUES);
    expect(rows[0]).toEqual(['a"\\b é😀', '9007199254740993', 1.5, Date.parse('2030-06-15T01:02:03.456Z'), '2030-06-15', ['x', 'y'], true, 7]);
    expect(rows[1]?.[0]).toBeNull();
    expect(rows[1]?.[2]).toBeNaN();
    expect(rows[1]?.slice(3)).toEqual([null, null, null, null, null]);
    expect(rows[2]).toEqual(['', '-1', Number.NEGATIVE_INFINITY, -1000, '1970-01-01', [], false, -2]);
    expect(rows[3]?.[2]).toBe(Number.POSITIVE_INFINITY);
  });

  it('gives up on a type it does not carry', () => {
    expect(jsonRows('SELECT 1', ['x', 'y'], ['VARCHAR', 'DECIMAL(18,3)'])).toBeUndefined();
    expect(jsonRows('SELECT 1', ['x'], ['BIGINT[]'])).toBeUndefined();
  });

  it('quotes column names', () => {
    expect(jsonRows('SELECT 1', ['we"ird'], ['VARCHAR'])?.sql).toBe('SELECT CAST(json_array("we""ird") AS VARCHAR) FROM (SELECT 1)');
  });
});

describe('singleReplicaSet', () => {
  const a = { address: '10.0.0.1' };
  const b = { address: '10.0.0.2' };
  it('names the replica set every range shares', () => {
    expect(singleReplicaSet([[a], [a], [a]])).toBe('10.0.0.1');
    expect(singleReplicaSet([[a, b], [a, b]])).toBe('10.0.0.1,10.0.0.2');
  });

  it('gives nothing when ranges differ, a range is unknown, or there are none', () => {
    expect(singleReplicaSet([[a], [b]])).toBeUndefined();
    expect(singleReplicaSet([[a], null])).toBeUndefined();
    expect(singleReplicaSet([[a], []])).toBeUndefined();
    expect(singleReplicaSet([])).toBeUndefined();
  });
});
