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
 * Stream time per partition: the highest record timestamp seen in it, in offset order, so it is
 * the same on every replay of the partition whichever process reads it and whatever else it reads.
 * It decides lateness (a record is late once its own partition's time passed its window's end by
 * the allowed lateness, as Kafka Streams' grace does per task); the group-wide watermark that
 * makes windows final is computed from the stored times of every partition, in PostgreSQL.
 */
export class StreamTime {
  private readonly maxByPartition = new Map<string, number>();

  static key(topic: string, partition: number): string {
    return `${topic}\u0000${partition}`;
  }

  set(topic: string, partition: number, maxEventTimeMs: number | undefined): void {
    const key = StreamTime.key(topic, partition);
    if (maxEventTimeMs === undefined) this.maxByPartition.delete(key);
    else this.maxByPartition.set(key, maxEventTimeMs);
  }

  /** Notes a record's time; returns the partition's new maximum. */
  observe(topic: string, partition: number, eventTimeMs: number): number {
    const key = StreamTime.key(topic, partition);
    const max = Math.max(this.maxByPartition.get(key) ?? Number.NEGATIVE_INFINITY, eventTimeMs);
    this.maxByPartition.set(key, max);
    return max;
  }

  maxOf(topic: string, partition: number): number | undefined {
    return this.maxByPartition.get(StreamTime.key(topic, partition));
  }

  forget(): void {
    this.maxByPartition.clear();
  }
}

/**
 * Whether a record is late: its window ended `latenessMs` or more before its partition's stream
 * time, or the group already made the window final (which only an idle partition that woke up
 * can meet: see groupWatermarkSql).
 */
export function isLate(windowStartMs: number, windowMs: number, partitionTimeMs: number, latenessMs: number, groupWatermarkMs: number): boolean {
  const end = windowStartMs + windowMs;
  return end <= partitionTimeMs - latenessMs || end <= groupWatermarkMs;
}

const DAY_MS = 86_400_000;

/** The first copy of a record key, as the dedupe remembers it. */
export interface SeenCopy {
  /** Stream time of its partition when it arrived: the horizon is measured from here. */
  seenAt: number;
  /** UTC day (days since the epoch) of its event time: the batch dedupes within a day. */
  day: number;
  offset: number;
  /** eventIdHash of its event id, or null without one. */
  eventIdHash: number | null;
}

/** The first copies of one partition a flush writes: one row of stream_agg_seen_keys. */
export interface SeenChunk {
  topic: string;
  partition: number;
  firstOffset: number;
  newestSeenAt: number;
  /** JSON of the copies column by column: {"keys":[…],"seenAt":[…],"day":[…],"offset":[…],"eventIdHash":[…]} (-1: no event id), in offset order. */
  copies: string;
}

/**
 * A 32-bit FNV-1a hash of an event id's bytes. The dedupe state keeps this, not the id: a string
 * per counted record, decoded and kept for the horizon, cost more than the rest of the state. It
 * only tells a client's retry (same id) from another repeat of a key, so a collision mislabels a
 * reason and never changes a count.
 */
export function eventIdHash(bytes: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i += 1) hash = Math.imul(hash ^ (bytes[i] as number), 0x01000193);
  return hash >>> 0;
}

/** How many dropped slots SeenKeys lets pile up at the front of its arrays before it compacts them. */
const COMPACT_AFTER = 4_096;

/**
 * The record keys of one partition seen within the dedupe horizon, oldest first. A record whose
 * key was seen on the same UTC day of event time, no longer ago than the horizon in the
 * partition's stream time, repeats that copy. Both measures follow the offset order only, so the
 * answer is the same on every replay; the day rule is the batch's (it dedupes each day apart).
 *
 * Kept as parallel arrays and a key → slot map rather than an object per key: every counted record
 * adds one, and a backlog holds hundreds of thousands within the horizon.
 */
export class SeenKeys {
  private readonly slotOf = new Map<RecordKey, number>();
  private keys: RecordKey[] = [];
  private seenAts: number[] = [];
  private days: number[] = [];
  private offsets: number[] = [];
  /** -1 for none, so the array holds numbers only. */
  private eventIdHashes: number[] = [];
  /** Slot number of the arrays' first element, and the first element still live. */
  private base = 0;
  private head = 0;
  /** First slot not yet handed to a flush. */
  private unsaved = 0;

  constructor(readonly horizonMs: number) {}

  /** The earlier copy when this record repeats one; otherwise notes it and returns undefined. */
  check(key: RecordKey, eventTimeMs: number, streamTimeMs: number, offset: number, eventIdHash: number | null): SeenCopy | undefined {
    const day = Math.floor(eventTimeMs / DAY_MS);
    const slot = this.slotOf.get(key);
    if (slot !== undefined) {
      const i = slot - this.base;
      if (this.days[i] === day && (this.seenAts[i] as number) >= streamTimeMs - this.horizonMs) {
        const hash = this.eventIdHashes[i] as number;
        return { seenAt: this.seenAts[i] as number, day, offset: this.offsets[i] as number, eventIdHash: hash === -1 ? null : hash };
      }
    }
    this.append(key, streamTimeMs, day, offset, eventIdHash);
    return undefined;
  }

