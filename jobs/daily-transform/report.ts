import type { TransformStats } from './types.js';

export const REPORT_VERSION = 1;

export interface Thresholds {
  max_rejected_pct: number;
}

export interface QualityReport extends TransformStats {
  version: number;
  date: string;
  passed: boolean;
  /** Why the day failed, one sentence per broken threshold; empty when passed. */
  failures: string[];
  thresholds: Thresholds;
  rejected_pct: number;
}

/** Percentage with two decimals, so the report reads the same on every run. */
export function percent(part: number, whole: number): number {
  return whole === 0 ? 0 : Math.round((part / whole) * 10_000) / 100;
}

/** Applies the thresholds to what the transform measured. */
export function buildReport(date: string, stats: TransformStats, thresholds: Thresholds): QualityReport {
  const totalLines = Object.values(stats.input.lines).reduce((a, b) => a + b, 0);
  const rejectedPct = percent(stats.rejected.total, totalLines);
  const failures: string[] = [];
  if (rejectedPct > thresholds.max_rejected_pct) {
    failures.push(`${stats.rejected.total} of ${totalLines} raw lines (${rejectedPct}%) were rejected, more than --max-rejected-pct ${thresholds.max_rejected_pct}%`);
  }
  return { version: REPORT_VERSION, date, passed: failures.length === 0, failures, thresholds, rejected_pct: rejectedPct, ...stats };
}
