"""PySpark with the spark-cassandra-connector writing what `pinpipe cassandra-load` writes.

Usage: cassandra_load.py DATE KEYSPACE   (run by bench/daily.ts --spark)

Reads day DATE's curated Parquet that pinpipe daily-transform published (pins, posts and the
eight metric tables, from S3 through s3a: the files pinpipe cassandra-load stages), builds the
rows of jobs/cassandra-load/targets.ts and appends them with the connector into KEYSPACE, whose
tables bench/daily.ts created from jobs/cassandra-load/schema/. The connector's write settings
are its defaults. Prints one JSON object: seconds and rows per table.
"""

import json
import os
import sys

from common import PIN_COLUMNS, Timer, log, session
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import TimestampNTZType

METRICS = [
    "popular_category_by_country",
    "posts_per_category_year",
    "most_followed_by_country",
    "popular_category_by_age_group",
    "median_followers_by_age_group",
    "median_followers_by_join_year",
    "median_followers_by_age_group_join_year",
    "users_joined_per_year",
]


def main() -> None:
    date, keyspace = sys.argv[1], sys.argv[2]
    bucket = os.environ.get("PINPIPE_S3_BUCKET", "pinpipe")
    host, _, port = (
        os.environ.get("PINPIPE_CASSANDRA_CONTACT_POINTS", "127.0.0.1:9042").split(",")[0].partition(":")
    )
    timer = Timer()
    spark = session(
        "pinpipe-bench-cassandra-load",
        {
            "spark.cassandra.connection.host": host,
            "spark.cassandra.connection.port": port or "9042",
            "spark.cassandra.connection.localDC": os.environ.get("PINPIPE_CASSANDRA_LOCAL_DC", "datacenter1"),
        },
    )
    timer.step("session")

    def curated(table: str) -> DataFrame:
        df = spark.read.parquet(f"s3a://{bucket}/curated/{table}/dt={date}/")
        # DuckDB writes TIMESTAMP (no zone), which Spark 3.5 reads as TIMESTAMP_NTZ; the connector
        # maps Cassandra's timestamp from Spark's TIMESTAMP, so name the (UTC) instant as that.
        ntz = [f.name for f in df.schema.fields if isinstance(f.dataType, TimestampNTZType)]
        return df.withColumns({c: F.col(c).cast("timestamp") for c in ntz}) if ntz else df

    day = F.to_date(F.lit(date))

    pins = curated("pins")
    posts = curated("posts").select(
        "unique_id", "country", "latitude", "longitude", "event_time", "user_name", "age", "date_joined"
    )
    joined = pins.join(posts, "unique_id", "left").cache()
    targets = {
        "pins_by_id": joined.select(
            *PIN_COLUMNS,
            "country",
            "latitude",
            "longitude",
            "event_time",
            "user_name",
            "age",
            "date_joined",
            day.alias("dt"),
        ),
        "pins_by_category_day": joined.where(F.col("category").isNotNull()).select(
            "category",
            day.alias("day"),
            "unique_id",
            "ind",
            "title",
            "poster_name",
            "follower_count",
            "media_type",
            "image_src",
            "country",
            "event_time",
        ),
    }
    for metric in METRICS:
        table = f"metrics_{metric}"
        targets[table] = curated(table).withColumn("dt", day)

    rows: dict[str, int] = {}
    for table, df in targets.items():
        df.write.format("org.apache.spark.sql.cassandra").mode("append").options(
            keyspace=keyspace, table=table
        ).save()
        timer.step(table)
    seconds = timer.total()
    load_seconds = round(seconds - timer.steps["session"], 2)
    # Counted afterwards, outside the timed part.
    for table, df in targets.items():
        rows[table] = df.count()
    spark.stop()
    total = sum(rows.values())
    log("spark cassandra load finished", seconds=seconds, rows=total)
    print(
        json.dumps(
            {
                "seconds": seconds,
                "loadSeconds": load_seconds,
                "rows": total,
                "perTable": rows,
                "steps": timer.steps,
            }
        )
    )


if __name__ == "__main__":
    main()
