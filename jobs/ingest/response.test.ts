import { describe, expect, it } from 'vitest';
import { batchAnswer } from './response.js';
import type { RejectedLine, StoredRecord } from './types.js';

describe('batchAnswer', () => {
  it('is exactly JSON.stringify of the answer objects', () => {
    const stored: StoredRecord[] = [
      { eventId: '0b6f7f4e-52c1-4d6f-9a4e-6f1f0c2d3e4a', topic: 'pinterest.geo.v1', partition: 2, offset: '41' },
      { eventId: 'c5a1a1c2-1d2e-4f3a-8b4c-5d6e7f8a9b0c', topic: 'pinterest.pin.v1', partition: 0, offset: '9007199254740993' },
    ];
    const rejected: RejectedLine[] = [
      { line: 2, field: 'record.ind', reason: 'must be "an" integer\n\u2028', code: 'PINPIPE_INPUT_INVALID', details: [{ field: 'x', reason: 'is required' }] },
    ];
    const lines = [1, 3];
    const expected = { accepted: 2, rejected, records: stored.map((s, i) => ({ line: lines[i], ...s })) };
    expect(batchAnswer(rejected, stored, lines)).toBe(JSON.stringify(expected));
    expect(JSON.parse(batchAnswer(rejected, stored, lines))).toEqual(expected);
    expect(batchAnswer([], [], [])).toBe('{"accepted":0,"rejected":[],"records":[]}');
  });
});
