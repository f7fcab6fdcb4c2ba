import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DependencyError, InputError, PinpipeError } from '../lib/errors.js';
import { qualityReportKey } from '../lib/lake.js';
import { curatedObjectKey } from '../lib/curated.js';
import { listKeys } from '../lib/stage.js';

interface ReportHead {
  passed?: unknown;
  failures?: unknown;
}

/**
 * The gate: day D may be loaded only when its quality report exists and passed, and every
 * curated file the load reads is there. Anything else is refused with what to do about it.
 */
export async function checkDayReady(s3: S3Client, bucket: string, date: string, tables: readonly string[]): Promise<void> {
  const key = qualityReportKey(date);
  let text: string;
  try {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    text = await (got.Body as { transformToString(): Promise<string> }).transformToString();
  } catch (error) {
    const name = (error as { name?: string }).name;
    if (name === 'NoSuchKey' || name === 'NotFound') {
      throw new InputError(`no quality report for ${date} at s3://${bucket}/${key}: run pinpipe daily-transform --date ${date} first`, { notFound: true });
    }
    throw new DependencyError(`could not read s3://${bucket}/${key}`, { cause: error });
  }
  let report: ReportHead;
  try {
    report = JSON.parse(text) as ReportHead;
  } catch (error) {
    throw new InputError(`the quality report s3://${bucket}/${key} is not JSON`, { cause: error });
  }
  if (report.passed !== true) {
    const why = Array.isArray(report.failures) && report.failures.length > 0 ? `: ${report.failures.join('; ')}` : '';
    throw new PinpipeError('PINPIPE_QUALITY_FAILED', `the quality report of ${date} did not pass${why}; refusing to load (s3://${bucket}/${key})`);
  }
  const missing: string[] = [];
  for (const table of tables) {
    const want = curatedObjectKey(table, date);
    if (!(await listKeys(s3, bucket, want)).includes(want)) missing.push(want);
  }
  if (missing.length > 0) {
    throw new InputError(`curated data of ${date} is missing: ${missing.map((m) => `s3://${bucket}/${m}`).join(', ')}; rerun pinpipe daily-transform --date ${date}`, {
      notFound: true,
    });
  }
}
