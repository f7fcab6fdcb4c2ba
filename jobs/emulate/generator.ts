import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { formatEventTime, type GeoRecord, type PinRecord, type TypedRecord, type UserRecord } from '../lib/contracts.js';
import { COUNTRIES, FIRST_NAMES, LAST_NAMES, AGE_GROUPS } from './population.js';

/** One user post: the pin, where it was posted from, and who posted it, sharing `ind`. */
export interface Post {
  pin: PinRecord;
  geo: GeoRecord;
  user: UserRecord;
}

export interface GeneratorOptions {
  seed: number;
  /** Event time of the first post, epoch ms. */
  startTimeMs: number;
  /** Emulated posts per second: spaces the event times. */
  rate: number;
  /** `ind` of the first post. */
  firstInd: number;
  /** Share of posts that repeat an earlier post verbatim, as the seed emulations' random row picks do. */
  duplicateRate: number;
  /** Share of geo events whose time lags by minutes (a phone that was offline). */
  lateRate: number;
  /** Largest delay of an event time after its slot, ms: events arrive slightly out of order. */
  jitterMs: number;
}

export const DEFAULT_GENERATOR_OPTIONS: Omit<GeneratorOptions, 'seed' | 'startTimeMs'> = {
  rate: 100,
  firstInd: 1,
  duplicateRate: 0.01,
  lateRate: 0.005,
  jitterMs: 2_000,
};

/** How many earlier posts a duplicate may repeat; keeps memory flat on endless runs. */
const DUPLICATE_WINDOW = 1_000;
const LATE_MIN_MS = 60_000;
const LATE_MAX_MS = 10 * 60_000;
const JOINED_FROM = Date.UTC(2015, 0, 1);
const JOINED_TO = Date.UTC(2017, 11, 31, 23, 59, 59);

function pick<T>(rng: ReturnType<typeof xoroshiro128plus>, items: readonly T[]): T {
  return items[uniformInt(rng, 0, items.length - 1)] as T;
}

function pickWeighted<T extends { weight: number }>(rng: ReturnType<typeof xoroshiro128plus>, items: readonly T[], total: number): T {
  let r = uniformFloat64(rng) * total;
  for (const item of items) {
    r -= item.weight;
    if (r < 0) return item;
  }
  return items[items.length - 1] as T;
}

function uuid(rng: ReturnType<typeof xoroshiro128plus>): string {
  const hex = Array.from({ length: 32 }, () => uniformInt(rng, 0, 15).toString(16));
  hex[12] = '4';
  hex[16] = ((uniformInt(rng, 0, 3) | 8) >>> 0).toString(16);
  const s = hex.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

/**
 * An endless, deterministic stream of posts for a seed. Pins are drawn from real seed records,
 * so categories, placeholders, follower-count forms and story-format videos keep the rates the
 * real data has; geo and user rows are generated around them.
 */
export function* generatePosts(seedPins: readonly PinRecord[], options: GeneratorOptions): Generator<Post> {
  if (seedPins.length === 0) throw new RangeError('at least one seed pin is needed');
  const rng = xoroshiro128plus(options.seed);
  const countryWeight = COUNTRIES.reduce((sum, c) => sum + c.weight, 0);
  const ageWeight = AGE_GROUPS.reduce((sum, g) => sum + g.weight, 0);
  const spacingMs = 1000 / options.rate;
  const recent: Post[] = [];

  for (let n = 0; ; n += 1) {
    if (recent.length > 0 && uniformFloat64(rng) < options.duplicateRate) {
      yield pick(rng, recent);
      continue;
    }
    const ind = options.firstInd + n;
    const base = pick(rng, seedPins);
    const first = pick(rng, FIRST_NAMES);
    const last = pick(rng, LAST_NAMES);
    const posterUnknown = base.follower_count === 'User Info Error';

    const pin: PinRecord = {
      index: ind,
      unique_id: uuid(rng),
      title: base.title,
      description: base.description,
      poster_name: posterUnknown ? 'User Info Error' : `${first} ${last}`,
      follower_count: base.follower_count,
      tag_list: base.tag_list,
      is_image_or_video: base.is_image_or_video,
      image_src: base.image_src,
      downloaded: base.downloaded,
      save_location: base.save_location,
      category: base.category,
    };

    let eventMs = options.startTimeMs + Math.floor(n * spacingMs) + uniformInt(rng, 0, options.jitterMs);
    if (uniformFloat64(rng) < options.lateRate) eventMs -= uniformInt(rng, LATE_MIN_MS, LATE_MAX_MS);
    const country = pickWeighted(rng, COUNTRIES, countryWeight);
    const geo: GeoRecord = {
      ind,
      timestamp: formatEventTime(eventMs),
      latitude: round(country.lat + (uniformFloat64(rng) - 0.5) * 2 * country.spread, 5),
      longitude: round(country.lon + (uniformFloat64(rng) - 0.5) * 2 * country.spread, 5),
      country: country.name,
    };

    const group = pickWeighted(rng, AGE_GROUPS, ageWeight);
    const user: UserRecord = {
      ind,
      first_name: first,
      last_name: last,
      age: uniformInt(rng, group.min, group.max),
      date_joined: formatEventTime(JOINED_FROM + Math.floor(uniformFloat64(rng) * (JOINED_TO - JOINED_FROM))),
    };

    const post = { pin, geo, user };
    if (recent.length < DUPLICATE_WINDOW) recent.push(post);
    else recent[n % DUPLICATE_WINDOW] = post;
    yield post;
  }
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** The NDJSON batch lines of a post, in pin, geo, user order. */
export function postRecords(post: Post): TypedRecord[] {
  return [
    { type: 'pin', record: post.pin },
    { type: 'geo', record: post.geo },
    { type: 'user', record: post.user },
  ];
}
