import type { Registry } from 'prom-client';
import { LATENCY_BUCKETS, prom } from '../lib/metrics.js';

export type SinkMetrics = ReturnType<typeof createSinkMetrics>;

export function createSinkMetrics(registry: Registry) {
  const registers = [registry];
  return {
    flushes: new prom.Counter({ name: 'pinpipe_s3_sink_flushes_total', help: 'Objects flushed, by topic and rotation reason', labelNames: ['topic', 'reason'], registers }),
    flushSeconds: new prom.Histogram({
      name: 'pinpipe_s3_sink_flush_seconds',
      help: 'Time to encode, store and commit one flush',
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    objects: new prom.Counter({ name: 'pinpipe_s3_sink_objects_total', help: 'Objects written to the lake (raw and dead-letter)', labelNames: ['topic'], registers }),
    records: new prom.Counter({ name: 'pinpipe_s3_sink_records_total', help: 'Records written to raw objects', labelNames: ['topic'], registers }),
    bytes: new prom.Counter({ name: 'pinpipe_s3_sink_bytes_total', help: 'Compressed bytes written to the lake', labelNames: ['topic'], registers }),
    deadLetters: new prom.Counter({ name: 'pinpipe_s3_sink_dead_letters_total', help: 'Records that could not be decoded, written under dlq/', labelNames: ['topic'], registers }),
    conflicts: new prom.Counter({
      name: 'pinpipe_s3_sink_existing_objects_total',
      help: 'Flushes that found their object already written (after a restart or rebalance)',
      labelNames: ['topic'],
      registers,
    }),
    alreadyLanded: new prom.Counter({
      name: 'pinpipe_s3_sink_already_landed_records_total',
      help: 'Records left out of a flush because the lake already held them (another group, an offset reset, a restart)',
      labelNames: ['topic'],
      registers,
    }),
    bufferedBytes: new prom.Gauge({ name: 'pinpipe_s3_sink_buffered_bytes', help: 'Bytes held in memory, not yet in the lake', registers }),
    lag: new prom.Gauge({ name: 'pinpipe_s3_sink_consumer_lag', help: 'Records behind the partition high watermark at the last fetch', labelNames: ['topic', 'partition'], registers }),
  };
}
