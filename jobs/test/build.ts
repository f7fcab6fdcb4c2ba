import { execFileSync } from 'node:child_process';

/** Tests that run `pinpipe` as a process use the compiled CLI; compile it once per run. */
export default function setup(): void {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}
