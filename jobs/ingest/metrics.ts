import type { Registry } from 'prom-client';
import { LATENCY_BUCKETS, METRIC_PREFIX, prom } from '../lib/metrics.js';
import type { RecordType } from '../lib/contracts.js';
import { REJECT_REASONS, type RejectReason } from './types.js';

const P = `${METRIC_PREFIX}ingest_`;

/** ingest's Prometheus series; all names start with pinpipe_ingest_. */
export function createIngestMetrics(registry: Registry) {
  const registers = [registry];
  return {
    requests: new prom.Counter({ name: `${P}http_requests_total`, help: 'HTTP requests by route, method and status', labelNames: ['route', 'method', 'status'] as const, registers }),
    requestSeconds: new prom.Histogram({
      name: `${P}http_request_duration_seconds`,
      help: 'HTTP request duration by route, until the response is sent (includes waiting for Kafka)',
      labelNames: ['route'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    accepted: new prom.Counter({ name: `${P}records_accepted_total`, help: 'Records stored in Kafka and acknowledged, by type', labelNames: ['type'] as const, registers }),
    rejected: new prom.Counter({ name: `${P}records_rejected_total`, help: `Records refused at the door, by reason: ${REJECT_REASONS.join(', ')}`, labelNames: ['reason'] as const, registers }),
    failed: new prom.Counter({ name: `${P}records_failed_total`, help: 'Valid records answered with 503 because Kafka did not store them or the queue was full', labelNames: ['type'] as const, registers }),
    produceSeconds: new prom.Histogram({
      name: `${P}produce_duration_seconds`,
      help: 'Duration of one Kafka produce request (a micro-batch), by outcome: stored, failed',
      labelNames: ['outcome'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    batchRecords: new prom.Histogram({ name: `${P}produce_batch_records`, help: 'Records per Kafka produce request', buckets: [1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000], registers }),
    queueDepth: new prom.Gauge({ name: `${P}queue_records`, help: 'Records queued for Kafka or in flight', registers }),
    kafkaReachable: new prom.Gauge({ name: `${P}kafka_reachable`, help: '1 while Kafka answers produce requests and metadata probes, else 0', registers }),
  };
}

export type IngestMetrics = ReturnType<typeof createIngestMetrics>;

export function countAccepted(metrics: IngestMetrics, counts: Partial<Record<RecordType, number>>): void {
  for (const [type, n] of Object.entries(counts)) if (n) metrics.accepted.inc({ type }, n);
}

export function countRejected(metrics: IngestMetrics, reason: RejectReason, n = 1): void {
  metrics.rejected.inc({ reason }, n);
}
