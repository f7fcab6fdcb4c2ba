# Sourced by bench/run.sh: stream-agg over a 100,000-post backlog (300,000 records) with the code
# before the group watermark and now, then the late share of a 500,000-post backlog (1,500,000
# records) against the emulator's, then freshness over a 40 s live stream with 10 s windows closing.
run stream-agg npx tsx bench/stream-agg.ts 100000 40 500000
