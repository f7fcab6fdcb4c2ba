/**
 * Object layout of the lake on S3. Every job that reads or writes the lake builds keys here, so
 * the layout is defined once:
 *
 *   raw/<topic>/dt=YYYY-MM-DD/hour=HH/<topic>+<partition>+<startOffset:20>.ndjson.gz
 *   dlq/<topic>/dt=YYYY-MM-DD/hour=HH/<topic>+<partition>+<startOffset:20>.ndjson.gz
 *   curated/<table>/dt=YYYY-MM-DD/<file>.parquet
 *   reports/quality/dt=YYYY-MM-DD/report.json
 *   state/s3-sink/<topic>/<partition>.json     what the raw lake holds of a partition
 *
 * Raw object names depend only on Kafka coordinates and the record time (never the wall clock),
 * so a rewrite after a crash produces the same name: that is what makes the sink exactly-once.
 */
export const LAKE_PREFIXES = { raw: 'raw', dlq: 'dlq', curated: 'curated', reports: 'reports', state: 'state' } as const;

/** Wide enough for any int64 offset, so names sort in offset order. */
export const OFFSET_DIGITS = 20;
export const RAW_EXTENSION = '.ndjson.gz';

const DATE_PATTERN = /^\d{4}-\d{2}-\d{2}$/;

export interface ObjectCoordinates {
  topic: string;
  partition: number;
  startOffset: bigint | number | string;
  /** Record time (epoch ms) that picks the dt/hour bucket. */
  recordTimeMs: number;
}

export function hourBucket(recordTimeMs: number): { dt: string; hour: string } {
  const iso = new Date(recordTimeMs).toISOString();
  return { dt: iso.slice(0, 10), hour: iso.slice(11, 13) };
}

function objectKey(prefix: string, c: ObjectCoordinates): string {
  const { dt, hour } = hourBucket(c.recordTimeMs);
  const offset = BigInt(c.startOffset).toString().padStart(OFFSET_DIGITS, '0');
  return `${prefix}/${c.topic}/dt=${dt}/hour=${hour}/${c.topic}+${c.partition}+${offset}${RAW_EXTENSION}`;
}

export function rawObjectKey(c: ObjectCoordinates): string {
  return objectKey(LAKE_PREFIXES.raw, c);
}

export function dlqObjectKey(c: ObjectCoordinates): string {
  return objectKey(LAKE_PREFIXES.dlq, c);
}

/** s3-sink's record of which offsets of a topic-partition the raw lake holds (jobs/s3-sink/position.ts). */
export function sinkPositionKey(topic: string, partition: number): string {
  return `${LAKE_PREFIXES.state}/s3-sink/${topic}/${partition}.json`;
}

export function assertLakeDate(date: string): string {
  if (!DATE_PATTERN.test(date) || Number.isNaN(Date.parse(`${date}T00:00:00Z`)) || new Date(`${date}T00:00:00Z`).toISOString().slice(0, 10) !== date) {
    throw new RangeError(`not a calendar date in YYYY-MM-DD form: "${date}"`);
  }
  return date;
}

export function rawDayPrefix(topic: string, date: string): string {
  return `${LAKE_PREFIXES.raw}/${topic}/dt=${assertLakeDate(date)}/`;
}

export function curatedPartitionPrefix(table: string, date: string): string {
  return `${LAKE_PREFIXES.curated}/${table}/dt=${assertLakeDate(date)}/`;
}

export function qualityReportKey(date: string): string {
  return `${LAKE_PREFIXES.reports}/quality/dt=${assertLakeDate(date)}/report.json`;
}

/** Where `pinpipe reconcile` writes day D's comparison of batch and stream, beside the quality report. */
export function reconcileReportKey(date: string): string {
  return `${LAKE_PREFIXES.reports}/reconcile/dt=${assertLakeDate(date)}/reconcile.json`;
}

export interface ParsedObjectKey {
  area: 'raw' | 'dlq';
  topic: string;
  dt: string;
  hour: string;
  partition: number;
  startOffset: bigint;
}

const OBJECT_KEY = /^(raw|dlq)\/([^/]+)\/dt=(\d{4}-\d{2}-\d{2})\/hour=(\d{2})\/([^/+]+)\+(\d+)\+(\d{20})\.ndjson\.gz$/;

export function parseObjectKey(key: string): ParsedObjectKey | undefined {
  const m = OBJECT_KEY.exec(key);
  if (!m || m[2] !== m[5]) return undefined;
  return {
    area: m[1] as 'raw' | 'dlq',
    topic: m[2] as string,
    dt: m[3] as string,
    hour: m[4] as string,
    partition: Number(m[6]),
    startOffset: BigInt(m[7] as string),
  };
}
