# shellcheck shell=bash
# Sourced by bench/run.sh: Trino on the local stack (issue 17): the eight analytics queries from
# Cassandra (p50/p99 of 50 runs), one aggregate over 30 days of 1,000,000 curated posts each
# against DuckDB on the same Parquet, and Trino's time to ready and peak RSS.
run trino npx tsx bench/trino.ts 1000000 30
