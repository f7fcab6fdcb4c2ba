"""Spark Structured Streaming doing stream-agg's aggregation, for bench/spark/stream.ts.

Usage: stream_agg.py PIN_TOPIC GEO_TOPIC USER_TOPIC PIN_N GEO_N USER_N TABLE_PREFIX CHECKPOINT_DIR

Three queries in one session (local[2]), one per topic, each reading its topic from the earliest
offset: 1-minute tumbling windows over the Kafka record timestamp with a 30 s watermark,

- per category, from pin: posts, distinct poster_name (placeholder excluded), average and exact
  median follower count ("13k" → 13000, "1M", "2B"; "User Info Error" → null), image and video
  share ("multi-video(story page format)" is a video);
- per country, from geo: events;
- per age group, from user: events (18-24, 25-35, 36-50, 50+, "under 18", "unknown");

written in update mode, each micro-batch appended with foreachBatch + JDBC to PostgreSQL tables
TABLE_PREFIX_category, TABLE_PREFIX_country, TABLE_PREFIX_age_group. Runs until each query has
consumed its topic's N records, then stops. Prints one JSON object.
"""

import json
import os
import sys
import time
from urllib.parse import urlparse

from common import STORY_FORMAT, follower_count, log, session
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

WINDOW = os.environ.get("PINPIPE_SPARK_WINDOW", "1 minute")
LATENESS = os.environ.get("PINPIPE_SPARK_LATENESS", "30 seconds")
# Records per micro-batch and query: the backlog is eaten in steps rather than one huge batch.
MAX_OFFSETS = os.environ.get("PINPIPE_SPARK_MAX_OFFSETS_PER_TRIGGER", "100000")


def jdbc() -> tuple[str, dict[str, str]]:
    url = urlparse(os.environ.get("PINPIPE_PG_URL", "postgres://pinpipe:pinpipe@127.0.0.1:5432/pinpipe"))
    props = {"user": url.username or "", "password": url.password or "", "driver": "org.postgresql.Driver"}
    return f"jdbc:postgresql://{url.hostname}:{url.port or 5432}{url.path}", props


def source(spark, topic: str) -> DataFrame:
    return (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", os.environ.get("PINPIPE_KAFKA_BROKERS", "127.0.0.1:9092"))
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .option("maxOffsetsPerTrigger", MAX_OFFSETS)
        .load()
        .select(F.col("timestamp").alias("event_time"), F.col("value").cast("string").alias("value"))
        .withWatermark("event_time", LATENESS)
    )


def field(name: str):
    return F.get_json_object("value", f"$.{name}")


def by_category(df: DataFrame) -> DataFrame:
    media = field("is_image_or_video")
    poster = field("poster_name")
    video = F.when(media.isin("video", STORY_FORMAT), 1.0).otherwise(0.0)
    return (
        df.select(
            "event_time",
            field("category").alias("category"),
            F.when(poster != "User Info Error", poster).alias("poster"),
            follower_count(field("follower_count")).alias("followers"),
            video.alias("video"),
        )
        .groupBy(F.window("event_time", WINDOW).alias("w"), "category")
        .agg(
            F.count("*").alias("posts"),
            F.size(F.collect_set("poster")).alias("distinct_posters"),
            F.avg("followers").alias("avg_follower_count"),
            F.percentile("followers", 0.5).alias("median_follower_count"),
            (1 - F.avg("video")).alias("image_share"),
            F.avg("video").alias("video_share"),
        )
    )


def by_country(df: DataFrame) -> DataFrame:
    return (
        df.select("event_time", field("country").alias("country"))
        .groupBy(F.window("event_time", WINDOW).alias("w"), "country")
        .agg(F.count("*").alias("events"))
    )


def by_age_group(df: DataFrame) -> DataFrame:
    age = field("age").cast("int")
    group = (
        F.when(age.isNull() | (age < 0) | (age > 150), "unknown")
        .when(age < 18, "under 18")
        .when(age <= 24, "18-24")
        .when(age <= 35, "25-35")
        .when(age <= 50, "36-50")
        .otherwise("50+")
    )
    return (
        df.select("event_time", group.alias("age_group"))
        .groupBy(F.window("event_time", WINDOW).alias("w"), "age_group")
        .agg(F.count("*").alias("events"))
    )


def main() -> None:
    pin_topic, geo_topic, user_topic = sys.argv[1:4]
    expected = dict(zip(("category", "country", "age_group"), map(int, sys.argv[4:7]), strict=True))
    prefix, checkpoints = sys.argv[7], sys.argv[8]
    url, props = jdbc()
    started = time.monotonic()
    spark = session("pinpipe-bench-stream-agg")
    session_seconds = round(time.monotonic() - started, 2)
    log("spark session", seconds=session_seconds)

    def writer(table: str):
        def write(batch: DataFrame, batch_id: int) -> None:
            out = batch.select(
                F.col("w.start").alias("window_start"),
                F.col("w.end").alias("window_end"),
                *[c for c in batch.columns if c != "w"],
                F.lit(batch_id).alias("batch_id"),
            )
            out.write.jdbc(url, table, mode="append", properties=props)

        return write

    plans = {
        "category": by_category(source(spark, pin_topic)),
        "country": by_country(source(spark, geo_topic)),
        "age_group": by_age_group(source(spark, user_topic)),
    }
    queries_started = time.monotonic()
    queries = {
        name: df.writeStream.outputMode("update")
        .option("checkpointLocation", os.path.join(checkpoints, name))
        .foreachBatch(writer(f"{prefix}_{name}"))
        .queryName(name)
        .start()
        for name, df in plans.items()
    }
    consumed = {name: {} for name in queries}  # batchId → input rows
    done_at: dict[str, float] = {}
    timeout = float(os.environ.get("PINPIPE_SPARK_STREAM_TIMEOUT_S", "1800"))
    while len(done_at) < len(queries):
        for name, q in queries.items():
            if q.exception() is not None:
                raise RuntimeError(f"query {name} failed: {q.exception()}")
            for p in q.recentProgress:
                consumed[name][p["batchId"]] = p["numInputRows"]
            if name not in done_at and sum(consumed[name].values()) >= expected[name]:
                done_at[name] = time.monotonic()
                log("query caught up", query=name, seconds=round(done_at[name] - queries_started, 2))
        if time.monotonic() - queries_started > timeout:
            raise RuntimeError(f"not caught up after {timeout} s: {json.dumps(consumed)}")
        time.sleep(0.2)
    seconds = round(max(done_at.values()) - queries_started, 2)
    batches = {name: len(c) for name, c in consumed.items()}
    for q in queries.values():
        q.stop()
    spark.stop()
    events = sum(expected.values())
    result = {
        "events": events,
        "seconds": seconds,
        "events_per_s": round(events / seconds),
        "session_seconds": session_seconds,
        "caught_up_seconds": {name: round(t - queries_started, 2) for name, t in done_at.items()},
        "micro_batches": batches,
        "window": WINDOW,
        "allowed_lateness": LATENESS,
        "max_offsets_per_trigger": int(MAX_OFFSETS),
    }
    log("spark stream agg finished", **result)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
