import { PutObjectCommand } from '@aws-sdk/client-s3';
import { topicsOf } from '../lib/config.js';
import { DependencyError, PinpipeError } from '../lib/errors.js';
import type { JobContext } from '../lib/job.js';
import { reconcileReportKey } from '../lib/lake.js';
import { createS3Client } from '../lib/s3.js';
import { isMissingObject, tablesWithoutDay, TrinoClient } from '../lib/trino.js';
import type { ReconcileOptions } from './command.js';
import { reconcileSql, repeatsSql, watermarkSql, windowLengthsSql, type ReconcileSources } from './sql.js';

export interface ReconcileRow {
  kind: 'pin' | 'geo';
  key: string;
  /** The window's start (UTC), or null on the row of the whole day. */
  window_start: string | null;
  batch: number;
  stream: number;
  late: number;
  unexplained: number;
}

export interface ReconcileReport {
  date: string;
  stream_group_id: string;
  window_ms: number;
  /** The group's watermark when reconcile ran: windows ending after it were still open and not compared. */
  compared_until: string;
  /** Whether the stream had closed every window of the day (its watermark past the day's end). */
  complete: boolean;
  passed: boolean;
  max_unexplained: number;
  totals: { batch: number; stream: number; late: number; unexplained: number };
  /** Per category (pin) and country (geo) over the day. */
  keys: Array<Omit<ReconcileRow, 'window_start'>>;
  /** The windows where batch ≠ stream + late. */
  windows: ReconcileRow[];
  /** What stream-agg dropped as repeats of records it had counted: the batch drops the same copies. */
  repeats: Array<{ topic: string; reason: string; n: number }>;
  failures: string[];
}

/** Judges the rows of reconcileSql: a key fails when what late records do not explain exceeds the bound. */
export function judge(rows: readonly ReconcileRow[], maxUnexplained: number): Pick<ReconcileReport, 'keys' | 'windows' | 'totals' | 'failures' | 'passed'> {
  const keys = rows.filter((r) => r.window_start === null).map(({ window_start: _w, ...rest }) => rest);
  const windows = rows.filter((r) => r.window_start !== null);
  const totals = { batch: 0, stream: 0, late: 0, unexplained: 0 };
  for (const k of keys) {
    totals.batch += k.batch;
    totals.stream += k.stream;
    totals.late += k.late;
    totals.unexplained += k.unexplained;
  }
  const failures: string[] = [];
  for (const k of keys) {
    const off = windows.filter((w) => w.kind === k.kind && w.key === k.key);
    const worst = off.reduce((sum, w) => sum + Math.abs(w.unexplained), 0);
    if (worst <= maxUnexplained) continue;
    const what = k.kind === 'pin' ? 'category' : 'country';
    const shown = off.slice(0, 3).map((w) => `window ${w.window_start} (batch ${w.batch}, stream ${w.stream}, late ${w.late})`);
    failures.push(`${what} "${k.key}": ${worst} records the late ones do not explain, over ${off.length} window(s): ${shown.join('; ')}${off.length > 3 ? '; …' : ''}`);
  }
  return { keys, windows, totals, failures, passed: failures.length === 0 };
}

/** The stream group has nothing to compare with: no watermark or no window yet. */
class NoStreamError extends PinpipeError {
  constructor(message: string) {
    super('PINPIPE_INPUT_NOT_FOUND', message);
  }
}

