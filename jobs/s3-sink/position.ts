import { InputError } from '../lib/errors.js';

/**
 * What the lake holds of one topic-partition, kept by s3-sink in a small JSON object beside the
 * lake (lake.ts, sinkPositionKey). It is the truth about where writing goes on; Kafka's committed
 * offsets only save re-reading.
 *
 * Two kinds of fact, both only ever added to:
 * - ranges: offsets [from, to) whose every record is in the lake (raw or dead-letter objects);
 * - hours: an object of one record hour holding every record of that hour in [from, through], for
 *   objects that reach past the end of their range (an hour bucket flushed while an older one,
 *   holding a lower offset, was still open).
 * Because facts are only added, two writers' updates merge by union, and an update lost to a
 * race is redone on the next compare-and-swap.
 */

/** A record the lake holds, to recognise the same record in Kafka again (a re-created topic has others at these offsets). */
export interface Fingerprint {
  offset: number;
  timestampMs: number;
  eventId: string | null;
}

export interface LandedRange {
  from: number;
  /** Exclusive. */
  to: number;
  /** A record of the range near its end, when one is known. */
  last?: Fingerprint;
}

export interface LandedHour {
  /** Record hour since the epoch. */
  hour: number;
  from: number;
  through: number;
}

export interface LakePosition {
  ranges: LandedRange[];
  hours: LandedHour[];
}

export const EMPTY_POSITION: LakePosition = { ranges: [], hours: [] };

const HOUR_MS = 3_600_000;

/** The record's hour since the epoch: cheap to compare per record, same identity as dt/hour. */
export function hourOf(timestampMs: number): number {
  return Math.floor(timestampMs / HOUR_MS);
}

function laterFingerprint(a: Fingerprint | undefined, b: Fingerprint | undefined): Fingerprint | undefined {
  if (!a) return b;
  if (!b) return a;
  return b.offset > a.offset ? b : a;
}

/** Union of two positions, ranges joined where they touch, hour facts a range covers dropped. */
export function mergePositions(a: LakePosition, b: LakePosition): LakePosition {
  const sorted = [...a.ranges, ...b.ranges].filter((r) => r.to > r.from).sort((x, y) => x.from - y.from);
  const ranges: LandedRange[] = [];
  for (const r of sorted) {
    const prev = ranges[ranges.length - 1];
    if (prev && r.from <= prev.to) {
      const to = Math.max(prev.to, r.to);
      const last = laterFingerprint(prev.last, r.last);
      ranges[ranges.length - 1] = last && last.offset < to ? { from: prev.from, to, last } : { from: prev.from, to };
    } else {
      ranges.push(r.last && r.last.offset < r.to ? { ...r } : { from: r.from, to: r.to });
    }
  }
  const hours: LandedHour[] = [];
  const seen = new Set<string>();
  for (const h of [...a.hours, ...b.hours].sort((x, y) => x.hour - y.hour || x.from - y.from)) {
    const id = `${h.hour}/${h.from}/${h.through}`;
    if (seen.has(id) || covering(ranges, h.from, h.through)) continue;
    seen.add(id);
    hours.push({ ...h });
  }
  return { ranges, hours };
}

/** The range holding `offset`, if any. */
export function rangeAt(position: LakePosition, offset: number): LandedRange | undefined {
  return position.ranges.find((r) => r.from <= offset && offset < r.to);
}

function covering(ranges: readonly LandedRange[], from: number, through: number): boolean {
  return ranges.some((r) => r.from <= from && through < r.to);
}

/** True when the record at `offset` of this record hour is in the lake. */
export function isLanded(position: LakePosition, offset: number, hour: number): boolean {
  if (rangeAt(position, offset)) return true;
  return position.hours.some((h) => h.hour === hour && h.from <= offset && offset <= h.through);
}

/** The highest offset the lake is known to hold, -1 for none: a record above it is new. */
export function highestLanded(position: LakePosition): number {
  let highest = -1;
  for (const r of position.ranges) highest = Math.max(highest, r.to - 1);
  for (const h of position.hours) highest = Math.max(highest, h.through);
  return highest;
}

/**
 * Offsets of one hour's lines split into runs that are not in the lake: [start, end) indexes of
 * `offsets` (ascending). What a landed range or an hour fact covers is left out, so an object
 * never repeats a record another object holds, whatever that object is called.
 */
export function unlandedRuns(position: LakePosition, hour: number, offsets: readonly number[]): Array<[number, number]> {
  const runs: Array<[number, number]> = [];
  let start = -1;
  for (let i = 0; i < offsets.length; i += 1) {
    const landed = isLanded(position, offsets[i] as number, hour);
    if (!landed && start < 0) start = i;
    if (landed && start >= 0) {
      runs.push([start, i]);
      start = -1;
    }
  }
  if (start >= 0) runs.push([start, offsets.length]);
  return runs;
}

function isInteger(value: unknown): value is number {
  return Number.isSafeInteger(value);
}

/** Reads a stored position, refusing anything that is not one (so a foreign object is never taken as the truth). */
export function parsePosition(text: string, where: string): LakePosition {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new InputError(`${where} is not JSON`);
  }
  const bad = (what: string) => new InputError(`${where} is not an s3-sink position: ${what}`);
  if (typeof data !== 'object' || data === null) throw bad('not an object');
  const { ranges, hours } = data as { ranges?: unknown; hours?: unknown };
  if (!Array.isArray(ranges) || !Array.isArray(hours)) throw bad('ranges and hours must be arrays');
  const position: LakePosition = { ranges: [], hours: [] };
  for (const r of ranges as Array<Record<string, unknown>>) {
    if (!isInteger(r?.from) || !isInteger(r.to) || r.to < r.from) throw bad('a range needs integer from <= to');
    const last = r.last as Record<string, unknown> | undefined;
    if (last !== undefined && (!isInteger(last.offset) || !isInteger(last.timestampMs) || (last.eventId !== null && typeof last.eventId !== 'string'))) {
      throw bad('a range fingerprint needs offset, timestampMs and eventId');
    }
    position.ranges.push(last ? { from: r.from, to: r.to, last: { offset: last.offset as number, timestampMs: last.timestampMs as number, eventId: last.eventId as string | null } } : { from: r.from, to: r.to });
  }
  for (const h of hours as Array<Record<string, unknown>>) {
    if (!isInteger(h?.hour) || !isInteger(h.from) || !isInteger(h.through) || h.through < h.from) throw bad('an hour needs integer hour and from <= through');
    position.hours.push({ hour: h.hour, from: h.from, through: h.through });
  }
  return mergePositions(position, EMPTY_POSITION);
}
