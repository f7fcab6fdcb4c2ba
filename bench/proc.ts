import { readFileSync } from 'node:fs';

/** A memory field of /proc/<pid>/status in kB (VmHWM: peak RSS, VmRSS: current); 0 once the process is gone. */
export function procStatusKb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
}
