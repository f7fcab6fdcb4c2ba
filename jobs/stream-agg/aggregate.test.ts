import { describe, expect, it } from 'vitest';
import { ageGroup, Delta, eventIdHash, extract, histogramMedian, isClosed, isLate, parseFollowerCount, posterName, SeenKeys, StreamTime, windowStart } from './aggregate.js';
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

describe('StreamTime', () => {
  it('keeps the highest event time per partition, never going back', () => {
    const t = new StreamTime();
    expect(t.maxOf('t', 0)).toBeUndefined();
    t.observe('t', 0, 100_000);
    t.observe('t', 1, 50_000);
    expect(t.observe('t', 0, 70_000)).toBe(100_000); // out of order: no step back
    expect(t.maxOf('t', 1)).toBe(50_000);
    t.set('t', 0, undefined); // partition revoked
    expect(t.maxOf('t', 0)).toBeUndefined();
    t.forget();
    expect(t.maxOf('t', 1)).toBeUndefined();
  });
});

describe('isLate', () => {
  it('is late once its own partition passed the window end by the lateness, or the group made the window final', () => {
    const none = Number.NEGATIVE_INFINITY;
    // Window [0, 1 min), lateness 10 s.
    expect(isLate(0, MIN, MIN + 9_999, 10_000, none)).toBe(false);
    expect(isLate(0, MIN, MIN + 10_000, 10_000, none)).toBe(true);
    // Another partition far ahead does not make it late: only the group watermark or its own time.
    expect(isLate(0, MIN, 30_000, 10_000, MIN - 1)).toBe(false);
    expect(isLate(0, MIN, 30_000, 10_000, MIN)).toBe(true);
  });
});

describe('eventIdHash', () => {
  it('is FNV-1a over the bytes: equal ids hash equal, others differ', () => {
    expect(eventIdHash(Buffer.from(''))).toBe(0x811c9dc5);
    expect(eventIdHash(Buffer.from('a'))).toBe(0xe40c292c);
    expect(eventIdHash(Buffer.from('e-1-pin'))).toBe(eventIdHash(new Uint8Array(Buffer.from('e-1-pin'))));
    expect(eventIdHash(Buffer.from('e-1-pin'))).not.toBe(eventIdHash(Buffer.from('e-1-geo')));
  });
});

describe('SeenKeys', () => {
  const DAY = 86_400_000;
  it('recognises a repeat of a key within the horizon of stream time, on the same UTC day, and remembers the first copy', () => {
    const seen = new SeenKeys(5 * MIN);
    expect(seen.check('u1', 1_000, 1_000, 0, 1)).toBeUndefined();
    expect(seen.check('u1', 2_000, 2_000, 1, 1)).toEqual({ seenAt: 1_000, day: 0, offset: 0, eventIdHash: 1 });
    expect(seen.check('u2', 2_000, 2_000, 2, 2)).toBeUndefined();
    // A late first copy (event time far behind the stream) is measured by when it arrived.
    expect(seen.check('u3', 1_000, 4 * MIN, 3, null)).toBeUndefined();
    expect(seen.check('u3', 1_000, 8 * MIN, 4, null)?.offset).toBe(3);
    // Beyond the horizon it counts again and becomes the first copy.
    expect(seen.check('u1', 1_000, 1_000 + 5 * MIN + 1, 5, 9)).toBeUndefined();
    expect(seen.check('u1', 1_000, 6 * MIN, 6, 9)?.offset).toBe(5);
  });

  it('counts a key again on another UTC day of event time, as the batch does', () => {
    const seen = new SeenKeys(15 * MIN);
    expect(seen.check(7, DAY - 1_000, DAY - 1_000, 0, null)).toBeUndefined();
    expect(seen.check(7, DAY + 1_000, DAY + 1_000, 1, null)).toBeUndefined();
    expect(seen.check(7, DAY + 2_000, DAY + 2_000, 2, null)?.offset).toBe(1);
    expect(seen.check('7', DAY + 3_000, DAY + 3_000, 3, null)).toBeUndefined(); // a pin's unique_id "7" is another key
  });

  it('hands each new copy to one flush, in offset order, in a form a new owner restores', () => {
    const seen = new SeenKeys(15 * MIN);
    seen.check('u"1', 1_000, 1_000, 10, 1);
    seen.check('u2', 2_000, 2_000, 11, null);
    seen.check('u"1', 3_000, 3_000, 12, 1); // a repeat: not a new copy
    const chunk = seen.takeUnsaved('pins', 2);
    expect(chunk).toMatchObject({ topic: 'pins', partition: 2, firstOffset: 10, newestSeenAt: 2_000 });
    expect(seen.takeUnsaved('pins', 2)).toBeUndefined();
    const stored = JSON.parse(chunk?.copies as string) as { keys: string[]; seenAt: number[]; day: number[]; offset: number[]; eventIdHash: number[] };
    expect(stored).toEqual({ keys: ['u"1', 'u2'], seenAt: [1_000, 2_000], day: [0, 0], offset: [10, 11], eventIdHash: [1, -1] });
    const next = new SeenKeys(15 * MIN);
    stored.keys.forEach((key, i) => next.restore(key, { seenAt: stored.seenAt[i] as number, day: stored.day[i] as number, offset: stored.offset[i] as number, eventIdHash: stored.eventIdHash[i] === -1 ? null : (stored.eventIdHash[i] as number) }));
    expect(next.takeUnsaved('pins', 2)).toBeUndefined(); // restored copies are stored already
    expect(next.check('u"1', 1_000, 5_000, 13, 1)).toEqual({ seenAt: 1_000, day: 0, offset: 10, eventIdHash: 1 });
  });

  it('forgets copies beyond the horizon, oldest first, and keeps the others', () => {
    const seen = new SeenKeys(MIN);
    seen.check('a', 0, 0, 0, null);
    seen.check('b', 0, 30_000, 1, null);
    seen.check('a', 0, 70_000, 2, null); // beyond the horizon: a new first copy, now the newest
    seen.prune(95_000);
    expect(seen.size).toBe(1);
    expect(seen.check('a', 0, 95_000, 3, null)?.offset).toBe(2);
    expect(seen.check('b', 0, 95_000, 4, null)).toBeUndefined();
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
    expect(extract('pin', Buffer.from('{"unique_id":"u-1","category":"art","poster_name":"A","follower_count":"2k","is_image_or_video":"multi-video(story page format)"}'))).toEqual({
      type: 'pin',
      key: 'u-1',
      category: 'art',
      poster: 'A',
      followers: 2_000,
      video: true,
    });
    expect(extract('pin', '{"category":"art","is_image_or_video":"image","follower_count":"User Info Error"}')).toMatchObject({ video: false, followers: null, poster: null });
    expect(extract('pin', '{"unique_id":" ","category":"art"}')).toMatchObject({ key: null });
    // The batch's keys: a pin's unique_id, a geo or user record's ind (a number or its digits).
    expect(extract('geo', '{"ind":7,"country":"Chile"}')).toEqual({ type: 'geo', key: 7, country: 'Chile' });
    expect(extract('geo', '{"ind":"007","country":"Chile"}')).toMatchObject({ key: 7 });
    expect(extract('geo', '{"ind":-1,"country":"Chile"}')).toMatchObject({ key: null });
    expect(extract('user', '{"age":40}')).toEqual({ type: 'user', key: null, ageGroup: '36-50' });
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
    const pin = (category: string, poster: string | null, followers: number | null, video: boolean) => ({ type: 'pin' as const, key: null, category, poster, followers, video });
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
