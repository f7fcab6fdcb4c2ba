"""PySpark local mode doing daily-transform's cleaning of one day of the raw lake.

Usage: daily_clean.py DATE OUT_PREFIX   (run by bench/daily.ts --spark)

Reads day DATE's raw gzip NDJSON objects of the three topics from S3 through s3a (the same
objects pinpipe daily-transform stages), applies the rules of jobs/daily-transform/sql.ts —
placeholders to null, follower_count k/M/B to integers, save_location without its prefix, index
renamed ind, tag_list to a list, multi-video as video, rejects, deduplication keeping the first
copy by Kafka (partition, offset), geo coordinates and timestamp, user_name and date_joined, the
pin/geo/user join on ind — and writes pins, geo, users and posts as Parquet under OUT_PREFIX
(each sorted as pinpipe sorts it). Prints one JSON object: step times and row counts.
"""

import json
import os
import sys

from common import (
    PIN_COLUMNS,
    STORY_FORMAT,
    Timer,
    follower_count,
    is_placeholder,
    log,
    null_if_placeholder,
    session,
)
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

TOPICS = {"pin": "pinterest.pin.v1", "geo": "pinterest.geo.v1", "user": "pinterest.user.v1"}
FIELDS = {
    "pin": [
        "index",
        "unique_id",
        "title",
        "description",
        "poster_name",
        "follower_count",
        "tag_list",
        "is_image_or_video",
        "image_src",
        "downloaded",
        "save_location",
        "category",
    ],
    "geo": ["ind", "timestamp", "latitude", "longitude", "country"],
    "user": ["ind", "first_name", "last_name", "age", "date_joined"],
}
JOIN_KEY = r"^[0-9]{1,18}$"


def line_schema(kind: str) -> StructType:
    # Every leaf as text, nothing inferred (as pinpipe reads them); bad lines land in _corrupt.
    record = StructType([StructField(f, StringType()) for f in FIELDS[kind]])
    return StructType(
        [
            StructField("partition", StringType()),
            StructField("offset", StringType()),
            StructField("record", record),
            StructField("_corrupt", StringType()),
        ]
    )


def read(spark, bucket: str, kind: str, date: str) -> DataFrame:
    path = f"s3a://{bucket}/raw/{TOPICS[kind]}/dt={date}/hour=*/*.ndjson.gz"
    df = spark.read.schema(line_schema(kind)).option("columnNameOfCorruptRecord", "_corrupt").json(path)
    partition = F.col("partition").cast("int")
    offset = F.col("offset").cast("bigint")
    return df.select(
        F.when(partition.between(0, 1048575), partition).alias("source_partition"),
        F.when(offset >= 0, offset).alias("source_offset"),
        "record",
        F.col("_corrupt").isNotNull().alias("corrupt"),
    )


def ok_key(field: str):
    return F.coalesce(F.col(f"record.{field}").rlike(JOIN_KEY), F.lit(False))


def lineage_ok():
    return (
        ~F.col("corrupt")
        & F.col("record").isNotNull()
        & F.col("source_partition").isNotNull()
        & F.col("source_offset").isNotNull()
    )


def clean_pins(raw: DataFrame) -> DataFrame:
    r = lambda f: F.col(f"record.{f}")  # noqa: E731
    media = r("is_image_or_video")
    tags = r("tag_list")
    tag_list = F.when(
        is_placeholder("tag_list", tags) | (F.trim(F.coalesce(tags, F.lit(""))) == ""), F.lit(None)
    ).otherwise(F.filter(F.transform(F.split(tags, ","), lambda t: F.trim(t)), lambda t: t != ""))
    save = r("save_location")
    return raw.where(
        lineage_ok() & ok_key("index") & r("unique_id").isNotNull() & (F.trim(r("unique_id")) != "")
    ).select(
        "source_partition",
        "source_offset",
        r("index").cast("bigint").alias("ind"),
        r("unique_id").alias("unique_id"),
        null_if_placeholder("title", r("title")).alias("title"),
        null_if_placeholder("description", r("description")).alias("description"),
        null_if_placeholder("poster_name", r("poster_name")).alias("poster_name"),
        follower_count(r("follower_count")).alias("follower_count"),
        tag_list.alias("tag_list"),
        F.when(media.isin("image", "video"), media)
        .when(media == STORY_FORMAT, F.lit("video"))
        .alias("media_type"),
        F.coalesce(media == STORY_FORMAT, F.lit(False)).alias("story_format"),
        null_if_placeholder("image_src", r("image_src")).alias("image_src"),
        F.when(r("downloaded").isin("1", "true"), True)
        .when(r("downloaded").isin("0", "false"), False)
        .alias("downloaded"),
        F.when(save.startswith("Local save in "), F.substring(save, 15, 1 << 20))
        .otherwise(save)
        .alias("save_location"),
        F.when(r("category") != "", r("category")).alias("category"),
    )


