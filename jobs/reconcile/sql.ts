import { ident, literal } from '../lib/trino.js';

/** Where reconcile reads: the lake's tables (declared by lake-tables) and stream-agg's tables, both through Trino. */
export interface ReconcileSources {
  lakeCatalog: string;
  lakeSchema: string;
  streamCatalog: string;
  streamSchema: string;
  groupId: string;
  pinTopic: string;
  geoTopic: string;
  windowMs: number;
  /** The group's watermark (UTC, zone-less, as Trino prints it): only windows ending at or before it are final, so only those are compared. */
  watermark: string;
}

/**
 * The start of the tumbling window of length windowMs a zone-less UTC timestamp falls in, as
 * stream-agg computes it (epoch milliseconds rounded down to a multiple of the window). In
 * doubles: milliseconds since 1970 overflow Trino's date_add, and a double holds them exactly.
 */
function windowOf(column: string, windowMs: number): string {
  return `CAST(from_unixtime(floor(to_unixtime(with_timezone(${column}, 'UTC')) * 1000 / ${windowMs}) * ${windowMs} / 1000, 'UTC') AS timestamp(3))`;
}

/** A PostgreSQL timestamptz as Trino sees it, as a zone-less UTC timestamp like the lake's. */
const utc = (column: string) => `CAST(${column} AT TIME ZONE 'UTC' AS timestamp(3))`;

/**
 * One query: per kind (pin: category; geo: country) and window of day D, the batch's count (the
 * curated lake), the stream's (final windows) and the late records stream-agg recorded for that
 * window; then the same per kind and key over the day (window NULL). A record is late when the
 * stream saw it after its window closed, so batch = stream + late when nothing else differs.
 *
 * The day is the records' own time: a pin's posted_at (its Kafka time) and a geo event's
 * event_time are what the raw lake is partitioned by and what the stream's windows are by, so
 * the batch's day D and the stream's windows of day D hold the same records. Records without a
 * category or country are not in any stream window (stream-agg counts them as invalid), so they
 * are left out on both sides. Windows that end after the group's watermark are still open in
 * the stream, so they are left out too (the report says up to when the day was compared).
 */
export function reconcileSql(s: ReconcileSources, date: string): string {
  const lake = (table: string) => `${ident(s.lakeCatalog)}.${ident(s.lakeSchema)}.${ident(table)}`;
  const stream = (table: string) => `${ident(s.streamCatalog)}.${ident(s.streamSchema)}.${ident(table)}`;
  const day = `DATE ${literal(date)}`;
  const inDay = (column: string) => `${column} >= TIMESTAMP ${literal(`${date} 00:00:00 UTC`)} AND ${column} < TIMESTAMP ${literal(`${date} 00:00:00 UTC`)} + INTERVAL '1' DAY`;
  const group = literal(s.groupId);
  return `WITH counts AS (
  SELECT 'pin' AS kind, category AS key, ${windowOf('posted_at', s.windowMs)} AS window_start, count(*) AS batch, 0 AS stream, 0 AS late
  FROM ${lake('pins')} WHERE dt = ${day} AND trim(category) <> '' GROUP BY 1, 2, 3
  UNION ALL
  SELECT 'geo', country, ${windowOf('event_time', s.windowMs)}, count(*), 0, 0
  FROM ${lake('geo')} WHERE dt = ${day} AND trim(country) <> '' GROUP BY 1, 2, 3
  UNION ALL
  SELECT 'pin', category, ${utc('window_start')}, 0, sum(posts), 0
  FROM ${stream('stream_agg_pin_window')} WHERE group_id = ${group} AND final AND ${inDay('window_start')} GROUP BY 1, 2, 3
  UNION ALL
  SELECT 'geo', country, ${utc('window_start')}, 0, sum(events), 0
  FROM ${stream('stream_agg_geo_window')} WHERE group_id = ${group} AND final AND ${inDay('window_start')} GROUP BY 1, 2, 3
  UNION ALL
  SELECT CASE topic WHEN ${literal(s.pinTopic)} THEN 'pin' ELSE 'geo' END,
    CASE topic WHEN ${literal(s.pinTopic)} THEN json_extract_scalar(value, '$.category') ELSE json_extract_scalar(value, '$.country') END,
    ${utc('window_start')}, 0, 0, count(*)
  FROM ${stream('stream_agg_late_events')}
  WHERE group_id = ${group} AND topic IN (${literal(s.pinTopic)}, ${literal(s.geoTopic)}) AND ${inDay('window_start')} GROUP BY 1, 2, 3
)
SELECT kind, key, CAST(window_start AS varchar) AS window_start, sum(batch) AS batch, sum(stream) AS stream, sum(late) AS late,
  sum(batch) - sum(stream) - sum(late) AS unexplained
FROM counts
WHERE date_add('millisecond', ${s.windowMs}, window_start) <= TIMESTAMP ${literal(s.watermark)}
GROUP BY GROUPING SETS ((kind, key, window_start), (kind, key))
HAVING window_start IS NULL OR sum(batch) - sum(stream) - sum(late) <> 0
ORDER BY kind, key, window_start NULLS FIRST`;
}

/** The group's watermark: every window ending at or before it is final. */
export function watermarkSql(s: Pick<ReconcileSources, 'streamCatalog' | 'streamSchema' | 'groupId'>): string {
  return `SELECT CAST(CAST(watermark AT TIME ZONE 'UTC' AS timestamp(3)) AS varchar) AS watermark
FROM ${ident(s.streamCatalog)}.${ident(s.streamSchema)}.${ident('stream_agg_groups')} WHERE group_id = ${literal(s.groupId)}`;
}

/** The window lengths stream-agg used for the group's pin windows: reconcile must bucket the batch the same way. */
export function windowLengthsSql(s: ReconcileSources): string {
  return `SELECT DISTINCT CAST(to_milliseconds(window_end - window_start) AS bigint) AS ms
FROM ${ident(s.streamCatalog)}.${ident(s.streamSchema)}.${ident('stream_agg_pin_window')} WHERE group_id = ${literal(s.groupId)} LIMIT 3`;
}

/** What stream-agg dropped as repeats on day D, by kind and reason (the batch drops the same records as duplicates). */
export function repeatsSql(s: ReconcileSources, date: string): string {
  const start = `TIMESTAMP ${literal(`${date} 00:00:00 UTC`)}`;
  return `SELECT topic, reason, count(*) AS n FROM ${ident(s.streamCatalog)}.${ident(s.streamSchema)}.${ident('stream_agg_repeats')}
WHERE group_id = ${literal(s.groupId)} AND window_start >= ${start} AND window_start < ${start} + INTERVAL '1' DAY GROUP BY 1, 2 ORDER BY 1, 2`;
}
