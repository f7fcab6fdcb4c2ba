import { describe, expect, it } from 'vitest';
import { ConfigError } from '../lib/errors.js';
import { runCli } from '../test/cli.js';
import { checkDate } from '../lib/config.js';
import { buildReport, percent } from './report.js';
import type { TransformStats } from './types.js';

describe('pinpipe daily-transform settings', () => {
  it('rejects a bad --date with one line and exit 2', async () => {
    const { code, stdout, stderr } = await runCli(['daily-transform', '--date', '2031-02-30']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.trim()).toBe('pinpipe: --date / PINPIPE_DATE: "2031-02-30" is not a calendar date in YYYY-MM-DD form (see pinpipe daily-transform --help)');
  });

  it('requires --date', async () => {
    const { code, stderr } = await runCli(['daily-transform']);
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/--date \/ PINPIPE_DATE: is required/);
  });

  it('names the flag of a bad threshold or memory limit', async () => {
    const pct = await runCli(['daily-transform', '--date', '2031-01-01', '--max-rejected-pct', '101']);
    expect(pct.code).toBe(2);
    expect(pct.stderr).toMatch(/^pinpipe: --max-rejected-pct \/ PINPIPE_MAX_REJECTED_PCT: must be <= 100/);
    const memory = await runCli(['daily-transform', '--date', '2031-01-01'], { PINPIPE_MEMORY_LIMIT: 'lots' });
    expect(memory.code).toBe(2);
    expect(memory.stderr).toMatch(/^pinpipe: --memory-limit \/ PINPIPE_MEMORY_LIMIT: has an invalid value: expected a size such as 512MB/);
  });

  it('lists daily-transform and cassandra-load in --help', async () => {
    const { stdout } = await runCli(['--help']);
    expect(stdout).toMatch(/pinpipe daily-transform/);
    expect(stdout).toMatch(/pinpipe cassandra-load/);
  });
});

describe('checkDate', () => {
  it('accepts calendar days only', () => {
    expect(checkDate('2031-01-05')).toBe('2031-01-05');
    expect(() => checkDate('2031-1-5')).toThrow(ConfigError);
    expect(() => checkDate(undefined)).toThrow('--date / PINPIPE_DATE: is required (YYYY-MM-DD)');
  });
});

describe('quality verdict', () => {
  const stats = (rejected: number, lines: number): TransformStats => ({
    input: { objects: { pin: 1, geo: 1, user: 1 }, lines: { pin: lines, geo: 0, user: 0 }, read_mode: { pin: 'fast', geo: 'fast', user: 'fast' } },
    rejected: { total: rejected, by_type: { pin: rejected, geo: 0, user: 0 }, by_reason: {}, samples: [] },
    tables: {},
    joins: { pins_without_geo: 0, pins_without_user: 0 },
    placeholders_replaced: {},
    invalid_values_nulled: {},
    metrics: { history_days: 1, history_posts: 0, rows: {} },
  });

  it('passes at the threshold and fails above it, saying why', () => {
    expect(buildReport('2031-01-05', stats(5, 100), { max_rejected_pct: 5 })).toMatchObject({ passed: true, failures: [], rejected_pct: 5 });
    const failed = buildReport('2031-01-05', stats(6, 100), { max_rejected_pct: 5 });
    expect(failed.passed).toBe(false);
    expect(failed.failures).toEqual(['6 of 100 raw lines (6%) were rejected, more than --max-rejected-pct 5%']);
  });

  it('rounds percentages to two decimals and treats an empty day as 0%', () => {
    expect(percent(1, 3)).toBe(33.33);
    expect(percent(0, 0)).toBe(0);
  });
});
