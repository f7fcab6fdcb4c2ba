import { describe, expect, it } from 'vitest';
import { ageGroup, Delta, extract, histogramMedian, isClosed, parseFollowerCount, posterName, Watermark, windowStart } from './aggregate.js';
import { parseDuration } from './options.js';

const MIN = 60_000;

describe('window assignment', () => {
  it('puts a time in the epoch-aligned window holding it, start inclusive, end exclusive', () => {
    const t = Date.UTC(2026, 0, 1, 10, 0, 0);
    expect(windowStart(t, MIN)).toBe(t);
    expect(windowStart(t + 59_999, MIN)).toBe(t);
    expect(windowStart(t + 60_000, MIN)).toBe(t + MIN);
    expect(windowStart(t - 1, MIN)).toBe(t - MIN);
    expect(windowStart(t + 7_000, 5_000)).toBe(t + 5_000);
  });

  it('closes a window once the watermark reaches its end', () => {
    expect(isClosed(0, MIN, MIN - 1)).toBe(false);
    expect(isClosed(0, MIN, MIN)).toBe(true);
    expect(isClosed(0, MIN, Number.NEGATIVE_INFINITY)).toBe(false);
  });
});

describe('Watermark', () => {
  it('is the highest event time over partitions minus the lateness, never going back', () => {
    const w = new Watermark(10_000);
    expect(w.value).toBe(Number.NEGATIVE_INFINITY);
    w.observe('t', 0, 100_000);
    w.observe('t', 1, 50_000);
    expect(w.value).toBe(90_000);
    w.observe('t', 0, 70_000); // out of order: no step back
    expect(w.value).toBe(90_000);
    expect(w.maxOf('t', 0)).toBe(100_000);
    expect(w.maxOf('t', 1)).toBe(50_000);
    w.set('t', 0, undefined); // partition revoked
    expect(w.value).toBe(40_000);
    w.forget();
    expect(w.value).toBe(Number.NEGATIVE_INFINITY);
  });
});

describe('field rules', () => {
  it('parses follower counts like the batch path', () => {
    expect(parseFollowerCount('13k')).toBe(13_000);
    expect(parseFollowerCount('1.5k')).toBe(1_500);
    expect(parseFollowerCount('1M')).toBe(1_000_000);
    expect(parseFollowerCount('2B')).toBe(2_000_000_000);
    expect(parseFollowerCount('850')).toBe(850);
    expect(parseFollowerCount(850)).toBe(850);
    expect(parseFollowerCount('User Info Error')).toBeNull();
    expect(parseFollowerCount('lots')).toBeNull();
    expect(parseFollowerCount(-3)).toBeNull();
    expect(parseFollowerCount(null)).toBeNull();
  });

  it('groups ages 18-24, 25-35, 36-50, 50+, with under 18 and unknown kept apart', () => {
    expect([18, 24, 25, 35, 36, 50, 51, 99].map(ageGroup)).toEqual(['18-24', '18-24', '25-35', '25-35', '36-50', '36-50', '50+', '50+']);
    expect(ageGroup(17)).toBe('under 18');
    expect(ageGroup(0)).toBe('under 18');
    expect(ageGroup(-1)).toBe('unknown');
    expect(ageGroup(151)).toBe('unknown');
    expect(ageGroup(30.5)).toBe('unknown');
    expect(ageGroup('30')).toBe('unknown');
    expect(ageGroup(undefined)).toBe('unknown');
  });

  it('excludes placeholder and blank poster names', () => {
    expect(posterName(' Ann ')).toBe('Ann');
    expect(posterName('User Info Error')).toBeNull();
    expect(posterName('  ')).toBeNull();
    expect(posterName(undefined)).toBeNull();
  });

  it('extracts the fields each topic aggregates, and says why a record is unusable', () => {
    expect(extract('pin', Buffer.from('{"category":"art","poster_name":"A","follower_count":"2k","is_image_or_video":"multi-video(story page format)"}'))).toEqual({
      type: 'pin',
      category: 'art',
      poster: 'A',
      followers: 2_000,
      video: true,
    });
    expect(extract('pin', '{"category":"art","is_image_or_video":"image","follower_count":"User Info Error"}')).toMatchObject({ video: false, followers: null, poster: null });
    expect(extract('geo', '{"country":"Chile"}')).toEqual({ type: 'geo', country: 'Chile' });
    expect(extract('user', '{"age":40}')).toEqual({ type: 'user', ageGroup: '36-50' });
    expect(extract('pin', '{"title":"x"}')).toEqual({ type: 'invalid', reason: 'no category' });
    expect(extract('geo', 'nope')).toEqual({ type: 'invalid', reason: 'not JSON' });
    expect(extract('geo', '[1]')).toEqual({ type: 'invalid', reason: 'not a JSON object' });
    expect(extract('user', null)).toEqual({ type: 'invalid', reason: 'empty value' });
  });
});

