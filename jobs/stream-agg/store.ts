import type pg from 'pg';
import { ConfigError } from '../lib/errors.js';
import type { Delta, RecordKey, SeenCopy } from './aggregate.js';

/** Stored position of the group in one partition (nextOffset null: registered, never flushed). */
export interface StoredPosition {
  nextOffset: number | null;
  maxEventTime: number | undefined;
}

/** What one flush moves for one partition: from the stored offset (null: never flushed) to `to`. */
export interface PositionUpdate {
  topic: string;
  partition: number;
  from: number | null;
  to: number;
  maxEventTime: number | undefined;
}

/** Where a partition's log starts and ends in Kafka, fetched before a flush. */
export interface PartitionEnds {
  topic: string;
  partition: number;
  low: number;
  high: number;
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

/**
 * Registers the partitions a member was assigned (a row each, so a partition not read yet holds
 * the group's watermark back from the start) and returns their stored positions.
 */
export async function registerPartitions(pool: pg.Pool, groupId: string, partitions: ReadonlyArray<{ topic: string; partition: number }>): Promise<Map<string, StoredPosition>> {
  const out = new Map<string, StoredPosition>();
  if (partitions.length === 0) return out;
  await pool.query(
    `INSERT INTO stream_agg_offsets (group_id, topic, partition, next_offset, max_event_time)
     SELECT $1, p.topic, p.partition, NULL, NULL FROM unnest($2::text[], $3::int[]) AS p(topic, partition)
     ON CONFLICT (group_id, topic, partition) DO NOTHING`,
    [groupId, partitions.map((p) => p.topic), partitions.map((p) => p.partition)],
  );
  const { rows } = await pool.query<{ topic: string; partition: number; next_offset: string | null; max_ms: string | null }>(
    `SELECT o.topic, o.partition, o.next_offset, (extract(epoch FROM o.max_event_time) * 1000)::bigint AS max_ms
       FROM stream_agg_offsets o JOIN unnest($2::text[], $3::int[]) AS p(topic, partition) ON o.topic = p.topic AND o.partition = p.partition
      WHERE o.group_id = $1`,
    [groupId, partitions.map((p) => p.topic), partitions.map((p) => p.partition)],
  );
  for (const r of rows) {
    out.set(`${r.topic}\u0000${r.partition}`, { nextOffset: r.next_offset === null ? null : Number(r.next_offset), maxEventTime: r.max_ms === null ? undefined : Number(r.max_ms) });
  }
  return out;
}

/** The group's watermark as the last flush left it (epoch ms), or -Infinity before the first. */
export async function groupWatermark(pool: pg.Pool, groupId: string): Promise<number> {
  const { rows } = await pool.query<{ ms: string | null }>('SELECT (extract(epoch FROM watermark) * 1000)::bigint AS ms FROM stream_agg_groups WHERE group_id = $1', [groupId]);
  const ms = rows[0]?.ms;
  return ms === null || ms === undefined ? Number.NEGATIVE_INFINITY : Number(ms);
}

/** The first copies of a row of stream_agg_seen_keys, column by column (SeenChunk.copies). */
interface StoredCopies {
  keys: RecordKey[];
  seenAt: number[];
  day: number[];
  offset: number[];
  eventIdHash: number[];
}

/** The dedupe state of some partitions, oldest first, from `since` (epoch ms of stream time) on. */
export async function loadSeenKeys(
  pool: pg.Pool,
  groupId: string,
  partitions: ReadonlyArray<{ topic: string; partition: number; since: number }>,
): Promise<Array<{ topic: string; partition: number; key: RecordKey; copy: SeenCopy }>> {
  if (partitions.length === 0) return [];
  const { rows } = await pool.query<{ topic: string; partition: number; copies: string; since: number | null }>(
    `SELECT s.topic, s.partition, s.copies, p.since
       FROM stream_agg_seen_keys s JOIN unnest($2::text[], $3::int[], $4::float8[]) AS p(topic, partition, since) ON s.topic = p.topic AND s.partition = p.partition
      WHERE s.group_id = $1 AND (p.since IS NULL OR s.newest_seen_at >= ${ts('p.since')})
      ORDER BY s.topic, s.partition, s.first_offset`,
    [groupId, partitions.map((p) => p.topic), partitions.map((p) => p.partition), partitions.map((p) => (Number.isFinite(p.since) ? p.since : null))],
  );
  const out: Array<{ topic: string; partition: number; key: RecordKey; copy: SeenCopy }> = [];
  for (const r of rows) {
    const since = r.since ?? Number.NEGATIVE_INFINITY;
    const c = JSON.parse(r.copies) as StoredCopies;
    for (let i = 0; i < c.keys.length; i += 1) {
      const seenAt = c.seenAt[i] as number;
      if (seenAt >= since) out.push({ topic: r.topic, partition: r.partition, key: c.keys[i] as RecordKey, copy: { seenAt, day: c.day[i] as number, offset: c.offset[i] as number, eventIdHash: c.eventIdHash[i] === -1 ? null : (c.eventIdHash[i] as number) } });
    }
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
  latenessMs: number;
  idleTimeoutMs: number;
  dedupeHorizonMs: number;
  delta: Delta;
  positions: readonly PositionUpdate[];
  /** The topics the group reads now: rows of topics it no longer reads do not hold its watermark back. */
  topics: readonly string[];
  /** Where every partition of the group's topics ends in Kafka now (empty: unknown, Kafka unreachable). */
  ends: readonly PartitionEnds[];
}

export interface FlushResult {
  /** Window starts made final by this flush. */
  finalized: number[];
  /** The group's watermark after it (epoch ms; -Infinity while a partition without records holds it). */
  watermark: number;
}

/**
 * The group's event time from what every partition stored: the lowest stream time over the
 * partitions that hold it back, minus the lateness. A partition holds it back unless it is idle:
 * caught up (nothing left to read) and not moved for the idle timeout. A partition that holds it
 * back without any record yet keeps it where it is. When every partition is idle the stream has
 * stopped, and the highest stream time counts (as Flink does once all its inputs are idle), so
 * the last windows of a finished backlog become final too.
 */
const GROUP_WATERMARK_SQL = `
  SELECT CASE
      WHEN count(*) = 0 THEN NULL
      WHEN bool_and(idle) THEN max(max_event_time)
      WHEN bool_or(NOT idle AND max_event_time IS NULL) THEN NULL
      ELSE min(max_event_time) FILTER (WHERE NOT idle) END - $2 * interval '1 millisecond' AS watermark
    FROM (SELECT max_event_time, caught_up AND active_at <= now() - $3 * interval '1 millisecond' AS idle
            FROM stream_agg_offsets WHERE group_id = $1 AND topic = ANY($4::text[])) p`;

/**
 * One flush = one transaction, taken in turn by every member of the group (the group row's lock):
 * the offsets move (guarded by their previous value, which fences a zombie or a stale member), the
 * window rows absorb the delta, the exact median and distinct count are recomputed from the stored
 * state of the windows touched, late events, repeats and the dedupe state are written, and the
 * group's watermark is computed from every partition's stored stream time: windows it passed
 * become final and their median/distinct state is deleted. Either all of it is visible or none.
 */
export async function flush(client: pg.PoolClient, input: FlushInput): Promise<FlushResult> {
  const { groupId, windowMs, delta, positions: updates } = input;
  await client.query('BEGIN');
  try {
    // The group row first: its lock makes the members' flushes take turns.
    const group = await client.query<{ ms: string | null }>('SELECT (extract(epoch FROM watermark) * 1000)::bigint AS ms FROM stream_agg_groups WHERE group_id = $1 FOR UPDATE', [groupId]);
    const before = group.rows[0]?.ms;
    const storedWatermark = before === null || before === undefined ? Number.NEGATIVE_INFINITY : Number(before);
    // Only a partition that was idle and woke up can bring records for a window another member
    // already made final; they are late now, which this member learns by reading them again.
    const closed = delta.windowStarts().filter((ws) => ws + windowMs <= storedWatermark);
    if (closed.length > 0) throw new FencedError(`the group's watermark passed ${closed.length} window(s) this flush adds to`);

    if (updates.length > 0) {
      const moved = await client.query(
        `UPDATE stream_agg_offsets o SET next_offset = d.next_offset, max_event_time = ${ts('d.max_ms')}, active_at = now(), updated_at = now()
           FROM unnest($2::text[], $3::int[], $4::bigint[], $5::bigint[], $6::float8[]) AS d(topic, partition, from_offset, next_offset, max_ms)
          WHERE o.group_id = $1 AND o.topic = d.topic AND o.partition = d.partition AND o.next_offset IS NOT DISTINCT FROM d.from_offset`,
        [
          groupId,
          updates.map((p) => p.topic),
          updates.map((p) => p.partition),
          updates.map((p) => p.from),
          updates.map((p) => p.to),
          updates.map((p) => p.maxEventTime ?? null),
        ],
      );
      if (moved.rowCount !== updates.length) throw new FencedError(`stored offsets moved under this process (${moved.rowCount ?? 0} of ${updates.length} matched)`);
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

    if (delta.repeats.length > 0) {
      const r = delta.repeats;
      await client.query(
        `INSERT INTO stream_agg_repeats (group_id, topic, partition, kafka_offset, event_time, window_start, record_key, event_id, first_offset, reason)
         SELECT $1, d.topic, d.partition, d.kafka_offset, ${ts('d.et')}, ${ts('d.ws')}, d.k, d.eid, d.first_offset, d.reason
           FROM unnest($2::text[], $3::int[], $4::bigint[], $5::float8[], $6::float8[], $7::text[], $8::text[], $9::bigint[], $10::text[]) AS d(topic, partition, kafka_offset, et, ws, k, eid, first_offset, reason)
         ON CONFLICT DO NOTHING`,
        [
          groupId,
          r.map((x) => x.topic),
          r.map((x) => x.partition),
          r.map((x) => x.offset),
          r.map((x) => x.eventTime),
          r.map((x) => x.windowStart),
          r.map((x) => String(x.key)),
          r.map((x) => x.eventId),
          r.map((x) => x.firstOffset),
          r.map((x) => x.reason),
        ],
      );
    }
    if (delta.seen.length > 0) {
      const c = delta.seen;
      await client.query(
        `INSERT INTO stream_agg_seen_keys (group_id, topic, partition, first_offset, newest_seen_at, copies)
         SELECT $1, d.topic, d.partition, d.first_offset, ${ts('d.newest')}, d.copies
           FROM unnest($2::text[], $3::int[], $4::bigint[], $5::float8[], $6::text[]) AS d(topic, partition, first_offset, newest, copies)
         ON CONFLICT DO NOTHING`,
        [groupId, c.map((x) => x.topic), c.map((x) => x.partition), c.map((x) => x.firstOffset), c.map((x) => x.newestSeenAt), c.map((x) => x.copies)],
      );
    }
    // The state a repeat can no longer match: older than the horizon of its partition's stream time.
    const moving = updates.filter((p) => p.maxEventTime !== undefined);
    if (moving.length > 0) {
      await client.query(
        `DELETE FROM stream_agg_seen_keys s USING unnest($2::text[], $3::int[], $4::float8[]) AS d(topic, partition, max_ms)
          WHERE s.group_id = $1 AND s.topic = d.topic AND s.partition = d.partition AND s.newest_seen_at < ${ts('(d.max_ms - $5::float8)')}`,
        [groupId, moving.map((p) => p.topic), moving.map((p) => p.partition), moving.map((p) => p.maxEventTime as number), input.dedupeHorizonMs],
      );
    }

    // Caught up, for every partition of the group whoever owns it: what PostgreSQL holds reaches
    // Kafka's end. A partition with records nobody has counted yet (its owner busy, dead or
    // rebalancing) is never idle.
    if (input.ends.length > 0) {
      const e = input.ends;
      await client.query(
        `UPDATE stream_agg_offsets o SET caught_up = coalesce(o.next_offset, e.low) >= e.high
           FROM unnest($2::text[], $3::int[], $4::bigint[], $5::bigint[]) AS e(topic, partition, low, high)
          WHERE o.group_id = $1 AND o.topic = e.topic AND o.partition = e.partition AND o.caught_up IS DISTINCT FROM (coalesce(o.next_offset, e.low) >= e.high)`,
        [groupId, e.map((x) => x.topic), e.map((x) => x.partition), e.map((x) => x.low), e.map((x) => x.high)],
      );
    }
    const computed = await client.query<{ ms: string | null }>(
      `SELECT (extract(epoch FROM w.watermark) * 1000)::bigint AS ms FROM (${GROUP_WATERMARK_SQL}) w`,
      [groupId, input.latenessMs, input.idleTimeoutMs, input.topics],
    );
    const now = computed.rows[0]?.ms;
    const watermark = Math.max(storedWatermark, now === null || now === undefined ? Number.NEGATIVE_INFINITY : Number(now));
    const finalized = new Set<number>();
    if (watermark > storedWatermark) {
      await client.query(`UPDATE stream_agg_groups SET watermark = ${ts('$2::float8')} WHERE group_id = $1`, [groupId, watermark]);
    }
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
    return { finalized: [...finalized], watermark };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
