import { describe, expect, it } from 'vitest';
import { decodeUtf8, splitNdjson } from './ndjson.js';
import { parseBatch, parseSingle } from './parse.js';

const geo = { ind: 7, timestamp: '2020-08-28 03:52:47', latitude: 1.5, longitude: -2, country: 'Chile' };
const line = (value: unknown): string => JSON.stringify(value);

describe('splitNdjson', () => {
  it('numbers lines from 1, keeps blank lines numbered, drops the final line break and CRs', () => {
    const body = Buffer.from('a\r\n\nb\n  \nc\n');
    expect(splitNdjson(body)).toEqual([
      { line: 1, text: 'a' },
      { line: 2, text: '' },
      { line: 3, text: 'b' },
      { line: 4, text: '  ' },
      { line: 5, text: 'c' },
    ]);
    expect(splitNdjson(Buffer.from('a\nb'))).toEqual([
      { line: 1, text: 'a' },
      { line: 2, text: 'b' },
    ]);
    expect(splitNdjson(Buffer.alloc(0))).toEqual([]);
  });

  it('cuts valid bodies exactly as splitting the decoded text at line breaks would', () => {
    const reference = (body: Buffer) => {
      let text = body.toString('utf8');
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      const parts = text.split('\n');
      if (parts[parts.length - 1] === '') parts.pop();
      return parts.map((part, i) => ({ line: i + 1, text: part.endsWith('\r') ? part.slice(0, -1) : part }));
    };
    const pieces = ['a', 'é', '中文', '{"x":1}', '', ' ', '\r', '\n', '\r\n', '\n\n', '\ufeff', '😀'];
    let state = 7;
    const next = (): number => (state = (state * 1_103_515_245 + 12_345) % 2_147_483_648);
    for (let i = 0; i < 500; i += 1) {
      const body = Buffer.from(Array.from({ length: next() % 12 }, () => pieces[next() % pieces.length]).join(''));
      expect(splitNdjson(body), JSON.stringify(body.toString())).toEqual(reference(body));
    }
  });

  it('drops a byte-order mark at the start only', () => {
    expect(splitNdjson(Buffer.from('\ufeffa\n\ufeffb'))).toEqual([
      { line: 1, text: 'a' },
      { line: 2, text: '\ufeffb' },
    ]);
  });

  it('isolates lines that are not valid UTF-8, keeping their neighbours and numbering', () => {
    const bad = [
      Buffer.from([0xff]), // never valid
      Buffer.from([0xc0, 0xaf]), // overlong "/"
      Buffer.from([0xed, 0xa0, 0x80]), // UTF-16 surrogate
      Buffer.from([0xe2, 0x82]), // truncated sequence
    ];
    for (const bytes of bad) {
      const body = Buffer.concat([Buffer.from('é1\n'), Buffer.from('"x'), bytes, Buffer.from('"\n\u00e9\u4e2d3\r\n')]);
      expect(splitNdjson(body)).toEqual([{ line: 1, text: 'é1' }, { line: 2, invalidUtf8: true }, { line: 3, text: 'é中3' }]);
    }
    // A BOM survives the slow path too.
    expect(splitNdjson(Buffer.concat([Buffer.from('\ufeffa\n'), Buffer.from([0xff])]))).toEqual([{ line: 1, text: 'a' }, { line: 2, invalidUtf8: true }]);
  });

  it('decodes strictly', () => {
    expect(decodeUtf8(Buffer.from('héllo'))).toBe('héllo');
    expect(decodeUtf8(Buffer.from([0x68, 0xff]))).toBeUndefined();
  });
});

