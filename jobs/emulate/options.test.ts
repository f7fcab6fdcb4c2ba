import { describe, expect, it } from 'vitest';
import { parseDuration, parseStartTime } from './options.js';

describe('emulate option parsing', () => {
  it('reads durations with units', () => {
    expect(parseDuration('90')).toBe(90);
    expect(parseDuration('90s')).toBe(90);
    expect(parseDuration('5m')).toBe(300);
    expect(parseDuration('2h')).toBe(7200);
    expect(parseDuration('500ms')).toBe(0.5);
    expect(parseDuration(undefined)).toBeUndefined();
    expect(parseDuration('soon')).toBeNaN();
  });

  it('reads start times', () => {
    const now = Date.UTC(2026, 10, 22, 14, 3, 9);
    expect(parseStartTime('now', now)).toBe(now);
    expect(parseStartTime('today', now)).toBe(Date.UTC(2026, 10, 22));
    expect(parseStartTime('2026-01-02T03:04:05Z')).toBe(Date.UTC(2026, 0, 2, 3, 4, 5));
    expect(parseStartTime('2026-01-02 03:04:05')).toBe(Date.UTC(2026, 0, 2, 3, 4, 5));
    expect(parseStartTime('2026-01-02')).toBe(Date.UTC(2026, 0, 2));
    expect(parseStartTime('yesterday')).toBeNaN();
  });
});
