import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EVENT_TIME_PATTERN, formatEventTime, parseEventTime, PLACEHOLDERS, recordTypeOfTopic, TOPICS, validateRecord, validateTypedRecord } from './contracts.js';
import { bundledDataFile } from './paths.js';

const samplePins = readFileSync(bundledDataFile('pinterest_pin_sample.ndjson'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((line) => JSON.parse(line) as Record<string, unknown>);

const goodGeo = { ind: 7528, timestamp: '2020-08-28 03:52:47', latitude: -89.9787, longitude: -173.293, country: 'Albania' };
const goodUser = { ind: 7528, first_name: 'Abigail', last_name: 'Ali', age: 20, date_joined: '2015-10-24 11:23:51' };

describe('pin contract', () => {
  it('accepts every one of the 200 real raw pins, placeholders included', () => {
    expect(samplePins).toHaveLength(200);
    const failures = samplePins.map((p) => validateRecord('pin', p)).filter((r) => !r.ok);
    expect(failures).toEqual([]);
  });

  it('accepts every follower-count form the seed data uses', () => {
    for (const form of ['13k', '1M', '2B', '850', '0', '1.5k', 'User Info Error', 42]) {
      expect(validateRecord('pin', { ...samplePins[0], follower_count: form }).ok, String(form)).toBe(true);
    }
  });

  it('names the field and the reason for a wrong type', () => {
    const result = validateRecord('pin', { ...samplePins[0], index: '46' });
    expect(result).toEqual({ ok: false, issues: [{ field: 'index', reason: 'must be an integer' }] });
  });

  it('names a missing required field', () => {
    const { unique_id: _dropped, ...rest } = samplePins[0] as Record<string, unknown>;
    expect(validateRecord('pin', rest)).toEqual({ ok: false, issues: [{ field: 'unique_id', reason: 'is required' }] });
  });

  it('rejects an unknown media type and an unreadable follower count with the allowed forms', () => {
    const media = validateRecord('pin', { ...samplePins[0], is_image_or_video: 'gif' });
    expect(media.ok).toBe(false);
    if (!media.ok) expect(media.issues[0]).toEqual({ field: 'is_image_or_video', reason: 'must be "image", "video", "multi-video(story page format)"' });
    const followers = validateRecord('pin', { ...samplePins[0], follower_count: 'lots' });
    expect(followers.ok).toBe(false);
    if (!followers.ok) expect(followers.issues[0]?.field).toBe('follower_count');
  });

  it('keeps unknown extra fields rather than refusing the record', () => {
    expect(validateRecord('pin', { ...samplePins[0], board: 'x' }).ok).toBe(true);
  });

  it('treats every known placeholder as a valid raw value', () => {
    for (const [field, values] of Object.entries(PLACEHOLDERS)) {
      if (field === 'follower_count') continue;
      for (const value of values) expect(validateRecord('pin', { ...samplePins[0], [field]: value }).ok, `${field}=${value}`).toBe(true);
    }
  });
});

describe('geo and user contracts', () => {
  it('accept records as the emulation posts them', () => {
    expect(validateRecord('geo', goodGeo).ok).toBe(true);
    expect(validateRecord('user', goodUser).ok).toBe(true);
  });

  it('reject coordinates out of range and impossible dates', () => {
    const geo = validateRecord('geo', { ...goodGeo, latitude: 91 });
    expect(geo.ok).toBe(false);
    if (!geo.ok) expect(geo.issues[0]?.field).toBe('latitude');
    expect(validateRecord('geo', { ...goodGeo, timestamp: '2021-02-30 10:00:00' })).toEqual({
      ok: false,
      issues: [{ field: 'timestamp', reason: 'is not a real calendar date and time' }],
    });
    const user = validateRecord('user', { ...goodUser, date_joined: 'last tuesday' });
    expect(user.ok).toBe(false);
    if (!user.ok) expect(user.issues[0]?.field).toBe('date_joined');
  });

  it('reports several problems at once', () => {
    const result = validateRecord('user', { ind: -1, first_name: 3, age: 'old' });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.issues.map((i) => i.field).sort()).toEqual(['age', 'date_joined', 'first_name', 'ind', 'last_name']);
  });
});

describe('typed batch lines', () => {
  it('prefix record fields with "record."', () => {
    const result = validateTypedRecord({ type: 'geo', record: { ...goodGeo, country: '' } });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.issues[0]?.field).toBe('record.country');
  });

  it('reject unknown types and non-objects', () => {
    expect(validateTypedRecord({ type: 'board', record: {} })).toEqual({ ok: false, issues: [{ field: 'type', reason: 'must be one of "pin", "geo", "user"' }] });
    expect(validateTypedRecord([1, 2]).ok).toBe(false);
    expect(validateTypedRecord(null).ok).toBe(false);
  });
});

