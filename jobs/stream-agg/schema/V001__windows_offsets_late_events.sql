-- stream-agg: event-time tumbling windows, their mergeable state, the consumer offsets and the
-- late events, all in one database so that one transaction can move them together.
-- Every table is keyed by group_id (the Kafka consumer group), so two deployments, a test and a
-- benchmark never mix their rows.

-- One row per consumer group: the window size its rows were built with. A restart with another
-- --window would mix incompatible windows, so the job refuses it.
CREATE TABLE IF NOT EXISTS stream_agg_groups (
  group_id text PRIMARY KEY,
  window_ms bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- The position of the group in each partition, written in the same transaction as the windows:
-- next_offset is the first record not yet reflected in any table. max_event_time is the highest
-- record timestamp seen in the partition up to next_offset (the watermark is rebuilt from it).
CREATE TABLE IF NOT EXISTS stream_agg_offsets (
  group_id text NOT NULL,
  topic text NOT NULL,
  partition int NOT NULL,
  next_offset bigint NOT NULL,
  max_event_time timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_id, topic, partition)
);

-- Per category (pin topic). posts counts every pin record; follower_n / follower_sum only those
-- with a parsable follower_count; image_posts + video_posts = posts.
CREATE TABLE IF NOT EXISTS stream_agg_pin_window (
  group_id text NOT NULL,
  window_start timestamptz NOT NULL,
  window_end timestamptz NOT NULL,
  category text NOT NULL,
  posts bigint NOT NULL,
  distinct_posters bigint NOT NULL DEFAULT 0,
  follower_n bigint NOT NULL,
  follower_sum numeric NOT NULL,
  avg_follower_count double precision GENERATED ALWAYS AS (CASE WHEN follower_n > 0 THEN (follower_sum / follower_n)::double precision END) STORED,
  median_follower_count double precision,
  image_posts bigint NOT NULL,
  video_posts bigint NOT NULL,
  image_share double precision GENERATED ALWAYS AS (CASE WHEN posts > 0 THEN image_posts::double precision / posts END) STORED,
  video_share double precision GENERATED ALWAYS AS (CASE WHEN posts > 0 THEN video_posts::double precision / posts END) STORED,
  max_event_time timestamptz NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  final boolean NOT NULL DEFAULT false,
  finalized_at timestamptz,
  PRIMARY KEY (group_id, window_start, category)
);

-- Mergeable state behind median_follower_count: how many pins of a category in a window had
-- each follower count. An exact median needs the values; counting equal values keeps it small
-- (follower counts repeat a lot: "13k", "1M"). Deleted once the window is final.
CREATE TABLE IF NOT EXISTS stream_agg_pin_followers (
  group_id text NOT NULL,
  window_start timestamptz NOT NULL,
  category text NOT NULL,
  follower_count bigint NOT NULL,
  n bigint NOT NULL,
  PRIMARY KEY (group_id, window_start, category, follower_count)
);

-- Mergeable state behind distinct_posters: the set of poster names. Deleted once the window is final.
CREATE TABLE IF NOT EXISTS stream_agg_pin_posters (
  group_id text NOT NULL,
  window_start timestamptz NOT NULL,
  category text NOT NULL,
  poster_name text NOT NULL,
  PRIMARY KEY (group_id, window_start, category, poster_name)
);

-- Per country (geo topic).
CREATE TABLE IF NOT EXISTS stream_agg_geo_window (
  group_id text NOT NULL,
  window_start timestamptz NOT NULL,
  window_end timestamptz NOT NULL,
  country text NOT NULL,
  events bigint NOT NULL,
  max_event_time timestamptz NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  final boolean NOT NULL DEFAULT false,
  finalized_at timestamptz,
  PRIMARY KEY (group_id, window_start, country)
);

-- Per age group (user topic): '18-24', '25-35', '36-50', '50+', 'under 18', 'unknown'.
CREATE TABLE IF NOT EXISTS stream_agg_user_window (
  group_id text NOT NULL,
  window_start timestamptz NOT NULL,
  window_end timestamptz NOT NULL,
  age_group text NOT NULL,
  events bigint NOT NULL,
  max_event_time timestamptz NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  final boolean NOT NULL DEFAULT false,
  finalized_at timestamptz,
  PRIMARY KEY (group_id, window_start, age_group)
);

-- Records that arrived after their window was final (event time older than the watermark allows).
-- Keyed by Kafka coordinates, so a replay after a crash writes each one once.
CREATE TABLE IF NOT EXISTS stream_agg_late_events (
  group_id text NOT NULL,
  topic text NOT NULL,
  partition int NOT NULL,
  kafka_offset bigint NOT NULL,
  event_time timestamptz NOT NULL,
  window_start timestamptz NOT NULL,
  watermark timestamptz NOT NULL,
  value text,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_id, topic, partition, kafka_offset)
);

-- "Latest windows" queries scan by time.
CREATE INDEX IF NOT EXISTS stream_agg_pin_window_recent ON stream_agg_pin_window (group_id, window_end DESC);
CREATE INDEX IF NOT EXISTS stream_agg_geo_window_recent ON stream_agg_geo_window (group_id, window_end DESC);
CREATE INDEX IF NOT EXISTS stream_agg_user_window_recent ON stream_agg_user_window (group_id, window_end DESC);

-- Finalisation looks for open windows whose end the watermark passed.
CREATE INDEX IF NOT EXISTS stream_agg_pin_window_open ON stream_agg_pin_window (group_id, window_end) WHERE NOT final;
CREATE INDEX IF NOT EXISTS stream_agg_geo_window_open ON stream_agg_geo_window (group_id, window_end) WHERE NOT final;
CREATE INDEX IF NOT EXISTS stream_agg_user_window_open ON stream_agg_user_window (group_id, window_end) WHERE NOT final;
