# Sourced by bench/run.sh: stream-agg throughput over a 100,000-post backlog (300,000 records),
# then freshness over a 40 s live stream with 10 s windows closing.
run stream-agg npx tsx bench/stream-agg.ts 100000 40
