import type { Registry } from 'prom-client';
import { LATENCY_BUCKETS, prom } from '../lib/metrics.js';

export type AggMetrics = ReturnType<typeof createAggMetrics>;

/** Freshness spans seconds to minutes: a window row trails its newest event by up to window + lateness. */
const FRESHNESS_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 90, 120, 300, 600, 1800, 3600];

/** The names are a contract with the Grafana dashboard; do not rename. */
export function createAggMetrics(registry: Registry) {
  const registers = [registry];
  return {
    records: new prom.Counter({ name: 'pinpipe_stream_agg_records_total', help: 'Records consumed and counted in a window (late and invalid ones excluded)', labelNames: ['topic'], registers }),
    late: new prom.Counter({ name: 'pinpipe_stream_agg_late_events_total', help: 'Records whose window had closed (its partition\'s stream time passed its end by the allowed lateness, or the group made it final); written to stream_agg_late_events', labelNames: ['topic'], registers }),
    repeats: new prom.Counter({
      name: 'pinpipe_stream_agg_repeated_records_total',
      help: 'Records not counted because an earlier copy was (same unique_id or ind within the dedupe horizon); reason retry when the event id is the same too, repeat otherwise. Written to stream_agg_repeats',
      labelNames: ['topic', 'reason'],
      registers,
    }),
    invalid: new prom.Counter({ name: 'pinpipe_stream_agg_invalid_records_total', help: 'Records that could not be aggregated (not JSON, no category or country), by reason', labelNames: ['topic', 'reason'], registers }),
    lag: new prom.Gauge({ name: 'pinpipe_stream_agg_consumer_lag', help: 'Records behind the partition high watermark at the last fetch', labelNames: ['topic', 'partition'], registers }),
    flushSeconds: new prom.Histogram({ name: 'pinpipe_stream_agg_flush_seconds', help: 'Time of one flush transaction (windows, offsets, late events)', buckets: LATENCY_BUCKETS, registers }),
    freshness: new prom.Histogram({
      name: 'pinpipe_stream_agg_freshness_seconds',
      help: 'From the record timestamp of the newest event of a window in a flush to that flush committed',
      buckets: FRESHNESS_BUCKETS,
      registers,
    }),
    watermarkLag: new prom.Gauge({ name: 'pinpipe_stream_agg_watermark_lag_seconds', help: 'Wall clock minus the group watermark (windows ending before it are final)', registers }),
    openWindows: new prom.Gauge({ name: 'pinpipe_stream_agg_open_windows', help: 'Windows with rows not yet final', registers }),
    finalized: new prom.Counter({ name: 'pinpipe_stream_agg_windows_finalized_total', help: 'Windows marked final', registers }),
    flushFailures: new prom.Counter({ name: 'pinpipe_stream_agg_flush_failures_total', help: 'Flush transactions that failed (retried until --pg-retry-ms), by kind', labelNames: ['kind'], registers }),
  };
}