async function sources(trino: TrinoClient, options: ReconcileOptions): Promise<ReconcileSources> {
  const topics = topicsOf(options);
  const base = {
    lakeCatalog: options.lakeCatalog,
    lakeSchema: options.lakeSchema,
    streamCatalog: options.streamCatalog,
    streamSchema: options.streamSchema,
    groupId: options.streamGroupId,
    pinTopic: topics.pin,
    geoTopic: topics.geo,
    windowMs: 0,
    watermark: '',
  };
  const [mark] = await trino.query<{ watermark: string | null }>(watermarkSql(base)).catch((error: unknown) => {
    if (isMissingObject(error)) {
      throw new NoStreamError(`stream-agg has never written to ${options.streamCatalog}.${options.streamSchema}: ${error.errorName} for stream_agg_groups (is stream-agg running against that database, and --stream-schema its schema?)`);
    }
    throw error;
  });
  if (!mark?.watermark) {
    throw new NoStreamError(`stream-agg group "${options.streamGroupId}" has no watermark in ${options.streamCatalog}.${options.streamSchema}.stream_agg_groups yet: it has closed no window to compare (is --stream-group-id stream-agg's --group-id?)`);
  }
  const lengths = (await trino.query<{ ms: number }>(windowLengthsSql(base))).map((r) => Number(r.ms));
  if (lengths.length === 0) {
    throw new NoStreamError(`stream-agg group "${options.streamGroupId}" has no windows in ${options.streamCatalog}.${options.streamSchema}.stream_agg_pin_window (is --stream-group-id stream-agg's --group-id?)`);
  }
  if (lengths.length > 1) {
    throw new PinpipeError('PINPIPE_INPUT_INVALID', `stream-agg group "${options.streamGroupId}" has windows of several lengths (${lengths.join(', ')} ms): its --window changed, so its windows cannot be compared with one bucketing of the batch`);
  }
  return { ...base, windowMs: lengths[0] as number, watermark: mark.watermark };
}

async function requireBatchDay(trino: TrinoClient, s: ReconcileSources, date: string, bucket: string): Promise<void> {
  const [table] = await tablesWithoutDay(trino, s.lakeCatalog, s.lakeSchema, ['pins', 'geo'], date);
  if (table !== undefined) {
    throw new PinpipeError('PINPIPE_INPUT_NOT_FOUND', `day ${date} is not in the lake: no partition dt=${date} of ${s.lakeCatalog}.${s.lakeSchema}.${table} over s3://${bucket}/curated/ (run daily-transform, then lake-tables)`);
  }
}

export async function reconcileDay(trino: TrinoClient, options: ReconcileOptions): Promise<ReconcileReport> {
  const s = await sources(trino, options);
  await requireBatchDay(trino, s, options.date, options.s3Bucket);
  const rows = (await trino.query<ReconcileRow>(reconcileSql(s, options.date))).map((r) => ({
    ...r,
    batch: Number(r.batch),
    stream: Number(r.stream),
    late: Number(r.late),
    unexplained: Number(r.unexplained),
  }));
  const repeats = (await trino.query<{ topic: string; reason: string; n: number }>(repeatsSql(s, options.date))).map((r) => ({ ...r, n: Number(r.n) }));
  const complete = s.watermark >= `${nextDay(options.date)} 00:00:00.000`;
  return {
    date: options.date,
    stream_group_id: s.groupId,
    window_ms: s.windowMs,
    compared_until: s.watermark,
    complete,
    max_unexplained: options.maxUnexplained,
    ...judge(rows, options.maxUnexplained),
    repeats,
  };
}

function nextDay(date: string): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
}

export async function runReconcile(options: ReconcileOptions, ctx: JobContext): Promise<void> {
  let report: ReconcileReport;
  try {
    report = await reconcileDay(new TrinoClient(options), options);
  } catch (error) {
    if (error instanceof NoStreamError && !options.requireStream) {
      ctx.logger.warn(`day ${options.date} not reconciled: ${error.message}`, { date: options.date, requireStream: false });
      return;
    }
    throw error;
  }
  const s3 = createS3Client(options);
  const key = reconcileReportKey(options.date);
  try {
    await s3.send(new PutObjectCommand({ Bucket: options.s3Bucket, Key: key, Body: `${JSON.stringify(report, null, 2)}\n`, ContentType: 'application/json' }));
  } catch (error) {
    throw new DependencyError(`could not write s3://${options.s3Bucket}/${key}`, { cause: error });
  } finally {
    s3.destroy();
  }
  const summary = { date: options.date, report: `s3://${options.s3Bucket}/${key}`, ...report.totals, windowsOff: report.windows.length, comparedUntil: report.compared_until, complete: report.complete, repeats: report.repeats };
  if (!report.complete) ctx.logger.warn(`day ${options.date} compared only up to the stream's watermark ${report.compared_until}: its later windows are still open`, summary);
  if (!report.passed) {
    throw new PinpipeError('PINPIPE_RECONCILE_FAILED', `day ${options.date}: batch and stream differ beyond --max-unexplained ${options.maxUnexplained}: ${report.failures.join(' | ')}`);
  }
  ctx.logger.info(`day ${options.date} reconciled: batch = stream + late for every category and country`, summary);
}
