import { describe, expect, it } from 'vitest';
import { judge, type ReconcileRow } from './run.js';
import { reconcileSql } from './sql.js';

const row = (kind: 'pin' | 'geo', key: string, window_start: string | null, batch: number, stream: number, late: number): ReconcileRow => ({
  kind,
  key,
  window_start,
  batch,
  stream,
  late,
  unexplained: batch - stream - late,
});

describe('judge', () => {
  it('passes when every difference is a late record, and totals the keys', () => {
    const verdict = judge([row('geo', 'Chile', null, 10, 8, 2), row('pin', 'art', null, 5, 5, 0)], 0);
    expect(verdict).toMatchObject({ passed: true, failures: [], windows: [], totals: { batch: 15, stream: 13, late: 2, unexplained: 0 } });
  });

  it('fails naming the category and its windows when the unexplained records exceed the bound', () => {
    const rows = [row('pin', 'art', null, 5, 6, 0), row('pin', 'art', '2031-01-01 10:05:00.000', 1, 2, 0), row('geo', 'Chile', null, 3, 3, 0)];
    const verdict = judge(rows, 0);
    expect(verdict.passed).toBe(false);
    expect(verdict.failures).toEqual(['category "art": 1 records the late ones do not explain, over 1 window(s): window 2031-01-01 10:05:00.000 (batch 1, stream 2, late 0)']);
    expect(judge(rows, 1).passed).toBe(true);
  });

  it('counts differences window by window: two windows that cancel out over the day still fail', () => {
    const rows = [row('geo', 'Japan', null, 4, 4, 0), row('geo', 'Japan', '2031-01-01 00:00:00.000', 1, 2, 0), row('geo', 'Japan', '2031-01-01 00:01:00.000', 3, 2, 0)];
    expect(judge(rows, 1).failures).toEqual([expect.stringMatching(/^country "Japan": 2 records .* over 2 window\(s\)/)]);
  });
});

describe('reconcileSql', () => {
  const sql = reconcileSql(
    { lakeCatalog: 'lake', lakeSchema: 'curated', streamCatalog: 'stream', streamSchema: 'public', groupId: "g'1", pinTopic: 'p', geoTopic: 'g', windowMs: 60_000, watermark: '2031-01-02 00:00:10.000' },
    '2031-01-01',
  );

  it('reads the day from the lake and the group from the stream, literals quoted', () => {
    expect(sql).toContain(`FROM "lake"."curated"."pins" WHERE dt = DATE '2031-01-01'`);
    expect(sql).toContain(`FROM "stream"."public"."stream_agg_pin_window" WHERE group_id = 'g''1' AND final`);
    expect(sql).toContain("topic IN ('p', 'g')");
  });

  it('compares only the windows the watermark has closed', () => {
    expect(sql).toContain("WHERE date_add('millisecond', 60000, window_start) <= TIMESTAMP '2031-01-02 00:00:10.000'");
  });
});