describe('parseBatch', () => {
  it('keeps valid lines with their numbers and lists each invalid line once, with field, reason and code', () => {
    const noInd: Record<string, unknown> = { ...geo };
    delete noInd.ind;
    const body = Buffer.concat([
      Buffer.from(`${line({ type: 'geo', record: geo })}\n\n`), // 1, 2 blank
      Buffer.from(`${line({ type: 'geo', record: noInd })}\n`), // 3
      Buffer.from('{"type":"geo","record":\n'), // 4
      Buffer.from([0x7b, 0xff, 0x7d, 0x0a]), // 5
      Buffer.from(`${line({ type: 'board', record: geo })}\n`), // 6
      Buffer.from(`${line({ type: 'geo', record: { ...geo, latitude: 'north', country: '' } })}\n`), // 7
      Buffer.from(`${line([1, 2])}\n`), // 8
      Buffer.from(`${line({ type: 'user', record: { ind: 9, first_name: 'A', last_name: 'B', age: 30, date_joined: '2016-02-30 10:00:00' } })}\n`), // 9
      Buffer.from(`   \n${line({ type: 'geo', record: { ...geo, ind: 8 } })}`), // 10 blank, 11
    ]);
    const result = parseBatch(body);
    expect(result.records.map((r) => r.line)).toEqual([1, 11]);
    expect(result.rejected).toEqual([
      { line: 3, field: 'record.ind', reason: 'is required', code: 'PINPIPE_INPUT_INVALID' },
      { line: 4, field: '', reason: 'not valid JSON', code: 'PINPIPE_INPUT_INVALID' },
      { line: 5, field: '', reason: 'not valid UTF-8', code: 'PINPIPE_INPUT_INVALID' },
      { line: 6, field: 'type', reason: 'must be one of "pin", "geo", "user"', code: 'PINPIPE_INPUT_INVALID' },
      { line: 7, field: 'record.latitude', reason: 'must be a number', code: 'PINPIPE_INPUT_INVALID', details: [{ field: 'record.country', reason: 'must NOT have fewer than 1 characters' }] },
      { line: 8, field: '', reason: 'must be a JSON object like {"type":"pin","record":{...}}', code: 'PINPIPE_INPUT_INVALID' },
      { line: 9, field: 'record.date_joined', reason: 'is not a real calendar date and time', code: 'PINPIPE_INPUT_INVALID' },
    ]);
    expect(result.reasons).toEqual({ contract: 5, invalid_json: 1, invalid_utf8: 1 });
  });

  it('treats an empty or blank body as no records and no rejections', () => {
    expect(parseBatch(undefined)).toEqual({ records: [], rejected: [], reasons: {} });
    expect(parseBatch(Buffer.from('\n  \n\r\n'))).toEqual({ records: [], rejected: [], reasons: {} });
  });
});

describe('parseSingle', () => {
  it('accepts one record of the route type, with or without a byte-order mark', () => {
    expect(parseSingle('geo', Buffer.from(line(geo)))).toEqual({ ok: true, typed: { type: 'geo', record: geo } });
    expect(parseSingle('geo', Buffer.from(`\ufeff${line(geo)}`))).toEqual({ ok: true, typed: { type: 'geo', record: geo } });
  });

  it('names the field and reason of each problem', () => {
    const result = parseSingle('geo', Buffer.from(line({ ...geo, latitude: 91, ind: '7' })));
    expect(result).toMatchObject({ ok: false, reason: 'contract', details: [{ field: 'ind', reason: 'must be an integer' }, { field: 'latitude', reason: 'must be <= 90' }] });
    expect(!result.ok && result.message).toBe('invalid geo record: ind must be an integer; latitude must be <= 90');
  });

  it('refuses bodies that are empty, not UTF-8, not JSON or not an object', () => {
    expect(parseSingle('pin', undefined)).toMatchObject({ ok: false, reason: 'invalid_json', details: [{ field: '', reason: 'is empty' }] });
    expect(parseSingle('pin', Buffer.from([0x7b, 0xfe, 0x7d]))).toMatchObject({ ok: false, reason: 'invalid_utf8', details: [{ field: '', reason: 'not valid UTF-8' }] });
    expect(parseSingle('pin', Buffer.from('{"index": 1,'))).toMatchObject({ ok: false, reason: 'invalid_json', details: [{ field: '', reason: 'not valid JSON' }] });
    expect(parseSingle('pin', Buffer.from('[{"index": 1}]'))).toMatchObject({ ok: false, reason: 'contract', details: [{ field: '', reason: 'must be a JSON object' }] });
  });
});
