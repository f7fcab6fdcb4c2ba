import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI } from '../../test/cli.js';

export interface IngestProcess {
  url: string;
  child: ChildProcess;
  logs(): string;
  /** SIGTERM, then SIGKILL after a bound; resolves with the exit code or signal. */
  stop(): Promise<number | string>;
}

/**
 * Runs `node dist/jobs/cli.js ingest --port 0 ...` as a real process (the vitest globalSetup
 * compiles dist/), reads the bound address from its "ingest listening" log line and, unless told
 * not to, waits for /readyz. Fails with the process's logs if it exits or is not ready in time.
 */
export async function startIngest(args: string[], env: Record<string, string>, { waitForReady = true, timeoutMs = 60_000 } = {}): Promise<IngestProcess> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PINPIPE_')));
  const child = spawn(process.execPath, [CLI, 'ingest', '--port', '0', ...args], { env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const stop = async (): Promise<number | string> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const result = await exited;
    clearTimeout(timer);
    return result;
  };

  const deadline = Date.now() + timeoutMs;
  let url: string | undefined;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`ingest exited early (${child.exitCode ?? child.signalCode}):\n${output}`);
    url ??= listeningUrl(output);
    if (url !== undefined && !waitForReady) return { url, child, logs: () => output, stop };
    if (url !== undefined) {
      const ready = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
      if (ready?.status === 200) return { url, child, logs: () => output, stop };
    }
    await sleep(200);
  }
  await stop();
  throw new Error(`ingest not ${waitForReady ? 'ready' : 'listening'} within ${timeoutMs} ms:\n${output}`);
}

function listeningUrl(logs: string): string | undefined {
  for (const line of logs.split('\n')) {
    if (!line.includes('"ingest listening"')) continue;
    const { address } = JSON.parse(line) as { address: string };
    return `http://${address}`;
  }
  return undefined;
}
