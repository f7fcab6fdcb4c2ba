import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { RECORD_TYPES, type RecordType } from '../lib/contracts.js';
import { topicsOf } from '../lib/config.js';
import { DependencyError, InputError, InterruptedError, PinpipeError } from '../lib/errors.js';
import type { JobContext } from '../lib/job.js';
import { pushBatchMetrics } from '../lib/metrics.js';
import { LAKE_PREFIXES, qualityReportKey, RAW_EXTENSION, rawDayPrefix } from '../lib/lake.js';
import { createS3Client } from '../lib/s3.js';
import type { DailyTransformOptions } from './command.js';
import { openDuckDb } from '../lib/duckdb.js';
import { replacePartition } from './publish.js';
import { buildReport, type QualityReport } from './report.js';
import { listKeys, stageGroups } from '../lib/stage.js';
import { STAGE_ORDER, transformDay } from './transform.js';

/** Downloads in flight while staging: enough to keep the local network busy. */
const STAGING_CONCURRENCY = 6;

const HISTORY_KEY = /^curated\/posts\/dt=(\d{4}-\d{2}-\d{2})\/[^/]+\.parquet$/;

/** Keys of curated posts for the days before `date`: the history the metrics are computed over. */
export async function pastPostKeys(s3: S3Client, bucket: string, date: string): Promise<string[]> {
  const keys = await listKeys(s3, bucket, `${LAKE_PREFIXES.curated}/posts/dt=`);
  return keys.filter((k) => {
    const m = HISTORY_KEY.exec(k);
    return m !== null && (m[1] as string) < date;
  });
}

async function putReport(s3: S3Client, bucket: string, report: QualityReport): Promise<void> {
  const key = qualityReportKey(report.date);
  try {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: `${JSON.stringify(report, null, 2)}\n`, ContentType: 'application/json' }));
  } catch (error) {
    throw new DependencyError(`could not write the quality report s3://${bucket}/${key}`, { cause: error });
  }
}

