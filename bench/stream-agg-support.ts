/**
 * Helpers of bench/stream-agg.ts: a build of stream-agg as it was before a commit (a git worktree
 * outside the project), a job process started from any compiled CLI, and the CPU time of the
 * PostgreSQL server, all of it and the backends serving one job.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { projectRoot } from '../jobs/lib/paths.js';
import { CLI } from '../jobs/test/cli.js';
import { procCpuSeconds } from './proc.js';

export interface Build {
  /** The compiled CLI (dist/jobs/cli.js). */
  cli: string;
  commit: string;
  /** Files with uncommitted changes the build holds (the project's own tree only). */
  dirty: string[];
}

const git = (args: string[], cwd: string) => execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

/** The project's own build, as `make build` left it in dist/. */
export function currentBuild(): Build {
  const root = projectRoot();
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npx tsc -p tsconfig.build.json)`);
  // Not trimmed: a porcelain line starts with its status columns, a space for an unstaged change.
  const dirty = execFileSync('git', ['status', '--porcelain', '--', 'jobs'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.slice(3));
  return { cli: CLI, commit: git(['rev-parse', 'HEAD'], root), dirty };
}

/**
 * The code as it was at `revision` (e.g. "2771d54^"), checked out as a detached git worktree at
 * `dir` (reused when it is already there at that commit), with the project's node_modules linked
 * in and built with its own tsconfig.build.json. The compiler's output goes to stderr: stdout is
 * the benchmark's JSON.
 */
export function buildAt(revision: string, dir: string): Build {
  const root = projectRoot();
  const commit = git(['rev-parse', '--verify', `${revision}^{commit}`], root);
  if (existsSync(dir)) {
    let head: string;
    try {
      head = git(['rev-parse', 'HEAD'], dir);
    } catch {
      throw new Error(`${dir} exists but is not a git work tree; remove it and run again`);
    }
    if (head !== commit) throw new Error(`${dir} is at ${head}, not ${commit} (${revision}); remove it (git worktree remove --force ${dir}) and run again`);
  } else {
    // -f: a worktree registered there earlier whose folder /tmp lost since.
    git(['worktree', 'add', '-f', '--detach', dir, commit], root);
  }
  if (!existsSync(join(dir, 'node_modules'))) symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  const cli = join(dir, 'dist', 'jobs', 'cli.js');
  const stamp = join(dir, 'dist', '.bench-built-commit');
  const built = existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : '';
  if (built !== commit || !existsSync(cli)) {
    process.stderr.write(`== bench: building ${revision} (${commit.slice(0, 7)}) in ${dir}\n`);
    execFileSync(process.execPath, [join(dir, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: dir, stdio: ['ignore', 2, 2] });
    writeFileSync(stamp, `${commit}\n`);
  }
  return { cli, commit, dirty: [] };
}

/** A postgres:// URL with application_name set, so the job's backends can be told apart in pg_stat_activity. */
export function withApplicationName(url: string, name: string): string {
  const u = new URL(url);
  u.searchParams.set('application_name', name);
  return u.toString();
}

/** /proc/<pid>/stat fields after the command name: [1] ppid, [11] utime, [12] stime, [13] cutime, [14] cstime. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** The PostgreSQL server's main process: the parent of the backend serving this pool (same machine). */
export async function postmasterPid(pool: pg.Pool): Promise<number | undefined> {
  const { rows } = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  const ppid = Number(statFields(Number(rows[0]?.pid))?.[1]);
  return Number.isInteger(ppid) && ppid > 1 ? ppid : undefined;
}

/**
 * CPU seconds the whole PostgreSQL server has used: the postmaster, every process it started
 * (backends, checkpointer, WAL writer, autovacuum), and, through the postmaster's cutime/cstime,
 * those that already ended. A difference of two readings is what the server did in between,
 * for every client (other jobs on the same server included).
 */
export function postgresCpuSeconds(postmaster: number | undefined): number {
  if (postmaster === undefined) return Number.NaN;
  let ticks = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const f = statFields(pid);
    if (f === undefined) continue;
    if (pid === postmaster) ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    else if (Number(f[1]) === postmaster) ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks / 100; // USER_HZ
}

/**
 * CPU of the backends serving one job (by application_name), sampled: each backend's last
 * reading is kept, so one that ends between samples loses at most a sample interval.
 */
export class BackendCpu {
  private readonly last = new Map<number, number>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly applicationName: string,
  ) {}

  async sample(): Promise<void> {
    const { rows } = await this.pool.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [this.applicationName]);
    for (const { pid } of rows) {
      const cpu = procCpuSeconds(pid);
      if (Number.isFinite(cpu)) this.last.set(pid, cpu);
    }
  }

  get seconds(): number {
    let sum = 0;
    for (const s of this.last.values()) sum += s;
    return sum;
  }

  get backends(): number {
    return this.last.size;
  }
}
