import type pg from 'pg';
import { ConfigError } from '../lib/errors.js';
import type { Delta } from './aggregate.js';

/** Stored position of the group in one partition. */
export interface StoredPosition {
  nextOffset: number;
  maxEventTime: number | undefined;
}

/** What one flush moves for one partition: from the stored offset (null: no row yet) to `to`. */
export interface PositionUpdate {
  topic: string;
  partition: number;
  from: number | null;
  to: number;
  maxEventTime: number | undefined;
}

/**
 * The stored offset was not the one this process loaded: another member of the group (after a
 * rebalance), or this process's own commit whose acknowledgement was lost, moved it. Nothing of
 * this flush was written; the caller drops its state and resumes from what PostgreSQL holds.
 */
export class FencedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FencedError';
  }
}

const ts = (param: string) => `to_timestamp(${param} / 1000.0)`;

/** Records the window size of a group on first start; refuses another size later. */
export async function ensureGroup(pool: pg.Pool, groupId: string, windowMs: number): Promise<void> {
  await pool.query('INSERT INTO stream_agg_groups (group_id, window_ms) VALUES ($1, $2) ON CONFLICT (group_id) DO NOTHING', [groupId, windowMs]);
  const { rows } = await pool.query<{ window_ms: string }>('SELECT window_ms FROM stream_agg_groups WHERE group_id = $1', [groupId]);
  const stored = Number(rows[0]?.window_ms);
  if (stored !== windowMs) {
    throw new ConfigError(
      `--window / PINPIPE_WINDOW: group ${groupId} already holds windows of ${stored} ms; a different size would mix incompatible rows (use another --group-id)`,
    );
  }
}

export async function loadPositions(pool: pg.Pool, groupId: string, partitions: ReadonlyArray<{ topic: string; partition: number }>): Promise<Map<string, StoredPosition>> {
  const out = new Map<string, StoredPosition>();
  if (partitions.length === 0) return out;
  const { rows } = await pool.query<{ topic: string; partition: number; next_offset: string; max_ms: string | null }>(
    `SELECT o.topic, o.partition, o.next_offset, (extract(epoch FROM o.max_event_time) * 1000)::bigint AS max_ms
       FROM stream_agg_offsets o JOIN unnest($2::text[], $3::int[]) AS p(topic, partition) ON o.topic = p.topic AND o.partition = p.partition
      WHERE o.group_id = $1`,
    [groupId, partitions.map((p) => p.topic), partitions.map((p) => p.partition)],
  );
  for (const r of rows) {
    out.set(`${r.topic}\u0000${r.partition}`, { nextOffset: Number(r.next_offset), maxEventTime: r.max_ms === null ? undefined : Number(r.max_ms) });
  }
  return out;
}

/** Window starts (epoch ms) that have rows not yet final. */
export async function openWindows(pool: pg.Pool, groupId: string): Promise<number[]> {
  const { rows } = await pool.query<{ ms: string }>(
    `SELECT DISTINCT (extract(epoch FROM window_start) * 1000)::bigint AS ms FROM (
       SELECT window_start FROM stream_agg_pin_window WHERE group_id = $1 AND NOT final
       UNION ALL SELECT window_start FROM stream_agg_geo_window WHERE group_id = $1 AND NOT final
       UNION ALL SELECT window_start FROM stream_agg_user_window WHERE group_id = $1 AND NOT final) w`,
    [groupId],
  );
  return rows.map((r) => Number(r.ms));
}

export interface FlushInput {
  groupId: string;
  windowMs: number;
  delta: Delta;
  positions: readonly PositionUpdate[];
  /** Watermark (epoch ms) after the delta; windows ending at or before it become final. */
  watermark: number;
}

/**
 * One flush = one transaction: the offsets move (guarded by their previous value, which fences a
 * zombie or a stale member), the window rows absorb the delta, the exact median and distinct
 * count are recomputed from the stored state of the windows touched, windows the watermark
 * passed become final and their median/distinct state is deleted, late events are recorded.
 * Either all of it is visible or none. Returns the window starts finalised.
 */
