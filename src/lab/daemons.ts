// The lab's long-lived processes (agents, the kube lab's etcd, kube-apiserver, scheduler and
// kubelets): detached, logging to a file, their pid in a file, so that any later command
// (`lab status`, `lab down`) finds them.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

export interface DaemonSpec {
  readonly what: string;
  readonly exe: string;
  readonly args: readonly string[];
  readonly logFile: string;
  readonly pidFile: string;
  /** Default: this process's environment. */
  readonly env?: NodeJS.ProcessEnv;
}

export function pidOf(pidFile: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

export function isAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function startDaemon(d: DaemonSpec): number {
  const log = openSync(d.logFile, 'a');
  const child = spawn(d.exe, [...d.args], {
    detached: true,
    stdio: ['ignore', log, log],
    ...(d.env ? { env: d.env } : {}),
  });
  closeSync(log);
  child.unref();
  if (!child.pid) throw new Error(`could not start ${d.what}`);
  writeFileSync(d.pidFile, `${child.pid}\n`);
  return child.pid;
}

/** SIGTERM (or signal), then SIGKILL after graceMs; removes the pid file. */
export async function stopDaemon(
  pidFile: string,
  signal: NodeJS.Signals = 'SIGTERM',
  graceMs = 5000,
): Promise<void> {
  const pid = pidOf(pidFile);
  if (isAlive(pid)) {
    process.kill(pid!, signal);
    const deadline = Date.now() + graceMs;
    while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (isAlive(pid)) process.kill(pid!, 'SIGKILL');
    while (isAlive(pid)) await new Promise((r) => setTimeout(r, 20));
  }
  rmSync(pidFile, { force: true });
}

/** The last lines of a log, for error messages. */
export function logTail(file: string, lines = 8): string {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n') : '';
}
