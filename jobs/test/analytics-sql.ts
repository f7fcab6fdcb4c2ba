import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../lib/paths.js';

export interface AnalyticsTarget {
  keyspace: string;
  lakeSchema: string;
  /** Day D (YYYY-MM-DD), in place of the file's `current_date - INTERVAL '1' DAY`. */
  day: string;
}

/**
 * sql/analytics.sql's queries by metric and source, each the text after its "-- <metric>: <source>"
 * line up to the first `;`, pointed at a keyspace, a lake schema and a day of the caller's own.
 */
export function analyticsQueries(target: AnalyticsTarget): Map<string, { cassandra?: string; lake?: string }> {
  const text = readFileSync(join(projectRoot(), 'sql', 'analytics.sql'), 'utf8');
  const queries = new Map<string, { cassandra?: string; lake?: string }>();
  for (const block of text.split(/^-- (?=[a-z_]+: (?:cassandra|lake)$)/m).slice(1)) {
    const [head = '', ...body] = block.split('\n');
    const [metric = '', source] = head.split(': ') as [string, 'cassandra' | 'lake'];
    const sql = (body.join('\n').split(/;\s*(\n|$)/)[0] ?? '')
      .replaceAll('cassandra.pinpipe.', `cassandra."${target.keyspace}".`)
      .replaceAll('lake.curated.', `lake."${target.lakeSchema}".`)
      .replaceAll("current_date - INTERVAL '1' DAY", `DATE '${target.day}'`);
    queries.set(metric, { ...queries.get(metric), [source]: sql });
  }
  return queries;
}
