/** Runs the PySpark scripts of bench/spark/ and measures them, for bench/daily.ts and bench/spark/stream.ts. */
import { spawn } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { procStatusKb } from '../proc.js';

/** The Python of the venv bench/spark/setup.sh makes. */
export const SPARK_PYTHON = join(process.env.PINPIPE_CACHE_DIR ?? join(homedir(), '.cache', 'pinpipe'), 'venv-spark', 'bin', 'python');

/** Every process below `pid` (the Python driver's JVM, its children), from /proc. */
function descendants(pid: number): number[] {
  const out: number[] = [];
  const walk = (p: number): void => {
    let children: number[] = [];
    try {
      children = readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return;
    }
    for (const c of children) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/**
 * Runs a PySpark script of bench/spark/ in the venv of bench/spark/setup.sh, on Java 17. Peak RSS
 * is the highest sum of the current RSS of the Python driver and its JVM (sampled every 100 ms:
 * the JVM is a child process, so VmHWM of the Python process alone would miss it).
 */
export function runSpark(script: string, scriptArgs: string[], env: Record<string, string> = {}): Promise<{ code: number | null; seconds: number; peakRssMb: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const javaHome = process.env.PINPIPE_SPARK_JAVA_HOME ?? '/usr/lib/jvm/java-17-openjdk-amd64';
    const child = spawn(SPARK_PYTHON, [join('bench', 'spark', script), ...scriptArgs], {
      env: { ...process.env, ...env, JAVA_HOME: javaHome, PYSPARK_PYTHON: SPARK_PYTHON, SPARK_LOCAL_IP: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let peakKb = 0;
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    // Spark's own log in full in the temp dir (pinpipe-bench-<script>.log), the tail in memory.
    const log = createWriteStream(join(tmpdir(), `pinpipe-bench-${script.replace(/\.py$/, '')}.log`));
    child.stderr.on('data', (c: Buffer) => {
      log.write(c);
      stderr += c.toString();
      if (stderr.length > 1_000_000) stderr = stderr.slice(-500_000);
    });
    const sample = setInterval(() => {
      const pid = child.pid as number;
      const kb = [pid, ...descendants(pid)].reduce((sum, p) => sum + procStatusKb(p, 'VmRSS'), 0);
      peakKb = Math.max(peakKb, kb);
    }, 100);
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(sample);
      log.end();
      resolve({ code, seconds: (Date.now() - started) / 1000, peakRssMb: Math.round(peakKb / 1024), stdout, stderr });
    });
  });
}

/** The last line of a bench/spark script's stdout: its JSON result. */
export function sparkResult<T>(run: { code: number | null; stdout: string; stderr: string }, what: string): T {
  if (run.code !== 0) throw new Error(`${what} exited ${run.code}: ${run.stderr.slice(-3000)}`);
  return JSON.parse(run.stdout.trim().split('\n').pop() as string) as T;
}