  /** Restores a copy loaded from PostgreSQL (already stored); loads come in offset order, a later copy of a key replacing an earlier one. */
  restore(key: RecordKey, copy: SeenCopy): void {
    this.append(key, copy.seenAt, copy.day, copy.offset, copy.eventIdHash);
    this.unsaved = this.base + this.keys.length;
  }

  private append(key: RecordKey, seenAt: number, day: number, offset: number, eventIdHash: number | null): void {
    this.slotOf.set(key, this.base + this.keys.length);
    this.keys.push(key);
    this.seenAts.push(seenAt);
    this.days.push(day);
    this.offsets.push(offset);
    this.eventIdHashes.push(eventIdHash ?? -1);
  }

  /** The copies noted since the last call, for the flush that stores them with their records. */
  takeUnsaved(topic: string, partition: number): SeenChunk | undefined {
    const from = Math.max(this.unsaved, this.base + this.head) - this.base;
    const to = this.keys.length;
    this.unsaved = this.base + to;
    if (from >= to) return undefined;
    // Column by column: one JSON.stringify of an array each is much cheaper than one per copy.
    const copies = `{"keys":${JSON.stringify(this.keys.slice(from, to))},"seenAt":${JSON.stringify(this.seenAts.slice(from, to))},"day":${JSON.stringify(
      this.days.slice(from, to),
    )},"offset":${JSON.stringify(this.offsets.slice(from, to))},"eventIdHash":${JSON.stringify(this.eventIdHashes.slice(from, to))}}`;
    return { topic, partition, firstOffset: this.offsets[from] as number, newestSeenAt: this.seenAts[to - 1] as number, copies };
  }

  /** Forgets copies beyond the horizon of `streamTimeMs`; they can no longer be repeated. */
  prune(streamTimeMs: number): void {
    const horizon = streamTimeMs - this.horizonMs;
    const end = this.keys.length;
    while (this.head < end && (this.seenAts[this.head] as number) < horizon) {
      const key = this.keys[this.head] as RecordKey;
      // Not when the key started over later: its newer slot stays.
      if (this.slotOf.get(key) === this.base + this.head) this.slotOf.delete(key);
      this.head += 1;
    }
    if (this.head > COMPACT_AFTER && this.head * 2 > end) {
      this.keys = this.keys.slice(this.head);
      this.seenAts = this.seenAts.slice(this.head);
      this.days = this.days.slice(this.head);
      this.offsets = this.offsets.slice(this.head);
      this.eventIdHashes = this.eventIdHashes.slice(this.head);
      this.base += this.head;
      this.head = 0;
    }
  }

  /** Keys remembered. */
  get size(): number {
    return this.slotOf.size;
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
/**
 * What the batch deduplicates by: a pin's unique_id (a string), a geo or user record's ind (a
 * number, which a Map hashes far more cheaply than a string it would have to make first).
 */
export type RecordKey = string | number;

/** `key` is the record's RecordKey, or null when it has none usable. */
export type Extracted =
  | { type: 'pin'; key: string | null; category: string; poster: string | null; followers: number | null; video: boolean }
  | { type: 'geo'; key: number | null; country: string }
  | { type: 'user'; key: number | null; ageGroup: AgeGroup }
  | { type: 'invalid'; reason: string };

function indKey(value: unknown): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : null;
  return typeof value === 'string' && /^\d{1,15}$/.test(value) ? Number(value) : null;
}

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
      return {
        type: 'pin',
        key: typeof r.unique_id === 'string' && r.unique_id.trim() !== '' ? r.unique_id : null,
        category: r.category,
        poster: posterName(r.poster_name),
        followers: parseFollowerCount(r.follower_count),
        video: isVideo(r.is_image_or_video),
      };
    case 'geo':
      if (typeof r.country !== 'string' || r.country.trim() === '') return { type: 'invalid', reason: 'no country' };
      return { type: 'geo', key: indKey(r.ind), country: r.country };
    case 'user':
      return { type: 'user', key: indKey(r.ind), ageGroup: ageGroup(r.age) };
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

/** A record dropped because an earlier copy of it was counted: `retry` when the event id is the same too. */
export interface RepeatEvent {
  topic: string;
  partition: number;
  offset: number;
  eventTime: number;
  windowStart: number;
  key: RecordKey;
  eventId: string | null;
  firstOffset: number;
  reason: 'retry' | 'repeat';
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

/** One (window, category) of pins: its row delta, and the follower histogram and poster set behind the median and distinct count. */
interface PinGroup {
  row: PinDelta;
  /** follower count → pins with that count. */
  followers: Map<number, number>;
  posters: Set<string>;
}

/** Everything a delta holds for one window, keyed by category, country or age group. */
interface WindowDelta {
  readonly start: number;
  readonly pins: Map<string, PinGroup>;
  readonly geo: Map<string, CountDelta>;
  readonly users: Map<string, CountDelta>;
}

/**
 * What arrived since the last flush, already reduced: one entry per (window, key), a follower
 * histogram, the poster set, the late events. Its size is bounded by what one flush interval
 * brings, not by the window length, so memory stays flat on an endless stream.
 *
 * Kept as window → key maps (no composite string keys), and the window last used is remembered:
 * records arrive in time order within a partition, so nearly every record hits it.
 */
export class Delta {
  private readonly windows = new Map<number, WindowDelta>();
  private current: WindowDelta | undefined;
  readonly late: LateEvent[] = [];
  readonly repeats: RepeatEvent[] = [];
  /** The first copies of this delta's records, one chunk per partition, taken when the flush starts. */
  seen: SeenChunk[] = [];
  /** Records (valid or not) since the last flush. */
  records = 0;