describe('event times and topics', () => {
  it('parse the emulation format as UTC and format back identically', () => {
    const ms = parseEventTime('2020-08-28 03:52:47');
    expect(ms).toBe(Date.UTC(2020, 7, 28, 3, 52, 47));
    expect(formatEventTime(ms as number)).toBe('2020-08-28 03:52:47');
    expect(parseEventTime('2020-08-28T05:52:47+02:00')).toBe(ms);
    expect(parseEventTime('2020-13-01 00:00:00')).toBeUndefined();
  });

  it('refuse a day the calendar lacks, and agree with a plain round-trip check on every edge', () => {
    // The straightforward definition: Date.parse, then the date part must survive a round trip.
    const reference = (text: string): number | undefined => {
      if (!new RegExp(EVENT_TIME_PATTERN).test(text)) return undefined;
      const iso = text.replace(' ', 'T');
      const zoned = /(Z|[+-]\d{2}:?\d{2})$/.test(iso);
      const millis = Date.parse(zoned ? iso : `${iso}Z`);
      if (Number.isNaN(millis)) return undefined;
      return zoned || new Date(millis).toISOString().slice(0, 10) === text.slice(0, 10) ? millis : undefined;
    };
    expect(parseEventTime('2021-02-29 12:00:00')).toBeUndefined();
    expect(parseEventTime('2020-02-29 12:00:00')).toBe(Date.UTC(2020, 1, 29, 12));
    expect(parseEventTime('1900-02-29 00:00:00')).toBeUndefined();
    expect(parseEventTime('2000-02-29 00:00:00')).toBe(Date.UTC(2000, 1, 29));
    const cases = ['2020-08-28 03:52:47', '2020-08-28T03:52:47', '2020-08-28 03:52:47.123456', '2020-04-31 00:00:00', '2020-06-30 23:59:59', '2020-01-01 24:00:00',
      '2020-12-31 23:59:60', '2020-00-10 00:00:00', '2020-01-00 00:00:00', '2020-01-32 00:00:00', '0001-01-01 00:00:00', '0099-12-31 23:59:59', '9999-12-31 23:59:59',
      '2020-02-30T00:00:00Z', '2020-08-28 03:52:47+0530', '2020-08-28 03:52:47-01:00', '2020-08-28 3:52:47', '2020-08-28  03:52:47', 'x', ''];
    for (let month = 1; month <= 12; month += 1) for (const day of [28, 29, 30, 31]) for (const year of [1999, 2000, 2024, 2100]) cases.push(`${year}-${String(month).padStart(2, '0')}-${day} 00:00:00`);
    for (const text of cases) expect(parseEventTime(text), text).toBe(reference(text));
  });

  it('map topics to record types both ways', () => {
    expect(TOPICS).toEqual({ pin: 'pinterest.pin.v1', geo: 'pinterest.geo.v1', user: 'pinterest.user.v1' });
    expect(recordTypeOfTopic('pinterest.geo.v1')).toBe('geo');
    expect(recordTypeOfTopic('other')).toBeUndefined();
  });
});
