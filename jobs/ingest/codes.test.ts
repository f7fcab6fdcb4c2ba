import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../lib/errors.js';
import { projectRoot } from '../lib/paths.js';

/** Every code the ingest API answers with, and its HTTP status. */
const INGEST_CODES = {
  PINPIPE_INPUT_INVALID: 400,
  PINPIPE_UNAUTHORIZED: 401,
  PINPIPE_FORBIDDEN: 403,
  PINPIPE_ROUTE_NOT_FOUND: 404,
  PINPIPE_METHOD_NOT_ALLOWED: 405,
  PINPIPE_BODY_TOO_LARGE: 413,
  PINPIPE_RECORD_TOO_LARGE: 413,
  PINPIPE_UNSUPPORTED_MEDIA_TYPE: 415,
  PINPIPE_INTERNAL: 500,
  PINPIPE_DEPENDENCY_UNAVAILABLE: 503,
  PINPIPE_OVERLOADED: 503,
  PINPIPE_INTERRUPTED: 503,
} as const;

describe('ingest error codes', () => {
  it('are declared in ERROR_CODES with their HTTP status, a summary, and retryable exactly for 503', () => {
    for (const [code, status] of Object.entries(INGEST_CODES)) {
      const entry = (ERROR_CODES as Record<string, { status: number; retryable: boolean; summary: string }>)[code];
      expect(entry, code).toBeDefined();
      expect(entry?.status, code).toBe(status);
      expect(entry?.retryable, code).toBe(status === 503);
      expect(entry?.summary.length, code).toBeGreaterThan(10);
    }
  });

  it('each have a row, with their HTTP status, in the generated docs/reference/errors.md', () => {
    const page = readFileSync(join(projectRoot(), 'docs', 'reference', 'errors.md'), 'utf8');
    for (const [code, status] of Object.entries(INGEST_CODES)) expect(page, code).toMatch(new RegExp(`^\\| \`${code}\` \\| ${status} \\| .+ \\|$`, 'm'));
  });
});
