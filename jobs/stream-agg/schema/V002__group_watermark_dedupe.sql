-- stream-agg: one event-time clock for the whole group, and counting each record once.

-- The group's watermark, only ever raised, written by the flush that raised it. Every flush
-- takes this row's lock first, so flushes of all instances of a group take turns and each
-- sees the watermark the previous one left.
ALTER TABLE stream_agg_groups ADD COLUMN IF NOT EXISTS watermark timestamptz;

-- Every partition of the group has a row from the moment a member is assigned it, so a
-- partition not read yet holds the watermark back. next_offset is null until a first flush.
-- caught_up: what the group counted reaches Kafka's end of the partition, as every flush checks
-- for all partitions; active_at: when it last moved (or was registered). A caught-up partition
-- that has not moved for --idle-timeout is idle and does not hold the watermark back.
ALTER TABLE stream_agg_offsets ALTER COLUMN next_offset DROP NOT NULL;
ALTER TABLE stream_agg_offsets ADD COLUMN IF NOT EXISTS caught_up boolean NOT NULL DEFAULT false;
ALTER TABLE stream_agg_offsets ADD COLUMN IF NOT EXISTS active_at timestamptz NOT NULL DEFAULT now();

-- The dedupe state: the first copies of record keys (a pin's unique_id, a geo or user record's
-- ind), one row per partition and flush, so that a flush writes a handful of rows however many
-- records it holds. copies is JSON, column by column, in offset order:
-- {"keys":[…],"seenAt":[…],"day":[…],"offset":[…],"eventIdHash":[…]}; seenAt is the partition's
-- stream time (epoch ms) when the copy arrived, day the UTC day of its event time (days since the
-- epoch; the batch dedupes within a day), offset the copy's, eventIdHash a 32-bit FNV-1a hash of
-- its event id (-1: none), which tells a client's retry from another repeat. A row goes once its newest copy is older
-- than --dedupe-horizon of stream time. Stored uncompressed: it is written once and read only
-- when a member is assigned the partition.
CREATE TABLE IF NOT EXISTS stream_agg_seen_keys (
  group_id text NOT NULL,
  topic text NOT NULL,
  partition int NOT NULL,
  first_offset bigint NOT NULL,
  newest_seen_at timestamptz NOT NULL,
  copies text NOT NULL,
  PRIMARY KEY (group_id, topic, partition, first_offset)
);
ALTER TABLE stream_agg_seen_keys ALTER COLUMN copies SET STORAGE EXTERNAL;

-- Records not counted because an earlier copy was: 'retry' when the event id is the same too
-- (a client sent the record again), 'repeat' when only the key is. Keyed by Kafka coordinates
-- like the late events, so a replay writes each one once.
CREATE TABLE IF NOT EXISTS stream_agg_repeats (
  group_id text NOT NULL,
  topic text NOT NULL,
  partition int NOT NULL,
  kafka_offset bigint NOT NULL,
  event_time timestamptz NOT NULL,
  window_start timestamptz NOT NULL,
  record_key text NOT NULL,
  event_id text,
  first_offset bigint NOT NULL,
  reason text NOT NULL CHECK (reason IN ('retry', 'repeat')),
  recorded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_id, topic, partition, kafka_offset)
);
