import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, DependencyError, describeError, ERROR_CODES, exitCodeFor, InputError, InterruptedError, PinpipeError, UsageError } from './errors.js';
import { projectRoot } from './paths.js';

describe('error codes', () => {
  it('each have a row in the generated docs/reference/errors.md (make docs-reference)', () => {
    const page = readFileSync(join(projectRoot(), 'docs', 'reference', 'errors.md'), 'utf8');
    const undocumented = Object.keys(ERROR_CODES).filter((code) => !new RegExp(`^\\| \`${code}\` \\| .+ \\|$`, 'm').test(page));
    expect(undocumented).toEqual([]);
  });

  it('state the exit code exitCodeFor gives a job that stops with them', () => {
    expect(exitCodeFor(new PinpipeError('PINPIPE_QUALITY_FAILED', 'x'))).toBe(ERROR_CODES.PINPIPE_QUALITY_FAILED.exit);
    for (const [code, entry] of Object.entries(ERROR_CODES)) expect([null, 1, 2, 143], code).toContain(entry.exit);
  });

  it('map to exit codes: 2 for usage and config, 143 when interrupted, 1 otherwise', () => {
    expect(exitCodeFor(new ConfigError('x'))).toBe(2);
    expect(exitCodeFor(new UsageError('x'))).toBe(2);
    expect(exitCodeFor(new InterruptedError())).toBe(143);
    expect(exitCodeFor(new InputError('x'))).toBe(1);
    expect(exitCodeFor(new Error('x'))).toBe(1);
  });

  it('carry code, retryability and cause', () => {
    const cause = new Error('ECONNREFUSED');
    const error = new DependencyError('kafka down', { cause });
    expect(error).toMatchObject({ code: 'PINPIPE_DEPENDENCY_UNAVAILABLE', retryable: true, cause, name: 'DependencyError' });
    expect(new InputError('gone', { notFound: true }).code).toBe('PINPIPE_INPUT_NOT_FOUND');
  });

  it('describe themselves on one line unless verbose', () => {
    const error = new DependencyError('kafka down', { cause: new Error('ECONNREFUSED') });
    expect(describeError(error)).toBe('kafka down [PINPIPE_DEPENDENCY_UNAVAILABLE] (cause: ECONNREFUSED)');
    expect(describeError(error, true)).toMatch(/caused by: Error: ECONNREFUSED/);
  });
});
