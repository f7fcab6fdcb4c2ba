import { describe, expect, it } from 'vitest';
import { curatedPartitionPrefix, dlqObjectKey, parseObjectKey, qualityReportKey, rawDayPrefix, rawObjectKey } from './lake.js';

describe('lake layout', () => {
  const at = Date.UTC(2020, 7, 28, 3, 52, 47);

  it('names raw objects from topic, partition, zero-padded start offset and record hour', () => {
    expect(rawObjectKey({ topic: 'pinterest.geo.v1', partition: 2, startOffset: 1234n, recordTimeMs: at })).toBe(
      'raw/pinterest.geo.v1/dt=2020-08-28/hour=03/pinterest.geo.v1+2+00000000000000001234.ndjson.gz',
    );
    expect(dlqObjectKey({ topic: 't', partition: 0, startOffset: '0', recordTimeMs: at })).toBe('dlq/t/dt=2020-08-28/hour=03/t+0+00000000000000000000.ndjson.gz');
  });

  it('sorts names in offset order', () => {
    const keys = [5n, 40n, 300n].map((o) => rawObjectKey({ topic: 't', partition: 0, startOffset: o, recordTimeMs: at }));
    expect([...keys].sort()).toEqual(keys);
  });

  it('parses its own names back and refuses others', () => {
    const key = rawObjectKey({ topic: 'pinterest.pin.v1', partition: 1, startOffset: 9_007_199_254_740_993n, recordTimeMs: at });
    expect(parseObjectKey(key)).toEqual({ area: 'raw', topic: 'pinterest.pin.v1', dt: '2020-08-28', hour: '03', partition: 1, startOffset: 9_007_199_254_740_993n });
    expect(parseObjectKey('raw/a/dt=2020-08-28/hour=03/b+1+00000000000000000001.ndjson.gz')).toBeUndefined();
    expect(parseObjectKey('raw/a/dt=2020-08-28/hour=03/a+1+1.ndjson.gz')).toBeUndefined();
  });

  it('builds day prefixes and rejects dates that are not on the calendar', () => {
    expect(rawDayPrefix('pinterest.pin.v1', '2020-08-28')).toBe('raw/pinterest.pin.v1/dt=2020-08-28/');
    expect(curatedPartitionPrefix('pins', '2020-08-28')).toBe('curated/pins/dt=2020-08-28/');
    expect(qualityReportKey('2020-08-28')).toBe('reports/quality/dt=2020-08-28/report.json');
    expect(() => rawDayPrefix('t', '2020-02-30')).toThrow(RangeError);
    expect(() => rawDayPrefix('t', '28/08/2020')).toThrow(/YYYY-MM-DD/);
  });
});