export async function flush(client: pg.PoolClient, input: FlushInput): Promise<number[]> {
  const { groupId, windowMs, delta, positions, watermark } = input;
  await client.query('BEGIN');
  try {
    // Offsets first: their row locks serialise this transaction with any other writer of the same partitions.
    const updates = positions.filter((p) => p.from !== null);
    if (updates.length > 0) {
      const moved = await client.query(
        `UPDATE stream_agg_offsets o SET next_offset = d.next_offset, max_event_time = ${ts('d.max_ms')}, updated_at = now()
           FROM unnest($2::text[], $3::int[], $4::bigint[], $5::bigint[], $6::float8[]) AS d(topic, partition, from_offset, next_offset, max_ms)
          WHERE o.group_id = $1 AND o.topic = d.topic AND o.partition = d.partition AND o.next_offset = d.from_offset`,
        [groupId, updates.map((p) => p.topic), updates.map((p) => p.partition), updates.map((p) => p.from), updates.map((p) => p.to), updates.map((p) => p.maxEventTime ?? null)],
      );
      if (moved.rowCount !== updates.length) throw new FencedError(`stored offsets moved under this process (${moved.rowCount ?? 0} of ${updates.length} matched)`);
    }
    const inserts = positions.filter((p) => p.from === null);
    if (inserts.length > 0) {
      const added = await client.query(
        `INSERT INTO stream_agg_offsets (group_id, topic, partition, next_offset, max_event_time)
         SELECT $1, d.topic, d.partition, d.next_offset, ${ts('d.max_ms')} FROM unnest($2::text[], $3::int[], $4::bigint[], $5::float8[]) AS d(topic, partition, next_offset, max_ms)
         ON CONFLICT (group_id, topic, partition) DO NOTHING`,
        [groupId, inserts.map((p) => p.topic), inserts.map((p) => p.partition), inserts.map((p) => p.to), inserts.map((p) => p.maxEventTime ?? null)],
      );
      if (added.rowCount !== inserts.length) throw new FencedError('another process stored offsets for a partition this process started fresh');
    }

    const pins = delta.pinRows();
    if (pins.length > 0) {
      await client.query(
        `INSERT INTO stream_agg_pin_window AS w (group_id, window_start, window_end, category, posts, follower_n, follower_sum, image_posts, video_posts, max_event_time)
         SELECT $1, ${ts('d.ws')}, ${ts('(d.ws + $2::float8)')}, d.c, d.p, d.fn, d.fs, d.p - d.v, d.v, ${ts('d.mt')}
           FROM unnest($3::float8[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::numeric[], $9::float8[]) AS d(ws, c, p, v, fn, fs, mt)
         ON CONFLICT (group_id, window_start, category) DO UPDATE SET
           posts = w.posts + EXCLUDED.posts, follower_n = w.follower_n + EXCLUDED.follower_n, follower_sum = w.follower_sum + EXCLUDED.follower_sum,
           image_posts = w.image_posts + EXCLUDED.image_posts, video_posts = w.video_posts + EXCLUDED.video_posts,
           max_event_time = greatest(w.max_event_time, EXCLUDED.max_event_time), updated_at = now()`,
        [
          groupId,
          windowMs,
          pins.map((d) => d.windowStart),
          pins.map((d) => d.category),
          pins.map((d) => d.posts),
          pins.map((d) => d.videoPosts),
          pins.map((d) => d.followerN),
          pins.map((d) => String(d.followerSum)),
          pins.map((d) => d.maxEventTime),
        ],
      );
      const followers = [...delta.followerEntries()];
      if (followers.length > 0) {
        await client.query(
          `INSERT INTO stream_agg_pin_followers AS f (group_id, window_start, category, follower_count, n)
           SELECT $1, ${ts('d.ws')}, d.c, d.fc, d.n FROM unnest($2::float8[], $3::text[], $4::bigint[], $5::bigint[]) AS d(ws, c, fc, n)
           ON CONFLICT (group_id, window_start, category, follower_count) DO UPDATE SET n = f.n + EXCLUDED.n`,
          [groupId, followers.map((f) => f[0]), followers.map((f) => f[1]), followers.map((f) => f[2]), followers.map((f) => f[3])],
        );
      }
      const posters = [...delta.posterEntries()];
      if (posters.length > 0) {
        await client.query(
          `INSERT INTO stream_agg_pin_posters (group_id, window_start, category, poster_name)
           SELECT $1, ${ts('d.ws')}, d.c, d.name FROM unnest($2::float8[], $3::text[], $4::text[]) AS d(ws, c, name)
           ON CONFLICT DO NOTHING`,
          [groupId, posters.map((p) => p[0]), posters.map((p) => p[1]), posters.map((p) => p[2])],
        );
      }
      // Exact median over the stored histogram: the value at rank floor((N+1)/2) and at rank
      // floor(N/2)+1, averaged (one value for odd N). A row covers ranks (cum - n, cum].
      await client.query(
        `UPDATE stream_agg_pin_window w SET
           distinct_posters = (SELECT count(*) FROM stream_agg_pin_posters p WHERE p.group_id = w.group_id AND p.window_start = w.window_start AND p.category = w.category),
           median_follower_count = (
             SELECT avg(h.follower_count)::float8 FROM (
               SELECT f.follower_count, f.n, sum(f.n) OVER (ORDER BY f.follower_count) AS cum, sum(f.n) OVER () AS total
                 FROM stream_agg_pin_followers f WHERE f.group_id = w.group_id AND f.window_start = w.window_start AND f.category = w.category) h
              WHERE (h.cum - h.n < floor((h.total + 1) / 2) AND h.cum >= floor((h.total + 1) / 2))
                 OR (h.cum - h.n < floor(h.total / 2) + 1 AND h.cum >= floor(h.total / 2) + 1))
           FROM unnest($2::float8[], $3::text[]) AS d(ws, c)
          WHERE w.group_id = $1 AND w.window_start = ${ts('d.ws')} AND w.category = d.c`,
        [groupId, pins.map((d) => d.windowStart), pins.map((d) => d.category)],
      );
    }

    for (const [table, column, type] of [
      ['stream_agg_geo_window', 'country', 'geo'],
      ['stream_agg_user_window', 'age_group', 'user'],
    ] as const) {
      const rows = delta.countRows(type);
      if (rows.length === 0) continue;
      await client.query(
        `INSERT INTO ${table} AS w (group_id, window_start, window_end, ${column}, events, max_event_time)
         SELECT $1, ${ts('d.ws')}, ${ts('(d.ws + $2::float8)')}, d.k, d.e, ${ts('d.mt')}
           FROM unnest($3::float8[], $4::text[], $5::bigint[], $6::float8[]) AS d(ws, k, e, mt)
         ON CONFLICT (group_id, window_start, ${column}) DO UPDATE SET
           events = w.events + EXCLUDED.events, max_event_time = greatest(w.max_event_time, EXCLUDED.max_event_time), updated_at = now()`,
        [groupId, windowMs, rows.map((r) => r.windowStart), rows.map((r) => r.key), rows.map((r) => r.events), rows.map((r) => r.maxEventTime)],
      );
    }

    if (delta.late.length > 0) {
      const late = delta.late;
      await client.query(
        `INSERT INTO stream_agg_late_events (group_id, topic, partition, kafka_offset, event_time, window_start, watermark, value)
         SELECT $1, d.topic, d.partition, d.kafka_offset, ${ts('d.et')}, ${ts('d.ws')}, ${ts('d.wm')}, d.value
           FROM unnest($2::text[], $3::int[], $4::bigint[], $5::float8[], $6::float8[], $7::float8[], $8::text[]) AS d(topic, partition, kafka_offset, et, ws, wm, value)
         ON CONFLICT DO NOTHING`,
        [groupId, late.map((l) => l.topic), late.map((l) => l.partition), late.map((l) => l.offset), late.map((l) => l.eventTime), late.map((l) => l.windowStart), late.map((l) => l.watermark), late.map((l) => l.value)],
      );
    }

    const finalized = new Set<number>();
    if (Number.isFinite(watermark)) {
      for (const table of ['stream_agg_pin_window', 'stream_agg_geo_window', 'stream_agg_user_window']) {
        const { rows } = await client.query<{ ms: string }>(
          `UPDATE ${table} SET final = true, finalized_at = now() WHERE group_id = $1 AND NOT final AND window_end <= ${ts('$2::float8')}
           RETURNING (extract(epoch FROM window_start) * 1000)::bigint AS ms`,
          [groupId, watermark],
        );
        for (const r of rows) finalized.add(Number(r.ms));
      }
      if (finalized.size > 0) {
        // A final window takes no more records, so the state behind its median and distinct count can go.
        for (const table of ['stream_agg_pin_followers', 'stream_agg_pin_posters']) {
          await client.query(`DELETE FROM ${table} WHERE group_id = $1 AND window_start <= ${ts('($2::float8 - $3::float8)')}`, [groupId, watermark, windowMs]);
        }
      }
    }
    await client.query('COMMIT');
    return [...finalized];
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
