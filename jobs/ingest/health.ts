import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { ApiError, errorBody } from './api-error.js';
import type { KafkaState } from './producer.js';

export interface HealthDeps {
  kafka: KafkaState;
  registry: Registry;
  openapi: Record<string, unknown>;
  isClosing: () => boolean;
}

/** The operational routes: no authentication, so probes and scrapers need no key. */
export function registerHealthRoutes(app: FastifyInstance, deps: HealthDeps): void {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    if (!deps.isClosing() && deps.kafka.ready()) return { status: 'ready', kafka: deps.kafka.reason() };
    const message = deps.isClosing() ? 'ingest is shutting down' : deps.kafka.reason();
    return reply.code(503).send(errorBody(new ApiError(deps.isClosing() ? 'PINPIPE_INTERRUPTED' : 'PINPIPE_DEPENDENCY_UNAVAILABLE', message)));
  });

  app.get('/metrics', async (_request, reply) => {
    const text = await deps.registry.metrics();
    return reply.type(deps.registry.contentType).send(text);
  });

  const openapi = JSON.stringify(deps.openapi);
  app.get('/openapi.json', async (_request, reply) => reply.type('application/json; charset=utf-8').send(openapi));
}
