import { describe, expect, it } from 'vitest';
import { judge } from './readiness.js';

const state = (topic: string, objectsOfDay: number, hasLaterData = false) => ({ topic, objectsOfDay, hasLaterData });

describe('judge', () => {
  it('is ready when every topic has enough objects of the day', () => {
    expect(judge([state('a', 2), state('b', 1)], 1, false)).toEqual({ ready: true, missing: [] });
  });

  it('names each topic that lacks objects', () => {
    expect(judge([state('a', 0), state('b', 1), state('c', 1)], 2, false)).toEqual({
      ready: false,
      missing: ['a: 0 of 2 raw objects', 'b: 1 of 2 raw objects', 'c: 1 of 2 raw objects'],
    });
  });

  it('asks for data of a later day only when told to', () => {
    expect(judge([state('a', 1, false)], 1, false).ready).toBe(true);
    expect(judge([state('a', 1, false)], 1, true)).toEqual({ ready: false, missing: ['a: nothing after the day yet'] });
    expect(judge([state('a', 1, true)], 1, true).ready).toBe(true);
  });
});
