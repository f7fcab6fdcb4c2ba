import { describe, expect, it } from 'vitest';
import { estimateBytes, RowBatcher } from './batches.js';

describe('RowBatcher', () => {
  it('cuts a batch at the row limit, per group', () => {
    const batcher = new RowBatcher<number>({ maxRows: 3, maxBytes: 1000, maxOpenGroups: 10 });
    const out: number[][] = [];
    for (let i = 0; i < 7; i += 1) out.push(...batcher.add(i % 2 === 0 ? 'even' : 'odd', i, 10));
    expect(out).toEqual([
      [0, 2, 4],
      [1, 3, 5],
    ]);
    expect(batcher.finish()).toEqual([[6]]);
    expect(batcher.finish()).toEqual([]);
  });

  it('never lets a batch exceed the byte budget, but sends an oversized row alone', () => {
    const batcher = new RowBatcher<string>({ maxRows: 100, maxBytes: 100, maxOpenGroups: 10 });
    const out = [...batcher.add('g', 'a', 60), ...batcher.add('g', 'b', 60), ...batcher.add('g', 'huge', 500), ...batcher.add('g', 'c', 10)];
    expect(out).toEqual([['a'], ['b'], ['huge']]);
    expect(batcher.finish()).toEqual([['c']]);
  });

  it('flushes every open group when too many are open, so memory stays bounded', () => {
    const batcher = new RowBatcher<number>({ maxRows: 10, maxBytes: 1000, maxOpenGroups: 2 });
    expect(batcher.add('a', 1, 1)).toEqual([]);
    expect(batcher.add('b', 2, 1)).toEqual([]);
    expect(batcher.add('c', 3, 1)).toEqual([[1], [2]]);
    expect(batcher.finish()).toEqual([[3]]);
  });

  it('keeps every row exactly once whatever the grouping', () => {
    const batcher = new RowBatcher<number>({ maxRows: 4, maxBytes: 50, maxOpenGroups: 3 });
    const seen: number[] = [];
    for (let i = 0; i < 1000; i += 1) for (const b of batcher.add(`g${(i * 7) % 5}`, i, (i % 13) + 1)) seen.push(...b);
    for (const b of batcher.finish()) seen.push(...b);
    expect(seen.sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it('rejects limits below one', () => {
    expect(() => new RowBatcher({ maxRows: 0, maxBytes: 1, maxOpenGroups: 1 })).toThrow(RangeError);
  });
});

describe('estimateBytes', () => {
  it('counts string lengths, fixed-size values and a per-cell overhead; a list element is a cell with a 16-byte path', () => {
    expect(estimateBytes(['abc', null, 5n, ['x', 'yz'], true])).toBe(5 * 16 + 3 + 0 + 8 + (2 * 32 + 1 + 2) + 8);
  });
});
