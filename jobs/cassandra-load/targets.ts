import { METRIC_NAMES, metricTable } from '../lib/curated.js';

/** A Cassandra table and the DuckDB query (over the staged curated files) that fills it. */
export interface LoadTarget {
  table: string;
  /** Curated tables the query reads. */
  sources: string[];
  select: (date: string) => string;
  /** Columns holding a CQL date, given as YYYY-MM-DD text by the query. */
  dateColumns: string[];
  /** Delete the day's partition before writing, so a rerun leaves no stale rows. */
  replaceDayPartition: boolean;
  /**
   * How rows are grouped into unlogged batches: rows of one partition (the query sorts by its
   * columns), or single-row partitions grouped by the replicas that own them (a text partition
   * key), so a batch never makes its coordinator forward rows to other nodes. Absent: one write
   * per row.
   */
  batching?: { by: 'partition'; columns: string[] } | { by: 'replicas'; textKey: string };
}

const PIN_COLUMNS = ['unique_id', 'ind', 'title', 'description', 'poster_name', 'follower_count', 'tag_list', 'media_type', 'story_format', 'image_src', 'downloaded', 'save_location', 'category'];

export const PIN_TARGETS: LoadTarget[] = [
  {
    table: 'pins_by_id',
    sources: ['pins', 'posts'],
    select: (date) => `SELECT ${PIN_COLUMNS.map((c) => `p.${c}`).join(', ')}, q.country, q.latitude, q.longitude, q.event_time, q.user_name, q.age, q.date_joined,
        '${date}' AS dt
      FROM pins p LEFT JOIN posts q ON q.unique_id = p.unique_id`,
    dateColumns: ['dt'],
    replaceDayPartition: false,
    batching: { by: 'replicas', textKey: 'unique_id' },
  },
  {
    table: 'pins_by_category_day',
    sources: ['pins', 'posts'],
    select: (date) => `SELECT p.category, '${date}' AS day, p.unique_id, p.ind, p.title, p.poster_name, p.follower_count, p.media_type, p.image_src, q.country, q.event_time
      FROM pins p LEFT JOIN posts q ON q.unique_id = p.unique_id WHERE p.category IS NOT NULL ORDER BY p.category, p.unique_id`,
    dateColumns: ['day'],
    replaceDayPartition: false,
    batching: { by: 'partition', columns: ['category', 'day'] },
  },
];

export const METRIC_TARGETS: LoadTarget[] = METRIC_NAMES.map((name) => ({
  table: metricTable(name),
  sources: [metricTable(name)],
  select: (date: string) => `SELECT '${date}' AS dt, * FROM ${metricTable(name)}`,
  dateColumns: ['dt'],
  replaceDayPartition: true,
}));

export const LOAD_TARGETS: LoadTarget[] = [...PIN_TARGETS, ...METRIC_TARGETS];

/** Every curated table the load reads. */
export const SOURCE_TABLES = [...new Set(LOAD_TARGETS.flatMap((t) => t.sources))];
