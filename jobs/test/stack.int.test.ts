import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../lib/paths.js';

/**
 * stack/stack.sh on a private copy of PostgreSQL (its own state folder and port), so killing it
 * cannot disturb the shared services the other integration tests use.
 */
const run = promisify(execFile);
const stateDir = mkdtempSync(join(tmpdir(), 'pinpipe-stack-test-'));
const PORT = '25432';
const env = { ...process.env, PINPIPE_STACK_DIR: stateDir, PINPIPE_PG_PORT: PORT };
const stack = join(projectRoot(), 'stack', 'stack.sh');

async function stackCmd(...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(stack, args, { env, timeout: 120_000 });
    return { code: 0, out: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

afterAll(async () => {
  await stackCmd('clean', 'postgres');
  rmSync(stateDir, { recursive: true, force: true });
});

describe('stack/stack.sh', () => {
  it('starts a service, says so twice harmlessly, reports it DIED after kill -9, and restarts it', async () => {
    const up = await stackCmd('up', 'postgres');
    expect(up.code, up.out).toBe(0);
    expect((await stackCmd('up', 'postgres')).out).toMatch(/postgres already up/);
    const status = await stackCmd('status', 'postgres');
    expect(status).toMatchObject({ code: 0 });
    expect(status.out).toMatch(new RegExp(`postgres +up \\(pid \\d+, port ${PORT}\\)`));

    const pid = Number(readFileSync(join(stateDir, 'run', 'postgres.pid'), 'utf8').trim());
    process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    const died = await stackCmd('status', 'postgres');
    expect(died.code).not.toBe(0);
    expect(died.out).toMatch(/postgres +DIED/);

    expect((await stackCmd('up', 'postgres')).code).toBe(0);
    expect((await stackCmd('down', 'postgres')).code).toBe(0);
    const down = await stackCmd('status', 'postgres');
    expect(down.code).not.toBe(0);
    expect(down.out).toMatch(/postgres +down/);
  });

  it('starts again when its pidfiles name processes that no longer exist (a machine restarted)', async () => {
    expect((await stackCmd('up', 'postgres')).code).toBe(0);
    expect((await stackCmd('down', 'postgres')).code).toBe(0);
    let gone = 4_000_000;
    while (existsSync(`/proc/${gone}`)) gone -= 1;
    const postmasterPid = join(stateDir, 'postgres', 'data', 'postmaster.pid');
    writeFileSync(join(stateDir, 'run', 'postgres.pid'), `${gone}\n`);
    writeFileSync(postmasterPid, `${gone}\n${join(stateDir, 'postgres', 'data')}\n`);

    const up = await stackCmd('up', 'postgres');
    expect(up.code, up.out).toBe(0);
    expect(up.out).toMatch(/postgres up \(pid \d+/);
    expect((await stackCmd('down', 'postgres')).code).toBe(0);
  });

  it('refuses a port held by another program, naming it, instead of reusing it', async () => {
    const squatter = spawn('python3', ['-m', 'http.server', PORT, '--bind', '127.0.0.1'], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 1_000));
      const up = await stackCmd('up', 'postgres');
      expect(up.code).not.toBe(0);
      expect(up.out).toMatch(new RegExp(`port ${PORT} is in use by pid ${squatter.pid}.*PINPIPE_PG_PORT`));
    } finally {
      squatter.kill();
    }
  });
});