export async function runDailyTransform(options: DailyTransformOptions, { logger, signal }: JobContext): Promise<void> {
  const { date, s3Bucket: bucket } = options;
  const topics = topicsOf(options);
  const s3 = createS3Client(options);
  const started = Date.now();
  const checkpoint = (): void => {
    if (signal.aborted) throw new InterruptedError('daily-transform stopped by signal; nothing of the day was replaced after this point');
  };
  const root = options.tempDir ?? tmpdir();
  await mkdir(root, { recursive: true });
  const work = await mkdtemp(join(root, `pinpipe-daily-${date}-`));
  let db: Awaited<ReturnType<typeof openDuckDb>> | undefined;
  let staging: Array<Promise<string[]>> = [];
  try {
    const rawKeys = {} as Record<RecordType, string[]>;
    for (const type of RECORD_TYPES) {
      rawKeys[type] = (await listKeys(s3, bucket, rawDayPrefix(topics[type], date))).filter((k) => k.endsWith(RAW_EXTENSION));
    }
    const missing = RECORD_TYPES.filter((t) => rawKeys[t].length === 0).map((t) => `raw/${topics[t]}/dt=${date}/`);
    if (missing.length > 0 && !options.allowEmpty) {
      throw new InputError(`no raw data for ${date}: nothing under ${missing.map((m) => `s3://${bucket}/${m}`).join(', ')} (pass --allow-empty to process an empty day)`, {
        notFound: true,
      });
    }
    if (missing.length > 0) logger.warn('topics without raw data for the day; treated as empty', { date, missing });

    const historyKeys = await pastPostKeys(s3, bucket, date);
    logger.info('staging raw objects', { date, objects: Object.fromEntries(RECORD_TYPES.map((t) => [t, rawKeys[t].length])), historyDays: historyKeys.length });
    // One download queue, in the order the topics are staged: DuckDB cleans a topic while the
    // next ones download.
    staging = stageGroups(
      s3,
      bucket,
      [...STAGE_ORDER.map((type) => ({ keys: rawKeys[type], dir: join(work, 'raw', type) })), { keys: historyKeys, dir: join(work, 'history') }],
      STAGING_CONCURRENCY,
      signal,
    );
    const rawFiles = Object.fromEntries(STAGE_ORDER.map((type, i) => [type, staging[i] as Promise<string[]>])) as Record<RecordType, Promise<string[]>>;
    const pastPostFiles = staging[STAGE_ORDER.length] as Promise<string[]>;
    const elapsed = (): number => Math.round((Date.now() - started) / 100) / 10;

    const outDir = join(work, 'out');
    const spillDir = join(work, 'spill');
    await mkdir(outDir, { recursive: true });
    await mkdir(spillDir, { recursive: true });
    db = await openDuckDb({ memoryLimit: options.memoryLimit, threads: options.threads, spillDir });
    // SIGTERM stops a long DuckDB query at once; nothing of the day has been replaced yet.
    const opened = db;
    const interrupt = (): void => opened.interrupt();
    signal.addEventListener('abort', interrupt, { once: true });
    const output = await transformDay(db, {
      date,
      rawFiles,
      pastPostFiles,
      outDir,
      onStep: (step) => {
        checkpoint();
        logger.info('transform step', { step, elapsedSeconds: elapsed() });
      },
    }).catch((error: unknown) => {
      if (error instanceof InterruptedError) throw error;
      if (signal.aborted) throw new InterruptedError('daily-transform stopped by signal during the transform; nothing of the day was replaced', { cause: error });
      throw error;
    });
    signal.removeEventListener('abort', interrupt);
    db.close();
    db = undefined;
    checkpoint();

    logger.info('transform step', { step: 'transformed', elapsedSeconds: elapsed() });
    const report = buildReport(date, output.stats, { max_rejected_pct: options.maxRejectedPct });
    // The day is being rebuilt: take its report away first, so cassandra-load refuses the day
    // until every table of the new version is in place and the new report says it passed.
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: qualityReportKey(date) })).catch((error: unknown) => {
      throw new DependencyError(`could not remove the old quality report of ${date}`, { cause: error });
    });
    if (!report.passed) {
      await putReport(s3, bucket, report);
      await pushBatchMetrics(options.pushgatewayUrl, { job: 'daily-transform', seconds: (Date.now() - started) / 1000, rows: {}, succeeded: false, day: date, qualityPassed: false }, logger);
      throw new PinpipeError('PINPIPE_QUALITY_FAILED', `data quality of ${date} failed: ${report.failures.join('; ')}; curated data was not replaced (report: s3://${bucket}/${qualityReportKey(date)})`);
    }
    checkpoint();
    // Each table is replaced by one PUT of its own; they do not depend on one another.
    const written = await Promise.all(Object.entries(output.files).map(([table, path]) => replacePartition(s3, bucket, table, date, path)));
    await putReport(s3, bucket, report);
    logger.info('daily-transform finished', {
      date,
      seconds: Math.round((Date.now() - started) / 100) / 10,
      lines: report.input.lines,
      rejected: report.rejected.total,
      rows: Object.fromEntries(Object.entries(report.tables).map(([t, s]) => [t, s.rows_out])),
      duplicatesDropped: Object.fromEntries(Object.entries(report.tables).map(([t, s]) => [t, s.duplicates_dropped])),
      historyDays: report.metrics.history_days,
      objects: written.length,
      report: qualityReportKey(date),
    });
    const rows = Object.fromEntries(Object.entries(report.tables).map(([t, s]) => [t, s.rows_out]));
    await pushBatchMetrics(options.pushgatewayUrl, { job: 'daily-transform', seconds: (Date.now() - started) / 1000, rows, succeeded: true, day: date, qualityPassed: true }, logger);
  } finally {
    db?.close();
    // Downloads still running after a failure must not write into a folder being removed.
    await Promise.allSettled(staging);
    s3.destroy();
    if (options.keepTemp) logger.info('staging folder kept', { path: work });
    else await rm(work, { recursive: true, force: true });
  }
}
