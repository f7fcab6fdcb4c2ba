import { PLACEHOLDERS, type RecordType } from '../lib/contracts.js';

/**
 * The pure part of stream-agg: which window a record falls in, when a window closes, and the
 * per-flush deltas of the aggregates. No I/O here, so unit tests can drive it with plain numbers.
 *
 * Every aggregate is kept as mergeable state (counts, sums, a follower-count histogram, a poster
 * set) and the job only holds what arrived since its last flush: the totals live in PostgreSQL,
 * where each flush adds its delta in the same transaction as the offsets.
 */

/** Start (epoch ms) of the tumbling window holding `eventTimeMs`; windows are aligned to the epoch. */
export function windowStart(eventTimeMs: number, windowMs: number): number {
  return Math.floor(eventTimeMs / windowMs) * windowMs;
}

/**
 * Event-time clock of the job: the highest record timestamp seen per partition (in offset order,
 * so it is the same on every replay of a partition), and the watermark = the highest of those
 * over the partitions this process owns, minus the allowed lateness.
 */
export class Watermark {
  private readonly maxByPartition = new Map<string, number>();

  constructor(readonly latenessMs: number) {}

  static key(topic: string, partition: number): string {
    return `${topic}\u0000${partition}`;
  }

  set(topic: string, partition: number, maxEventTimeMs: number | undefined): void {
    const key = Watermark.key(topic, partition);
    if (maxEventTimeMs === undefined) this.maxByPartition.delete(key);
    else this.maxByPartition.set(key, maxEventTimeMs);
  }

  /** Notes a record's time; returns the partition's new maximum. */
  observe(topic: string, partition: number, eventTimeMs: number): number {
    const key = Watermark.key(topic, partition);
    const max = Math.max(this.maxByPartition.get(key) ?? Number.NEGATIVE_INFINITY, eventTimeMs);
    this.maxByPartition.set(key, max);
    return max;
  }

  maxOf(topic: string, partition: number): number | undefined {
    return this.maxByPartition.get(Watermark.key(topic, partition));
  }

  forget(): void {
    this.maxByPartition.clear();
  }

  /** The watermark in epoch ms, or -Infinity before any record. */
  get value(): number {
    let max = Number.NEGATIVE_INFINITY;
    for (const v of this.maxByPartition.values()) if (v > max) max = v;
    return max - this.latenessMs;
  }
}

/** A window [start, start + size) is closed, and its rows final, once the watermark reaches its end. */
export function isClosed(windowStartMs: number, windowMs: number, watermarkMs: number): boolean {
  return windowStartMs + windowMs <= watermarkMs;
}

/**
 * follower_count as the batch path parses it: "13k" → 13000, "1.5k" → 1500, "1M" → 1000000,
 * "2B" → 2000000000, "850" or 850 → 850; the placeholder or anything else → null.
 */
export function parseFollowerCount(value: unknown): number | null {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : null;
  if (typeof value !== 'string') return null;
  if ((PLACEHOLDERS.follower_count as readonly string[]).includes(value)) return null;
  const m = /^(\d+(?:\.\d+)?)([kMB]?)$/.exec(value.trim());
  if (!m) return null;
  const scale = m[2] === 'k' ? 1_000 : m[2] === 'M' ? 1_000_000 : m[2] === 'B' ? 1_000_000_000 : 1;
  return Math.round(Number(m[1]) * scale);
}

export const AGE_GROUPS = ['18-24', '25-35', '36-50', '50+'] as const;
/** Under-18 users get their own group rather than vanishing; ages that are not integers 0..150 are 'unknown'. */
export type AgeGroup = (typeof AGE_GROUPS)[number] | 'under 18' | 'unknown';

export function ageGroup(age: unknown): AgeGroup {
  if (typeof age !== 'number' || !Number.isInteger(age) || age < 0 || age > 150) return 'unknown';
  if (age < 18) return 'under 18';
  if (age <= 24) return '18-24';
  if (age <= 35) return '25-35';
  if (age <= 50) return '36-50';
  return '50+';
}

/** A poster name that counts as a poster: not missing, not blank, not a placeholder. */
export function posterName(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const name = value.trim();
  if (name === '' || (PLACEHOLDERS.poster_name as readonly string[]).includes(name)) return null;
  return name;
}

/** "video" and the story format "multi-video(story page format)" are videos; the rest images. */
export function isVideo(media: unknown): boolean {
  return media === 'video' || media === 'multi-video(story page format)';
}

/** The fields of a record that the aggregates use, or the reason it cannot be used. */
export type Extracted =
  | { type: 'pin'; category: string; poster: string | null; followers: number | null; video: boolean }
  | { type: 'geo'; country: string }
  | { type: 'user'; ageGroup: AgeGroup }
  | { type: 'invalid'; reason: string };