  private window(windowStartMs: number): WindowDelta {
    const c = this.current;
    if (c !== undefined && c.start === windowStartMs) return c;
    let w = this.windows.get(windowStartMs);
    if (w === undefined) {
      w = { start: windowStartMs, pins: new Map(), geo: new Map(), users: new Map() };
      this.windows.set(windowStartMs, w);
    }
    this.current = w;
    return w;
  }

  addPin(windowStartMs: number, eventTimeMs: number, pin: Extract<Extracted, { type: 'pin' }>): void {
    this.addPinFields(windowStartMs, eventTimeMs, pin.category, pin.poster, pin.followers, pin.video);
  }

  addPinFields(windowStartMs: number, eventTimeMs: number, category: string, poster: string | null, followers: number | null, video: boolean): void {
    const pins = this.window(windowStartMs).pins;
    let g = pins.get(category);
    if (g === undefined) {
      g = {
        row: { windowStart: windowStartMs, category, posts: 0, videoPosts: 0, followerN: 0, followerSum: 0, maxEventTime: eventTimeMs },
        followers: new Map(),
        posters: new Set(),
      };
      pins.set(category, g);
    }
    const d = g.row;
    d.posts += 1;
    if (video) d.videoPosts += 1;
    if (followers !== null) {
      d.followerN += 1;
      d.followerSum += followers;
      g.followers.set(followers, (g.followers.get(followers) ?? 0) + 1);
    }
    if (poster !== null) g.posters.add(poster);
    if (eventTimeMs > d.maxEventTime) d.maxEventTime = eventTimeMs;
  }

  addCount(type: 'geo' | 'user', windowStartMs: number, eventTimeMs: number, key: string): void {
    const w = this.window(windowStartMs);
    const map = type === 'geo' ? w.geo : w.users;
    const d = map.get(key);
    if (d !== undefined) {
      d.events += 1;
      if (eventTimeMs > d.maxEventTime) d.maxEventTime = eventTimeMs;
    } else {
      map.set(key, { windowStart: windowStartMs, key, events: 1, maxEventTime: eventTimeMs });
    }
  }

  /** One row delta per (window, category), windows in first-seen order. */
  pinRows(): PinDelta[] {
    const out: PinDelta[] = [];
    for (const w of this.windows.values()) for (const g of w.pins.values()) out.push(g.row);
    return out;
  }

  /** One row delta per (window, country) or (window, age group). */
  countRows(type: 'geo' | 'user'): CountDelta[] {
    const out: CountDelta[] = [];
    for (const w of this.windows.values()) for (const d of (type === 'geo' ? w.geo : w.users).values()) out.push(d);
    return out;
  }

  /** Follower histogram entries as [windowStart, category, followerCount, n]. */
  *followerEntries(): Generator<[number, string, number, number]> {
    for (const w of this.windows.values()) for (const [category, g] of w.pins) for (const [count, n] of g.followers) yield [w.start, category, count, n];
  }

  /** Poster set entries as [windowStart, category, posterName]. */
  *posterEntries(): Generator<[number, string, string]> {
    for (const w of this.windows.values()) for (const [category, g] of w.pins) for (const name of g.posters) yield [w.start, category, name];
  }

  /** Newest record time per window in this delta, for the freshness metric. */
  newestByWindow(): Map<number, number> {
    const out = new Map<number, number>();
    for (const w of this.windows.values()) {
      let newest = Number.NEGATIVE_INFINITY;
      for (const g of w.pins.values()) if (g.row.maxEventTime > newest) newest = g.row.maxEventTime;
      for (const d of w.geo.values()) if (d.maxEventTime > newest) newest = d.maxEventTime;
      for (const d of w.users.values()) if (d.maxEventTime > newest) newest = d.maxEventTime;
      if (newest !== Number.NEGATIVE_INFINITY) out.set(w.start, newest);
    }
    return out;
  }

  /** Window starts this delta adds to. */
  windowStarts(): number[] {
    return [...this.windows.keys()];
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
