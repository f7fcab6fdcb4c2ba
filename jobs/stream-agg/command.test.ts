import { describe, expect, it } from 'vitest';
import { runCli } from '../test/cli.js';

describe('pinpipe stream-agg options', () => {
  it('documents its options with their environment variables', async () => {
    const { code, stdout } = await runCli(['stream-agg', '--help']);
    expect(code).toBe(0);
    // yargs wraps long lines, sometimes inside a variable's name; join the wrapped pieces.
    const flat = stdout.replace(/\n\s+/g, '');
    for (const [flag, env] of [
      ['--window', 'PINPIPE_WINDOW'],
      ['--allowed-lateness', 'PINPIPE_ALLOWED_LATENESS'],
      ['--pg-url', 'PINPIPE_PG_URL'],
      ['--pg-retry-ms', 'PINPIPE_PG_RETRY_MS'],
      ['--group-id', 'PINPIPE_GROUP_ID'],
    ]) {
      expect(flat).toMatch(new RegExp(`${flag}[\\s\\S]*${env}`));
    }
    expect(stdout).toMatch(/default: 9102/);
  });

  it('rejects a window that is not a duration, naming the flag and the variable (exit 2)', async () => {
    const { code, stderr } = await runCli(['stream-agg', '--window', 'a minute']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/--window \/ PINPIPE_WINDOW: "a minute" is not a duration such as 30s, 1m or 500ms/);
  });

  it('rejects a window under a second and a lateness from the environment that is not a duration', async () => {
    const small = await runCli(['stream-agg', '--window', '200ms']);
    expect(small.code).toBe(2);
    expect(small.stderr).toMatch(/--window \/ PINPIPE_WINDOW: must be >= 1000/);
    const env = await runCli(['stream-agg'], { PINPIPE_ALLOWED_LATENESS: 'soon' });
    expect(env.code).toBe(2);
    expect(env.stderr).toMatch(/--allowed-lateness \/ PINPIPE_ALLOWED_LATENESS: "soon" is not a duration/);
  });

  it('rejects one topic given for two record types', async () => {
    const { code, stderr } = await runCli(['stream-agg', '--pin-topic', 't', '--geo-topic', 't']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/--pin-topic, --geo-topic and --user-topic must be three different topics/);
  });
});
