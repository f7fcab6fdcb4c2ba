import { spawn, type ChildProcess } from 'node:child_process';
import { assertNoNodeWarnings, CLI } from './cli.js';

export interface JobProcess {
  child: ChildProcess;
  logs: () => string;
  /** Resolves with the exit code (or the signal name) once the process has ended. */
  exited: Promise<number | string>;
  /** Stops the job; rejects when it printed a Node.js warning while it ran. */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

/** Starts `pinpipe <args>` as a real process, as an operator or a pod would; `cli` another build of it. */
export function startJob(args: string[], env: Record<string, string>, cli: string = CLI): JobProcess {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PINPIPE_')));
  const child = spawn(process.execPath, [cli, ...args], { env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return {
    child,
    logs: () => output,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const result = await exited;
      clearTimeout(timer);
      assertNoNodeWarnings(args, output);
      return result;
    },
  };
}
