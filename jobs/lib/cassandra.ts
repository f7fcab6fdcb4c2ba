import cassandra from 'cassandra-driver';
import type { CassandraOptions } from './config.js';

export type CassandraClient = cassandra.Client;

/** A client not bound to a keyspace, so it can create the keyspace first. */
export function createCassandraClient(options: CassandraOptions): CassandraClient {
  return new cassandra.Client({
    contactPoints: options.cassandraContactPoints,
    localDataCenter: options.cassandraLocalDc,
    socketOptions: { connectTimeout: 10_000, readTimeout: 30_000 },
  });
}
