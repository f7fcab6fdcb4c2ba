"""What the PySpark comparison benchmarks share: the session, the placeholders, the parsing."""

import json
import os
import sys
import time

from pyspark.sql import Column, SparkSession
from pyspark.sql import functions as F

# The placeholders that mean "missing", per field, as jobs/lib/contracts.ts lists them.
PLACEHOLDERS = {
    "title": ["No Title Data Available", "Untitled"],
    "description": [
        "No description available Story format",
        "No description available",
        "Untitled",
    ],
    "poster_name": ["User Info Error"],
    "follower_count": ["User Info Error"],
    "tag_list": ["N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e"],
    "image_src": ["Image src error."],
}
STORY_FORMAT = "multi-video(story page format)"

# The curated pins columns in their file order, as CURATED_TABLES.pins in jobs/daily-transform/sql.ts.
PIN_COLUMNS = [
    "ind",
    "unique_id",
    "title",
    "description",
    "poster_name",
    "follower_count",
    "tag_list",
    "media_type",
    "story_format",
    "image_src",
    "downloaded",
    "save_location",
    "category",
]


def log(message: str, **fields: object) -> None:
    print(json.dumps({"msg": message, **fields}), file=sys.stderr, flush=True)


def session(app: str, extra: dict[str, str] | None = None) -> SparkSession:
    """local[N] with the extra jars of bench/spark/setup.sh and a config sized for a small machine.

    The settings (all overridable through PINPIPE_SPARK_* environment variables):
    local[2] (the machine's two cores), 4 shuffle partitions instead of 200 (a day is a few
    hundred MB), adaptive execution on (Spark 3.5's default), 2 GB of driver heap (local mode
    runs the executors in the driver JVM), UTC session time zone.
    """
    jars_dir = os.environ.get("PINPIPE_SPARK_JARS", os.path.expanduser("~/.cache/pinpipe/spark-jars"))
    jars = ",".join(os.path.join(jars_dir, j) for j in sorted(os.listdir(jars_dir)) if j.endswith(".jar"))
    endpoint = os.environ.get("PINPIPE_S3_ENDPOINT", "http://127.0.0.1:9000")
    builder = (
        SparkSession.builder.appName(app)
        .master(os.environ.get("PINPIPE_SPARK_MASTER", "local[2]"))
        .config("spark.jars", jars)
        .config("spark.driver.memory", os.environ.get("PINPIPE_SPARK_DRIVER_MEMORY", "2g"))
        .config("spark.sql.shuffle.partitions", os.environ.get("PINPIPE_SPARK_SHUFFLE_PARTITIONS", "4"))
        .config("spark.sql.adaptive.enabled", "true")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.hadoop.fs.s3a.endpoint", endpoint)
        .config("spark.hadoop.fs.s3a.path.style.access", "true")
        .config("spark.hadoop.fs.s3a.connection.ssl.enabled", str(endpoint.startswith("https")).lower())
        .config("spark.hadoop.fs.s3a.access.key", os.environ.get("AWS_ACCESS_KEY_ID", ""))
        .config("spark.hadoop.fs.s3a.secret.key", os.environ.get("AWS_SECRET_ACCESS_KEY", ""))
        .config("spark.hadoop.fs.s3a.endpoint.region", os.environ.get("PINPIPE_S3_REGION", "us-east-1"))
        # Fewer renames on S3 when committing output (v1 renames every file twice).
        .config("spark.hadoop.mapreduce.fileoutputcommitter.algorithm.version", "2")
    )
    for key, value in (extra or {}).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


def is_placeholder(field: str, col: Column) -> Column:
    return F.coalesce(col.isin(PLACEHOLDERS[field]), F.lit(False))


def null_if_placeholder(field: str, col: Column) -> Column:
    return F.when(is_placeholder(field, col), F.lit(None)).otherwise(col)


def follower_count(col: Column) -> Column:
    """Follower count text to an integer: "13k" → 13000, "1.5k" → 1500, "1M", "2B", "850".

    Placeholders and anything else become null.
    """
    suffix = F.substring(col, -1, 1)
    number = F.when(suffix.isin("k", "M", "B"), col.substr(F.lit(1), F.length(col) - 1))
    mult = (
        F.when(suffix == "k", 1_000)
        .when(suffix == "M", 1_000_000)
        .when(suffix == "B", 1_000_000_000)
        .otherwise(1)
    )
    value = F.round(F.coalesce(number, col).cast("double") * mult).cast("bigint")
    return (
        F.when(is_placeholder("follower_count", col), F.lit(None))
        .when(col.rlike(r"^[0-9]{1,15}(\.[0-9]{1,6})?[kMB]?$"), value)
        .otherwise(F.lit(None))
    )


class Timer:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self.steps: dict[str, float] = {}
        self._last = self.started

    def step(self, name: str) -> None:
        now = time.monotonic()
        self.steps[name] = round(now - self._last, 2)
        self._last = now
        log("spark step", step=name, seconds=self.steps[name])

    def total(self) -> float:
        return round(time.monotonic() - self.started, 2)
