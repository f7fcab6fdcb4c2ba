import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** A memory field of /proc/<pid>/status in kB (VmHWM: peak RSS, VmRSS: current); 0 once the process is gone. */
export function procStatusKb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat; NaN once it is gone. */
export function procCpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15 (1-based).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ ticks
  } catch {
    return Number.NaN;
  }
}

/** The pid of a service the local stack started (stack/stack.sh's pidfile), if it is running. */
export function stackPid(service: 'kafka' | 'cassandra' | 'trino'): number | undefined {
  const stateDir = process.env.PINPIPE_STACK_DIR ?? join(process.env.PINPIPE_CACHE_DIR ?? join(homedir(), '.cache', 'pinpipe'), 'stack');
  try {
    const pid = Number(readFileSync(join(stateDir, 'run', `${service}.pid`), 'utf8').trim());
    return pid > 0 && readFileSync(`/proc/${pid}/stat`, 'utf8') !== '' ? pid : undefined;
  } catch {
    return undefined;
  }
}
