import { describe, expect, it } from 'vitest';
import { batchLimitsFor, DEFAULT_THRESHOLDS, parseDataSize, thresholdsFromSettings } from './thresholds.js';

describe('parseDataSize', () => {
  it('reads the sizes system_views.settings shows', () => {
    expect(parseDataSize('5KiB')).toBe(5120);
    expect(parseDataSize('64 KiB')).toBe(65_536);
    expect(parseDataSize('1MiB')).toBe(1_048_576);
    expect(parseDataSize('50', 1024)).toBe(51_200);
    expect(parseDataSize('12B')).toBe(12);
  });

  it('gives up on what it cannot read', () => {
    expect(parseDataSize('five KiB')).toBeUndefined();
    expect(parseDataSize('5 parsecs')).toBeUndefined();
    expect(parseDataSize('')).toBeUndefined();
  });
});

describe('thresholdsFromSettings', () => {
  it('reads Cassandra 4.1+ names', () => {
    expect(
      thresholdsFromSettings([
        { name: 'batch_size_warn_threshold', value: '64KiB' },
        { name: 'batch_size_fail_threshold', value: '640KiB' },
        { name: 'unlogged_batch_across_partitions_warn_threshold', value: '100' },
      ]),
    ).toEqual({ warnBytes: 65_536, failBytes: 655_360, acrossPartitionsWarn: 100 });
  });

  it('falls back to the 4.0 names in KiB, then to the defaults', () => {
    expect(thresholdsFromSettings([{ name: 'batch_size_warn_threshold_in_kb', value: '8' }])).toEqual({ ...DEFAULT_THRESHOLDS, warnBytes: 8192 });
    expect(thresholdsFromSettings([])).toEqual(DEFAULT_THRESHOLDS);
    expect(thresholdsFromSettings([{ name: 'batch_size_warn_threshold', value: null }, { name: 'unlogged_batch_across_partitions_warn_threshold', value: 'x' }])).toEqual(
      DEFAULT_THRESHOLDS,
    );
  });
});

describe('batchLimitsFor', () => {
  it("keeps Cassandra's defaults at 4,000 bytes as before, and replica-set batches at 10 partitions", () => {
    const limits = batchLimitsFor(DEFAULT_THRESHOLDS, {});
    expect(limits.partition).toEqual({ maxRows: 100, maxBytes: 4000, maxOpenGroups: 256 });
    expect(limits.replicas).toEqual({ maxRows: 10, maxBytes: 4000, maxOpenGroups: 256 });
  });

  it('follows raised thresholds, and never goes over the failure threshold', () => {
    expect(batchLimitsFor({ warnBytes: 65_536, failBytes: 655_360, acrossPartitionsWarn: 100 }, {}).replicas).toEqual({ maxRows: 100, maxBytes: 51_200, maxOpenGroups: 256 });
    expect(batchLimitsFor({ warnBytes: 65_536, failBytes: 10_240, acrossPartitionsWarn: 10 }, {}).partition.maxBytes).toBe(8000);
  });

  it('lets the flags win', () => {
    const limits = batchLimitsFor(DEFAULT_THRESHOLDS, { batchRows: 20, batchBytes: 4000 });
    expect(limits.partition).toEqual({ maxRows: 20, maxBytes: 4000, maxOpenGroups: 256 });
    expect(limits.replicas).toEqual({ maxRows: 20, maxBytes: 4000, maxOpenGroups: 256 });
  });
});
