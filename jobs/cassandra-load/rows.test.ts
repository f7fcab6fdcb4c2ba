import cassandra from 'cassandra-driver';
import { describe, expect, it } from 'vitest';
import { paramConverter, partitionKeyOf } from './rows.js';

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