export function extract(type: RecordType, value: Buffer | string | null): Extracted {
  if (value === null) return { type: 'invalid', reason: 'empty value' };
  let record: unknown;
  try {
    record = JSON.parse(typeof value === 'string' ? value : value.toString('utf8'));
  } catch {
    return { type: 'invalid', reason: 'not JSON' };
  }
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return { type: 'invalid', reason: 'not a JSON object' };
  const r = record as Record<string, unknown>;
  switch (type) {
    case 'pin':
      if (typeof r.category !== 'string' || r.category.trim() === '') return { type: 'invalid', reason: 'no category' };
      return { type: 'pin', category: r.category, poster: posterName(r.poster_name), followers: parseFollowerCount(r.follower_count), video: isVideo(r.is_image_or_video) };
    case 'geo':
      if (typeof r.country !== 'string' || r.country.trim() === '') return { type: 'invalid', reason: 'no country' };
      return { type: 'geo', country: r.country };
    case 'user':
      return { type: 'user', ageGroup: ageGroup(r.age) };
  }
}

export interface PinDelta {
  windowStart: number;
  category: string;
  posts: number;
  videoPosts: number;
  followerN: number;
  followerSum: number;
  maxEventTime: number;
}

export interface CountDelta {
  windowStart: number;
  key: string;
  events: number;
  maxEventTime: number;
}

export interface LateEvent {
  topic: string;
  partition: number;
  offset: number;
  eventTime: number;
  windowStart: number;
  watermark: number;
  value: string | null;
}

const SEP = '\u0000';

/**
 * What arrived since the last flush, already reduced: one entry per (window, key), a follower
 * histogram, the poster set, the late events. Its size is bounded by what one flush interval
 * brings, not by the window length, so memory stays flat on an endless stream.
 */
export class Delta {
  readonly pins = new Map<string, PinDelta>();
  /** window, category, follower count → pins with that count. */
  readonly followers = new Map<string, number>();
  /** window, category, poster name. */
  readonly posters = new Set<string>();
  readonly geo = new Map<string, CountDelta>();
  readonly users = new Map<string, CountDelta>();
  readonly late: LateEvent[] = [];
  /** Records (valid or not) since the last flush. */
  records = 0;

  addPin(windowStartMs: number, eventTimeMs: number, pin: Extract<Extracted, { type: 'pin' }>): void {
    const key = `${windowStartMs}${SEP}${pin.category}`;
    let d = this.pins.get(key);
    if (!d) {
      d = { windowStart: windowStartMs, category: pin.category, posts: 0, videoPosts: 0, followerN: 0, followerSum: 0, maxEventTime: eventTimeMs };
      this.pins.set(key, d);
    }
    d.posts += 1;
    if (pin.video) d.videoPosts += 1;
    if (pin.followers !== null) {
      d.followerN += 1;
      d.followerSum += pin.followers;
      const fk = `${key}${SEP}${pin.followers}`;
      this.followers.set(fk, (this.followers.get(fk) ?? 0) + 1);
    }
    if (pin.poster !== null) this.posters.add(`${key}${SEP}${pin.poster}`);
    if (eventTimeMs > d.maxEventTime) d.maxEventTime = eventTimeMs;
  }

  addCount(type: 'geo' | 'user', windowStartMs: number, eventTimeMs: number, key: string): void {
    const map = type === 'geo' ? this.geo : this.users;
    const k = `${windowStartMs}${SEP}${key}`;
    const d = map.get(k);
    if (d) {
      d.events += 1;
      if (eventTimeMs > d.maxEventTime) d.maxEventTime = eventTimeMs;
    } else {
      map.set(k, { windowStart: windowStartMs, key, events: 1, maxEventTime: eventTimeMs });
    }
  }

  /** Follower histogram entries as [windowStart, category, followerCount, n]. */
  *followerEntries(): Generator<[number, string, number, number]> {
    for (const [k, n] of this.followers) {
      const [ws, category, count] = k.split(SEP) as [string, string, string];
      yield [Number(ws), category, Number(count), n];
    }
  }

  /** Poster set entries as [windowStart, category, posterName]. */
  *posterEntries(): Generator<[number, string, string]> {
    for (const k of this.posters) {
      const [ws, category, ...name] = k.split(SEP) as [string, string, ...string[]];
      yield [Number(ws), category, name.join(SEP)];
    }
  }

  /** Newest record time per window in this delta, for the freshness metric. */
  newestByWindow(): Map<number, number> {
    const out = new Map<number, number>();
    const note = (ws: number, t: number) => out.set(ws, Math.max(out.get(ws) ?? t, t));
    for (const d of this.pins.values()) note(d.windowStart, d.maxEventTime);
    for (const d of this.geo.values()) note(d.windowStart, d.maxEventTime);
    for (const d of this.users.values()) note(d.windowStart, d.maxEventTime);
    return out;
  }

  get empty(): boolean {
    return this.records === 0;
  }
}

/**
 * The exact median of a histogram (value → count): the middle value, or the mean of the two
 * middle values for an even total, as DuckDB's median() and the batch path do. The flush computes
 * the same thing in SQL over the stored histogram; this is its reference for the tests.
 */
export function histogramMedian(histogram: ReadonlyMap<number, number>): number | null {
  const entries = [...histogram.entries()].filter(([, n]) => n > 0).sort((a, b) => a[0] - b[0]);
  const total = entries.reduce((s, [, n]) => s + n, 0);
  if (total === 0) return null;
  const ranks = [Math.floor((total + 1) / 2), Math.floor(total / 2) + 1];
  const values = ranks.map((rank) => {
    let cum = 0;
    for (const [v, n] of entries) {
      cum += n;
      if (cum >= rank) return v;
    }
    return Number.NaN;
  }) as [number, number];
  return (values[0] + values[1]) / 2;
}
