import { describe, expect, it } from 'vitest';
import { parseEventTime, PLACEHOLDERS, validateRecord, type PinRecord } from '../lib/contracts.js';
import { bundledDataFile } from '../lib/paths.js';
import { DEFAULT_GENERATOR_OPTIONS, generatePosts, postRecords, type Post } from './generator.js';
import { loadSeedPins } from './seed-pins.js';

const seedPins = await loadSeedPins(bundledDataFile('pinterest_pin_sample.ndjson'));
const START = Date.UTC(2026, 0, 15);

function take(n: number, overrides: Partial<Parameters<typeof generatePosts>[1]> = {}): Post[] {
  const out: Post[] = [];
  for (const post of generatePosts(seedPins, { ...DEFAULT_GENERATOR_OPTIONS, seed: 7, startTimeMs: START, ...overrides })) {
    out.push(post);
    if (out.length === n) break;
  }
  return out;
}

/** Share of records for which `test` holds. */
function rate<T>(items: readonly T[], test: (item: T) => boolean): number {
  return items.filter(test).length / items.length;
}

const isPlaceholder = (field: keyof typeof PLACEHOLDERS) => (pin: PinRecord) => (PLACEHOLDERS[field] as readonly unknown[]).includes(pin[field]);

describe('emulated posts', () => {
  it('are deterministic for a seed and differ between seeds', () => {
    expect(JSON.stringify(take(500))).toBe(JSON.stringify(take(500)));
    expect(JSON.stringify(take(50, { seed: 8 }))).not.toBe(JSON.stringify(take(50)));
  });

  it('join pin, geo and user on ind', () => {
    for (const { pin, geo, user } of take(2_000)) {
      expect(geo.ind).toBe(pin.index);
      expect(user.ind).toBe(pin.index);
    }
  });

  it('satisfy the contracts', () => {
    const invalid = take(3_000)
      .flatMap(postRecords)
      .map((r) => validateRecord(r.type, r.record))
      .filter((r) => !r.ok);
    expect(invalid).toEqual([]);
  });

  const N = 30_000;
  const posts = take(N, { duplicateRate: 0 });
  const pins = posts.map((p) => p.pin);

  it.each(['title', 'description', 'tag_list', 'image_src', 'follower_count'] as const)('keep the seed rate of %s placeholders', (field) => {
    const seedRate = rate(seedPins, isPlaceholder(field));
    const emulated = rate(pins, isPlaceholder(field));
    expect(seedRate).toBeGreaterThan(0);
    // Four standard errors of a binomial share: fails only if the generator drifts from the seed data.
    const tolerance = 4 * Math.sqrt((seedRate * (1 - seedRate)) / N);
    expect(Math.abs(emulated - seedRate)).toBeLessThan(tolerance);
  });

  it('keep the seed mix of follower-count forms, media types and categories', () => {
    const form = (p: PinRecord) => (typeof p.follower_count === 'number' ? 'n' : /k$/.test(p.follower_count) ? 'k' : /M$/.test(p.follower_count) ? 'M' : /^\d+$/.test(p.follower_count) ? 'digits' : 'other');
    for (const value of ['k', 'M', 'digits']) {
      const seedRate = rate(seedPins, (p) => form(p) === value);
      expect(Math.abs(rate(pins, (p) => form(p) === value) - seedRate), value).toBeLessThan(4 * Math.sqrt((seedRate * (1 - seedRate)) / N) + 1e-9);
    }
    const story = 'multi-video(story page format)';
    const seedStory = rate(seedPins, (p) => p.is_image_or_video === story);
    expect(Math.abs(rate(pins, (p) => p.is_image_or_video === story) - seedStory)).toBeLessThan(0.01);
    expect(new Set(pins.map((p) => p.category))).toEqual(new Set(seedPins.map((p) => p.category)));
  });

  it('tie unknown posters to the "User Info Error" follower count', () => {
    for (const pin of pins) expect(pin.poster_name === 'User Info Error').toBe(pin.follower_count === 'User Info Error');
  });

  it('space event times by the rate, a little out of order, with a few late', () => {
    const times = posts.map((p) => parseEventTime(p.geo.timestamp) as number);
    const lastSlot = START + ((N - 1) * 1000) / DEFAULT_GENERATOR_OPTIONS.rate;
    expect(Math.max(...times)).toBeLessThanOrEqual(lastSlot + DEFAULT_GENERATOR_OPTIONS.jitterMs);
    const outOfOrder = times.filter((t, i) => i > 0 && t < (times[i - 1] as number)).length;
    expect(outOfOrder).toBeGreaterThan(0);
    const late = posts.filter((p, i) => (parseEventTime(p.geo.timestamp) as number) < START + (i * 1000) / DEFAULT_GENERATOR_OPTIONS.rate - 30_000).length / N;
    expect(late).toBeGreaterThan(DEFAULT_GENERATOR_OPTIONS.lateRate / 2);
    expect(late).toBeLessThan(DEFAULT_GENERATOR_OPTIONS.lateRate * 2);
  });

  it('cover all four age groups and realistic join dates', () => {
    const ages = posts.map((p) => p.user.age);
    expect(Math.min(...ages)).toBeGreaterThanOrEqual(18);
    for (const [lo, hi] of [[18, 24], [25, 35], [36, 50], [51, 200]] as const) expect(rate(ages, (a) => a >= lo && a <= hi)).toBeGreaterThan(0.05);
    for (const p of posts.slice(0, 1000)) expect(p.user.date_joined.slice(0, 4)).toMatch(/^201[5-7]$/);
  });

  it('repeat earlier posts verbatim at the duplicate rate', () => {
    const withDuplicates = take(20_000, { duplicateRate: 0.05 });
    const ids = withDuplicates.map((p) => p.pin.unique_id);
    const repeated = ids.length - new Set(ids).size;
    expect(repeated / ids.length).toBeGreaterThan(0.04);
    expect(repeated / ids.length).toBeLessThan(0.06);
    expect(new Set(pins.map((p) => p.unique_id)).size).toBe(N);
  });
});
