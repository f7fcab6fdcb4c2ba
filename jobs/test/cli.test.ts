import { describe, expect, it } from 'vitest';
import { assertNoNodeWarnings, nodeWarnings } from './cli.js';

describe('Node.js warnings in a job’s output', () => {
  it('finds runtime deprecations, the AWS SDK’s support notice and experimental warnings', () => {
    const output = [
      '{"job":"s3-sink","level":"info","message":"Warning: this is only a log line"}',
      '(node:4242) [DEP0040] DeprecationWarning: The `punycode` module is deprecated.',
      '(Use `node --trace-deprecation ...` to show where the warning was created)',
      '(node:4242) Warning: NodeVersionSupportWarning: The AWS SDK for JavaScript (v3)',
      '(node:77) ExperimentalWarning: Type Stripping is an experimental feature',
    ].join('\n');
    expect(nodeWarnings(output)).toEqual([
      '(node:4242) [DEP0040] DeprecationWarning: The `punycode` module is deprecated.',
      '(node:4242) Warning: NodeVersionSupportWarning: The AWS SDK for JavaScript (v3)',
      '(node:77) ExperimentalWarning: Type Stripping is an experimental feature',
    ]);
    expect(() => assertNoNodeWarnings(['s3-sink'], output)).toThrow(/pinpipe s3-sink printed Node.js warnings:\n\(node:4242\) \[DEP0040\]/);
  });

  it('passes JSON logs that merely mention a warning', () => {
    const output = '{"job":"ingest","level":"warn","message":"(node:1) Warning: quoted inside a log line"}\n';
    expect(nodeWarnings(output)).toEqual([]);
    expect(() => assertNoNodeWarnings(['ingest'], output)).not.toThrow();
  });
});
