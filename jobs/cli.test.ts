import { describe, expect, it } from 'vitest';
import { validateTypedRecord } from './lib/contracts.js';
import { runCli } from './test/cli.js';

const START = '2026-03-01T00:00:00Z';

describe('pinpipe CLI', () => {
  it('lists its commands in --help', async () => {
    const { code, stdout } = await runCli(['--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/pinpipe emulate/);
    expect(stdout).toMatch(/pinpipe check/);
  });

  it('shows each option with its environment variable in command --help', async () => {
    const { code, stdout } = await runCli(['check', '--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/--kafka-brokers[\s\S]*PINPIPE_KAFKA_BROKERS/);
  });

  it('prints the same NDJSON bytes for the same seed, joined by ind', async () => {
    const args = ['emulate', '--count', '1000', '--seed', '7', '--out', '-', '--start-time', START];
    const [a, b] = await Promise.all([runCli(args), runCli(args)]);
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    const lines = a.stdout.trim().split('\n').map((l) => JSON.parse(l) as unknown);
    expect(lines).toHaveLength(3000);
    expect(lines.every((l) => validateTypedRecord(l).ok)).toBe(true);
    const types = lines.map((l) => (l as { type: string }).type);
    expect(types.slice(0, 6)).toEqual(['pin', 'geo', 'user', 'pin', 'geo', 'user']);
    const c = await runCli(['emulate', '--count', '1000', '--seed', '8', '--out', '-', '--start-time', START]);
    expect(c.stdout).not.toBe(a.stdout);
  });

  it('takes settings from PINPIPE_* when no flag is given, and prefers the flag', async () => {
    const viaEnv = await runCli(['emulate', '--count', '5', '--out', '-', '--start-time', START], { PINPIPE_SEED: '7' });
    const viaFlag = await runCli(['emulate', '--count', '5', '--out', '-', '--start-time', START, '--seed', '7'], { PINPIPE_SEED: '99' });
    const other = await runCli(['emulate', '--count', '5', '--out', '-', '--start-time', START, '--seed', '99']);
    expect(viaEnv.stdout).toBe(viaFlag.stdout);
    expect(viaEnv.stdout).not.toBe(other.stdout);
  });

  it('ignores PINPIPE_* variables that belong to other commands (one ConfigMap serves every job)', async () => {
    const { code, stderr } = await runCli(['emulate', '--count', '1', '--out', '-', '--start-time', START], {
      PINPIPE_PG_URL: 'postgres://elsewhere/db',
      PINPIPE_KAFKA_BROKERS: '',
    });
    expect(stderr).not.toMatch(/Unknown argument/);
    expect(code).toBe(0);
  });

  it('rejects an empty PINPIPE_KAFKA_BROKERS with one line and exit code 2', async () => {
    const { code, stderr, stdout } = await runCli(['check', '--service', 'kafka'], { PINPIPE_KAFKA_BROKERS: '' });
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.trim().split('\n')).toEqual(['pinpipe: --kafka-brokers / PINPIPE_KAFKA_BROKERS: must not be empty (see pinpipe check --help)']);
  });

  it('rejects unknown commands, unknown flags and a missing destination with exit code 2', async () => {
    for (const args of [['frobnicate'], ['emulate', '--count', '1', '--out', '-', '--bogus'], ['emulate', '--count', '1'], []]) {
      const { code, stderr } = await runCli(args);
      expect(code, args.join(' ')).toBe(2);
      expect(stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    }
  });

  it('fails with exit code 1 and a JSON error naming the line for a broken seed file', async () => {
    const { code, stderr } = await runCli(['emulate', '--count', '1', '--out', '-', '--seed-file', 'package.json']);
    expect(code).toBe(1);
    const last = JSON.parse(stderr.trim().split('\n').pop() ?? '{}') as { message: string; code: string; job: string };
    expect(last).toMatchObject({ job: 'emulate', code: 'PINPIPE_INPUT_INVALID' });
    expect(last.message).toMatch(/--seed-file package.json line 1: not valid JSON/);
  });

  it('writes to a file and logs JSON lines with the job name on stderr', async () => {
    const out = `/tmp/pinpipe-cli-test-${process.pid}.ndjson`;
    const { code, stderr } = await runCli(['emulate', '--count', '10', '--out', out, '--start-time', START]);
    expect(code).toBe(0);
    const logs = stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logs.every((l) => l.job === 'emulate' && typeof l.timestamp === 'string')).toBe(true);
    expect(logs.at(-1)).toMatchObject({ message: 'emulation finished', posts: 10, records: 30 });
    const { readFile, rm } = await import('node:fs/promises');
    expect((await readFile(out, 'utf8')).trim().split('\n')).toHaveLength(30);
    await rm(out);
  });
});
