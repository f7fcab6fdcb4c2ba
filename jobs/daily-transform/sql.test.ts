import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDuckDb, quote, type DuckDb } from '../lib/duckdb.js';
import { followerCountSql, tagListSql, timeSql } from './sql.js';

let db: DuckDb;

beforeAll(async () => {
  db = await openDuckDb({ memoryLimit: '128MB', threads: 1, spillDir: '/tmp' });
});

afterAll(() => db.close());

async function evaluate(sql: (expr: string) => string, input: string | null): Promise<unknown> {
  const reader = await db.connection.runAndReadAll(`SELECT ${sql('x')} AS v FROM (SELECT ${input === null ? 'NULL' : quote(input)}::VARCHAR AS x)`);
  const value = reader.getRowObjectsJS()[0]?.v;
  return typeof value === 'bigint' ? Number(value) : value;
}

describe('follower_count', () => {
  it.each([
    ['13k', 13_000],
    ['1.5k', 1_500],
    ['1.15k', 1_150],
    ['1M', 1_000_000],
    ['1.2M', 1_200_000],
    ['2B', 2_000_000_000],
    ['850', 850],
    ['0', 0],
    ['User Info Error', null],
    ['lots', null],
    ['1.5', 2],
    ['999999999999999B', null],
    [null, null],
  ] as Array<[string | null, number | null]>)('%s → %s', async (input, expected) => {
    expect(await evaluate(followerCountSql, input)).toBe(expected);
  });
});

describe('tag_list', () => {
  it.each([
    ['a,b', ['a', 'b']],
    ['Art, Watercolor ,Ideas', ['Art', 'Watercolor', 'Ideas']],
    [',a,,b,', ['a', 'b']],
    [' single ', ['single']],
    ['a , , b', ['a', 'b']],
    ['  a  b ,c', ['a  b', 'c']],
    [', ,', null],
    ['   ', null],
    ['N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e', null],
    ['', null],
    [null, null],
  ] as Array<[string | null, string[] | null]>)('%j → %j', async (input, expected) => {
    expect(await evaluate(tagListSql, input)).toEqual(expected);
  });
});

describe('times', () => {
  const zoneAware = (expr: string): string => `try_cast(${expr} AS TIMESTAMPTZ)::TIMESTAMP`;
  it.each([
    '2020-08-28 03:52:47',
    '2020-08-28T03:52:47',
    '2020-08-28T03:52:47+02:00',
    '2020-08-28 03:52:47-05',
    '2020-08-28 03:52:47Z',
    '2020-08-28 03:52:47 Europe/Madrid',
    '2020-08-28 3:52:47+2',
    '2020-08-28 03:52+02',
    '2020-08-28 03:52:47.25',
    '2020-08-28',
    '2020-02-30 03:52:47',
    '2020-08-28 25:52:47',
    'yesterday noon',
    '',
  ])('%j gives the zone-aware cast\'s instant', async (input) => {
    expect(await evaluate(timeSql, input)).toEqual(await evaluate(zoneAware, input));
  });

  it('applies the zone of a text that has one', async () => {
    expect(String(await evaluate(timeSql, '2020-08-28T03:52:47+02:00'))).toBe(String(await evaluate(timeSql, '2020-08-28 01:52:47')));
  });
});
