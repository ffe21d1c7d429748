// The lab runs one agent process per node, as a DaemonSet would: detached, logging to a file,
// its pid in a file so that `lab status` and `lab down` find it from any later command.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { LabConfig, LabNode } from './layout.js';
import { NODE_UPLINK } from './topology.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));

export function agentPid(node: LabNode): number | undefined {
  if (!existsSync(node.pidFile)) return undefined;
  const pid = Number(readFileSync(node.pidFile, 'utf8').trim());
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

export interface AgentLaunchOptions {
  readonly resyncSeconds?: number;
}

export function startAgent(lab: LabConfig, node: LabNode, opts: AgentLaunchOptions = {}): number {
  const log = openSync(node.logFile, 'a');
  const args = [
    CLI,
    'agent',
    '--node',
    node.name,
    '--netns',
    node.netns,
    '--underlay-interface',
    NODE_UPLINK,
    '--store',
    lab.storeUrl,
    '--socket',
    node.socket,
    '--resync-seconds',
    String(opts.resyncSeconds ?? 10),
  ];
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  child.unref();
  if (!child.pid) throw new Error(`could not start the agent of ${node.name}`);
  writeFileSync(node.pidFile, `${child.pid}\n`);
  return child.pid;
}

/** Waits until the agent's socket answers (it serves CNI only after its first sync). */
export async function waitForAgent(node: LabNode, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const { connect } = await import('node:net');
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(node.socket);
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (!isAlive(agentPid(node))) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const tail = existsSync(node.logFile)
    ? readFileSync(node.logFile, 'utf8').split('\n').slice(-8).join('\n')
    : '';
  throw new Error(`the agent of ${node.name} did not start (log ${node.logFile}):\n${tail}`);
}

export async function stopAgent(node: LabNode, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const pid = agentPid(node);
  if (isAlive(pid)) {
    process.kill(pid!, signal);
    const deadline = Date.now() + 5000;
    while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (isAlive(pid)) process.kill(pid!, 'SIGKILL');
  }
  rmSync(node.pidFile, { force: true });
}
