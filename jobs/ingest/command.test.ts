import { describe, expect, it } from 'vitest';
import { runCli } from '../test/cli.js';

describe('pinpipe ingest settings', () => {
  it('refuses to start without API keys or --auth-disabled: one line naming the settings, exit 2', async () => {
    const { code, stdout, stderr } = await runCli(['ingest', '--port', '0']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^pinpipe: --api-keys \/ PINPIPE_API_KEYS or --api-keys-file \/ PINPIPE_API_KEYS_FILE: .*--auth-disabled/);
  });

  it('refuses an empty PINPIPE_API_KEYS the same way', async () => {
    const { code, stderr } = await runCli(['ingest', '--port', '0'], { PINPIPE_API_KEYS: '' });
    expect(code).toBe(2);
    expect(stderr).toMatch(/--api-keys \/ PINPIPE_API_KEYS/);
  });

  it('names the flag of an invalid setting', async () => {
    const { code, stderr } = await runCli(['ingest', '--auth-disabled', '--max-queued-records', '0']);
    expect(code).toBe(2);
    expect(stderr.trim()).toBe('pinpipe: --max-queued-records / PINPIPE_MAX_QUEUED_RECORDS: must be >= 1 (see pinpipe ingest --help)');
  });

  it('lists ingest in --help', async () => {
    const { stdout } = await runCli(['--help']);
    expect(stdout).toMatch(/pinpipe ingest/);
  });
});
