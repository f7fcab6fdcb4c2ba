import { describe, expect, it } from 'vitest';
import { EMPTY_POSITION, highestLanded, isLanded, mergePositions, parsePosition, unlandedRuns, type LakePosition } from './position.js';

const fp = (offset: number) => ({ offset, timestampMs: 1_000 + offset, eventId: `e${offset}` });

describe('lake position', () => {
  it('merges by union: touching ranges join, keeping the latest fingerprint; hour facts a range covers go', () => {
    const a: LakePosition = { ranges: [{ from: 0, to: 100, last: fp(99) }], hours: [{ hour: 7, from: 90, through: 150 }] };
    const b: LakePosition = { ranges: [{ from: 100, to: 200, last: fp(180) }, { from: 500, to: 600 }], hours: [{ hour: 8, from: 300, through: 320 }] };
    expect(mergePositions(a, b)).toEqual({
      ranges: [{ from: 0, to: 200, last: fp(180) }, { from: 500, to: 600 }],
      hours: [{ hour: 8, from: 300, through: 320 }],
    });
    expect(mergePositions(b, a)).toEqual(mergePositions(a, b));
  });

  it('says a record is landed inside a range, or inside an object of its own hour only', () => {
    const p: LakePosition = { ranges: [{ from: 0, to: 10 }], hours: [{ hour: 5, from: 12, through: 20 }] };
    expect(isLanded(p, 9, 1)).toBe(true);
    expect(isLanded(p, 10, 5)).toBe(false);
    expect(isLanded(p, 15, 5)).toBe(true);
    expect(isLanded(p, 15, 4)).toBe(false);
    expect(highestLanded(p)).toBe(20);
    expect(highestLanded(EMPTY_POSITION)).toBe(-1);
  });

  it('splits an hour of lines into the runs the lake does not hold', () => {
    const p: LakePosition = { ranges: [{ from: 10, to: 20 }], hours: [{ hour: 5, from: 30, through: 32 }] };
    expect(unlandedRuns(p, 5, [1, 2, 12, 15, 25, 31, 40])).toEqual([
      [0, 2],
      [4, 5],
      [6, 7],
    ]);
    expect(unlandedRuns(p, 5, [11, 12])).toEqual([]);
  });

  it('reads back what it stores and refuses what is not a position, naming the object', () => {
    const p: LakePosition = { ranges: [{ from: 0, to: 10, last: fp(9) }], hours: [{ hour: 3, from: 12, through: 14 }] };
    expect(parsePosition(JSON.stringify({ topic: 't', partition: 0, ...p }), 's3://b/k')).toEqual(p);
    expect(() => parsePosition('nope', 's3://b/k')).toThrow('s3://b/k is not JSON');
    expect(() => parsePosition('{"ranges":[{"from":5,"to":1}],"hours":[]}', 's3://b/k')).toThrow(/s3:\/\/b\/k is not an s3-sink position: a range needs integer from <= to/);
    expect(() => parsePosition('{"ranges":[]}', 's3://b/k')).toThrow(/ranges and hours must be arrays/);
  });
});