def clean_geo(raw: DataFrame) -> DataFrame:
    r = lambda f: F.col(f"record.{f}")  # noqa: E731
    typed = raw.where(lineage_ok() & ok_key("ind")).select(
        "source_partition",
        "source_offset",
        r("ind").cast("bigint").alias("ind"),
        r("timestamp").cast("timestamp").alias("event_time"),
        r("latitude").cast("double").alias("latitude"),
        r("longitude").cast("double").alias("longitude"),
        F.when(r("country") != "", r("country")).alias("country"),
    )
    place_ok = F.col("latitude").between(-90, 90) & F.col("longitude").between(-180, 180)
    return typed.where(F.col("event_time").isNotNull() & F.coalesce(place_ok, F.lit(False))).withColumn(
        "coordinates", F.array("latitude", "longitude")
    )


def clean_users(raw: DataFrame) -> DataFrame:
    r = lambda f: F.col(f"record.{f}")  # noqa: E731
    first = F.when(F.trim(r("first_name")) != "", F.trim(r("first_name")))
    last = F.when(F.trim(r("last_name")) != "", F.trim(r("last_name")))
    name = F.concat_ws(" ", first, last)
    typed = raw.where(lineage_ok() & ok_key("ind")).select(
        "source_partition",
        "source_offset",
        r("ind").cast("bigint").alias("ind"),
        F.when(name != "", name).alias("user_name"),
        r("age").cast("int").alias("age"),
        r("date_joined").cast("timestamp").alias("date_joined"),
    )
    return typed.where(F.col("date_joined").isNotNull())


def dedupe(df: DataFrame, key: str) -> DataFrame:
    """The first copy the lake received wins: the lowest Kafka (partition, offset)."""
    first = Window.partitionBy(key).orderBy("source_partition", "source_offset")
    return (
        df.withColumn("_n", F.row_number().over(first))
        .where(F.col("_n") == 1)
        .drop("_n", "source_partition", "source_offset")
    )


def main() -> None:
    date, out = sys.argv[1], sys.argv[2].rstrip("/")
    bucket = os.environ.get("PINPIPE_S3_BUCKET", "pinpipe")
    timer = Timer()
    spark = session("pinpipe-bench-daily-clean")
    timer.step("session")

    raw = {kind: read(spark, bucket, kind, date) for kind in TOPICS}
    # Cached: the cleaned, deduplicated tables feed their own file and the join.
    pins = dedupe(clean_pins(raw["pin"]), "unique_id").cache()
    geo = dedupe(clean_geo(raw["geo"]), "ind").cache()
    users = dedupe(clean_users(raw["user"]), "ind").cache()
    posts = (
        pins.join(geo.select("ind", "event_time", "latitude", "longitude", "coordinates", "country"), "ind")
        .join(users.select("ind", "user_name", "age", "date_joined"), "ind")
        .withColumn("dt", F.to_date(F.lit(date)))
    )
    tables = {
        "pins": (pins.select(*PIN_COLUMNS), ["unique_id"]),
        "geo": (geo.select("ind", "event_time", "latitude", "longitude", "coordinates", "country"), ["ind"]),
        "users": (users.select("ind", "user_name", "age", "date_joined"), ["ind"]),
        "posts": (
            posts.select(
                *PIN_COLUMNS,
                "event_time",
                "latitude",
                "longitude",
                "coordinates",
                "country",
                "user_name",
                "age",
                "date_joined",
                "dt",
            ),
            ["ind", "unique_id"],
        ),
    }
    for name, (df, order) in tables.items():
        df.orderBy(*order).write.mode("overwrite").option("compression", "zstd").parquet(
            f"{out}/{name}/dt={date}"
        )
        timer.step(f"write {name}")
    seconds = timer.total()

    # Counted afterwards from what was written, outside the timed part.
    rows = {name: spark.read.parquet(f"{out}/{name}/dt={date}").count() for name in tables}
    lines = {kind: raw[kind].count() for kind in TOPICS}
    spark.stop()
    log("spark daily clean finished", seconds=seconds, rows=rows)
    print(json.dumps({"seconds": seconds, "steps": timer.steps, "rows": rows, "lines": lines}))


if __name__ == "__main__":
    main()
