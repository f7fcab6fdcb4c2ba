import type { MetricName } from '../lib/curated.js';

/**
 * The metric tables, computed over the whole curated history of posts up to day D (a table or
 * view named `history`, one row per post). Every ranking breaks ties by name so the result never
 * depends on scan order; every table is written sorted by its key.
 */

/** Age groups of the seed analysis: 18-24, 25-35, 36-50, 50+ (anyone over 50); younger users are "under 18". */
export const AGE_GROUP_SQL = `CASE WHEN age IS NULL THEN NULL WHEN age < 18 THEN 'under 18' WHEN age <= 24 THEN '18-24'
  WHEN age <= 35 THEN '25-35' WHEN age <= 50 THEN '36-50' ELSE '50+' END`;

export interface MetricDefinition {
  /** One of the curated contract's metric tables (lib/curated.ts), which fixes its columns. */
  name: MetricName;
  description: string;
  sql: string;
}

function topPerGroup(group: string, groupExpr: string): string {
  return `SELECT ${group}, category, category_count FROM (
      SELECT *, row_number() OVER (PARTITION BY ${group} ORDER BY category_count DESC, category ASC) AS rank FROM (
        SELECT ${groupExpr} AS ${group}, category, count(*) AS category_count
        FROM history WHERE ${groupExpr} IS NOT NULL AND category IS NOT NULL GROUP BY ALL))
    WHERE rank = 1 ORDER BY ${group}`;
}

function medianFollowers(groups: Array<[string, string]>): string {
  const select = groups.map(([name, expr]) => `${expr} AS ${name}`).join(', ');
  const where = groups.map(([, expr]) => `${expr} IS NOT NULL`).join(' AND ');
  const names = groups.map(([name]) => name).join(', ');
  return `SELECT ${select}, median(follower_count)::DOUBLE AS median_follower_count, count(*) AS post_count
    FROM history WHERE follower_count IS NOT NULL AND ${where} GROUP BY ALL ORDER BY ${names}`;
}

const JOIN_YEAR = 'year(date_joined)::INTEGER';

export const METRICS: readonly MetricDefinition[] = [
  {
    name: 'popular_category_by_country',
    description: 'the category with the most posts in each country',
    sql: topPerGroup('country', 'country'),
  },
  {
    name: 'posts_per_category_year',
    description: 'posts per category per year of the post (geo event time)',
    sql: `SELECT year(event_time)::INTEGER AS post_year, category, count(*) AS category_count
      FROM history WHERE event_time IS NOT NULL AND category IS NOT NULL GROUP BY ALL ORDER BY post_year, category`,
  },
  {
    name: 'most_followed_by_country',
    description: 'the poster with the most followers in each country',
    sql: `SELECT country, poster_name, follower_count FROM (
        SELECT *, row_number() OVER (PARTITION BY country ORDER BY follower_count DESC, poster_name ASC) AS rank FROM (
          SELECT country, poster_name, max(follower_count) AS follower_count
          FROM history WHERE country IS NOT NULL AND poster_name IS NOT NULL AND follower_count IS NOT NULL GROUP BY ALL))
      WHERE rank = 1 ORDER BY country`,
  },
  {
    name: 'popular_category_by_age_group',
    description: 'the category with the most posts in each age group',
    sql: topPerGroup('age_group', AGE_GROUP_SQL),
  },
  {
    name: 'median_followers_by_age_group',
    description: 'median follower count per age group (the mean of the two middle values for an even count)',
    sql: medianFollowers([['age_group', AGE_GROUP_SQL]]),
  },
  {
    name: 'median_followers_by_join_year',
    description: 'median follower count per year the user joined',
    sql: medianFollowers([['join_year', JOIN_YEAR]]),
  },
  {
    name: 'median_followers_by_age_group_join_year',
    description: 'median follower count per age group and join year',
    sql: medianFollowers([
      ['age_group', AGE_GROUP_SQL],
      ['join_year', JOIN_YEAR],
    ]),
  },
  {
    name: 'users_joined_per_year',
    description: 'users (one per post) who joined in each year',
    sql: `SELECT ${JOIN_YEAR} AS join_year, count(*) AS users_joined FROM history WHERE date_joined IS NOT NULL GROUP BY ALL ORDER BY join_year`,
  },
];

/** The columns the metrics read. */
export const HISTORY_COLUMNS = ['unique_id', 'dt', 'category', 'country', 'poster_name', 'follower_count', 'event_time', 'age', 'date_joined'];

/**
 * The history: every curated day up to D, narrowed to the columns the metrics read. A post that
 * reappears on a later day (a duplicate that crossed midnight) counts once, on its first day.
 */
export function historySql(pastFiles: readonly string[]): string {
  const columns = HISTORY_COLUMNS.join(', ');
  const today = `SELECT ${columns} FROM posts`;
  if (pastFiles.length === 0) return today;
  const past = `SELECT ${columns} FROM read_parquet([${pastFiles.map((f) => `'${f.replace(/'/g, "''")}'`).join(', ')}])`;
  return `SELECT * FROM (${today} UNION ALL ${past}) QUALIFY row_number() OVER (PARTITION BY unique_id ORDER BY dt) = 1`;
}
