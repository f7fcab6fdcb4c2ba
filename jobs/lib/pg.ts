import pg from 'pg';
import type { PgOptions } from './config.js';

export type PgPool = pg.Pool;

export function createPgPool(options: PgOptions, extra: pg.PoolConfig = {}): PgPool {
  return new pg.Pool({ connectionString: options.pgUrl, max: 4, connectionTimeoutMillis: 10_000, ...extra });
}

/** The URL with its password masked, for logs. */
export function redactPgUrl(url: string): string {
  return url.replace(/(\/\/[^:/@]+:)[^@]*@/, '$1***@');
}
