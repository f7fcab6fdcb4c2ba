import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '../lib/paths.js';

export const CLI = join(projectRoot(), 'dist', 'jobs', 'cli.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The warnings Node.js itself prints on stderr, `(node:<pid>) [DEP0040] DeprecationWarning: …`,
 * which is also how the AWS SDK's runtime-support notice appears. No job may print one.
 */
export function nodeWarnings(output: string): string[] {
  return output.split('\n').filter((line) => /^\(node:\d+\) (\[[A-Z0-9]+\] )?\w*Warning: /.test(line));
}

/**
 * Fails when a job printed a Node.js warning: the tests see every job's stderr, so none goes
 * unnoticed. With NODE_OPTIONS=--trace-warnings the message carries where each was raised.
 */
export function assertNoNodeWarnings(args: string[], output: string): void {
  const warnings = nodeWarnings(output);
  if (warnings.length === 0) return;
  const traces = output.split('\n').filter((line) => /^ {4}at /.test(line)).slice(0, 20);
  throw new Error(`pinpipe ${args.join(' ')} printed Node.js warnings:\n${[...warnings, ...traces].join('\n')}`);
}

/** Runs the compiled `pinpipe` with only the given PINPIPE_* variables, so the caller's shell cannot leak in. */
export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<CliResult> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PINPIPE_')));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      try {
        assertNoNodeWarnings(args, stderr);
      } catch (error) {
        reject(error as Error);
        return;
      }
      resolve({ code, stdout, stderr });
    });
  });
}
