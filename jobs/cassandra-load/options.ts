import { Type, type Static } from '@sinclair/typebox';
import type { Argv } from 'yargs';
import { option, validateSettings, withDateOption } from '../lib/config.js';
import { ConfigError } from '../lib/errors.js';


export const LoadSettings = Type.Object({
  replication: Type.String({ minLength: 1 }),
  concurrency: Type.Integer({ minimum: 1, maximum: 1024 }),
  maxRetries: Type.Integer({ minimum: 0, maximum: 50 }),
  retryBaseMs: Type.Integer({ minimum: 1, maximum: 60_000 }),
  batchRows: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  batchBytes: Type.Optional(Type.Integer({ minimum: 100, maximum: 1_048_576 })),
  tempDir: Type.Optional(Type.String({ minLength: 1 })),
});
export type LoadOptions = Static<typeof LoadSettings> & { date: string };

export type Replication = { class: 'SimpleStrategy'; replication_factor: number } | ({ class: 'NetworkTopologyStrategy' } & Record<string, number | string>);

const FLAG = '--replication / PINPIPE_REPLICATION';

/**
 * The keyspace replication map, as CQL takes it: {"class":"SimpleStrategy","replication_factor":1}
 * or {"class":"NetworkTopologyStrategy","dc1":3,"dc2":2}. Short class names only.
 */
export function parseReplication(text: string): Replication {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ConfigError(`${FLAG}: must be a JSON object such as {"class":"SimpleStrategy","replication_factor":1}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(`${FLAG}: must be a JSON object`);
  const map = value as Record<string, unknown>;
  const factor = (v: unknown): boolean => Number.isInteger(Number(v)) && Number(v) >= 1 && Number(v) <= 99;
  if (map.class === 'SimpleStrategy') {
    if (Object.keys(map).length !== 2 || !factor(map.replication_factor)) {
      throw new ConfigError(`${FLAG}: SimpleStrategy takes exactly one "replication_factor" between 1 and 99`);
    }
    return { class: 'SimpleStrategy', replication_factor: Number(map.replication_factor) };
  }
  if (map.class === 'NetworkTopologyStrategy') {
    const dcs = Object.entries(map).filter(([k]) => k !== 'class');
    if (dcs.length === 0 || dcs.some(([dc, n]) => !/^[A-Za-z0-9_.-]+$/.test(dc) || !factor(n))) {
      throw new ConfigError(`${FLAG}: NetworkTopologyStrategy takes one "<datacenter>": <factor 1-99> entry per datacenter`);
    }
    return map as Replication;
  }
  throw new ConfigError(`${FLAG}: "class" must be "SimpleStrategy" or "NetworkTopologyStrategy"`);
}

/** The replication map as CQL: {'class': 'SimpleStrategy', 'replication_factor': 1}. */
export function replicationCql(replication: Replication): string {
  const entries = Object.entries(replication).map(([k, v]) => `'${k}': ${k === 'class' ? `'${String(v)}'` : `${Number(v)}`}`);
  return `{${entries.join(', ')}}`;
}

export function loadOptions<T>(y: Argv<T>) {
  return withDateOption(y)
    .options({
      ...option('replication', {
        type: 'string',
        description: 'Replication of the keyspace when it is created, as JSON: {"class":"SimpleStrategy","replication_factor":1} or {"class":"NetworkTopologyStrategy","dc1":3}',
        default: '{"class":"SimpleStrategy","replication_factor":1}',
        group: 'Load:',
      }),
      ...option('concurrency', { type: 'number', description: 'Writes in flight at once', default: 128, group: 'Load:' }),
      ...option('max-retries', { type: 'number', description: 'Retries of a write that timed out or found too few replicas', default: 5, group: 'Load:' }),
      ...option('retry-base-ms', { type: 'number', description: 'First retry delay; doubles per attempt, with jitter', default: 200, group: 'Load:' }),
      ...option('batch-rows', {
        type: 'number',
        description:
          "Most rows in one unlogged batch (default: 100 rows of one partition; rows of one replica set up to the cluster's unlogged_batch_across_partitions_warn_threshold, 10 by default)",
        group: 'Load:',
      }),
      ...option('batch-bytes', {
        type: 'number',
        description:
          "Estimated size a batch stays under (default: 25/32 of the cluster's batch_size_warn_threshold, read from system_views.settings: 4000 for Cassandra's default 5 KiB)",
        group: 'Load:',
      }),
      ...option('temp-dir', { type: 'string', description: 'Where curated Parquet is staged (default: the system temp folder)', group: 'Load:' }),
    })
    .check((argv) => {
      validateSettings(LoadSettings, argv);
      parseReplication(String(argv.replication));
      return true;
    })
    .example('$0 cassandra-load --date 2026-03-01', 'load the curated pins and metrics of 2026-03-01');
}