describe('histogramMedian', () => {
  it('is the middle value, or the mean of the two middle values', () => {
    expect(histogramMedian(new Map())).toBeNull();
    expect(histogramMedian(new Map([[5, 1]]))).toBe(5);
    expect(histogramMedian(new Map([[1, 1], [3, 1]]))).toBe(2);
    expect(histogramMedian(new Map([[10, 2], [1, 1]]))).toBe(10); // 1, 10, 10
    expect(histogramMedian(new Map([[1, 2], [10, 2]]))).toBe(5.5); // 1, 1, 10, 10
    expect(histogramMedian(new Map([[1, 3], [7, 1], [9, 0]]))).toBe(1);
  });

  it('agrees with sorting the expanded values, for random histograms', () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed % n;
    };
    for (let trial = 0; trial < 200; trial += 1) {
      const h = new Map<number, number>();
      const values: number[] = [];
      for (let i = 0; i < 1 + rand(30); i += 1) {
        const v = rand(20) * 1_000;
        h.set(v, (h.get(v) ?? 0) + 1);
        values.push(v);
      }
      values.sort((a, b) => a - b);
      const mid = values.length / 2;
      const expected = values.length % 2 ? (values[Math.floor(mid)] as number) : ((values[mid - 1] as number) + (values[mid] as number)) / 2;
      expect(histogramMedian(h)).toBe(expected);
    }
  });
});

describe('Delta', () => {
  it('reduces records to one entry per window and key, a follower histogram and a poster set', () => {
    const d = new Delta();
    const pin = (category: string, poster: string | null, followers: number | null, video: boolean) => ({ type: 'pin' as const, category, poster, followers, video });
    d.addPin(0, 1_000, pin('art', 'A', 100, false));
    d.addPin(0, 5_000, pin('art', 'A', 100, true));
    d.addPin(0, 2_000, pin('art', null, null, false));
    d.addPin(MIN, 61_000, pin('art', 'B', 7, false));
    d.addPin(0, 4_000, pin('art', 'A\u0000B', 100, false)); // back to an earlier window
    d.addPin(0, 4_500, pin('diy', 'A', 3, false));
    d.addCount('geo', 0, 3_000, 'Chile');
    d.addCount('geo', 0, 4_000, 'Chile');
    d.addCount('user', MIN, 62_000, '50+');
    expect(d.pinRows()).toEqual([
      { windowStart: 0, category: 'art', posts: 4, videoPosts: 1, followerN: 3, followerSum: 300, maxEventTime: 5_000 },
      { windowStart: 0, category: 'diy', posts: 1, videoPosts: 0, followerN: 1, followerSum: 3, maxEventTime: 4_500 },
      { windowStart: MIN, category: 'art', posts: 1, videoPosts: 0, followerN: 1, followerSum: 7, maxEventTime: 61_000 },
    ]);
    expect([...d.followerEntries()]).toEqual([
      [0, 'art', 100, 3],
      [0, 'diy', 3, 1],
      [MIN, 'art', 7, 1],
    ]);
    expect([...d.posterEntries()]).toEqual([
      [0, 'art', 'A'],
      [0, 'art', 'A\u0000B'],
      [0, 'diy', 'A'],
      [MIN, 'art', 'B'],
    ]);
    expect(d.countRows('geo')).toEqual([{ windowStart: 0, key: 'Chile', events: 2, maxEventTime: 4_000 }]);
    expect(d.countRows('user')).toEqual([{ windowStart: MIN, key: '50+', events: 1, maxEventTime: 62_000 }]);
    expect(d.newestByWindow()).toEqual(
      new Map([
        [0, 5_000],
        [MIN, 62_000],
      ]),
    );
  });
});

describe('parseDuration', () => {
  it('reads ms, s, m, h and bare seconds', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('1m')).toBe(60_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('45')).toBe(45_000);
    expect(parseDuration('a minute')).toBeUndefined();
    expect(parseDuration('-1s')).toBeUndefined();
  });
});
