// The lab runs one agent process per node, as a DaemonSet would (src/lab/daemons.ts).
import { fileURLToPath } from 'node:url';
import { agentStoreUrl, memifControl, type LabConfig, type LabNode } from './layout.js';
import { NODE_UPLINK } from './topology.js';
import { isAlive, logTail, pidOf, startDaemon, stopDaemon } from './daemons.js';

export { isAlive };

export const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));

export function agentPid(node: LabNode): number | undefined {
  return pidOf(node.pidFile);
}

export interface AgentLaunchOptions {
  readonly resyncSeconds?: number;
}

export function startAgent(lab: LabConfig, node: LabNode, opts: AgentLaunchOptions = {}): number {
  return startDaemon({
    what: `the agent of ${node.name}`,
    exe: process.execPath,
    args: [
      CLI,
      'agent',
      '--node',
      node.name,
      '--netns',
      node.netns,
      '--underlay-interface',
      NODE_UPLINK,
      '--store',
      agentStoreUrl(lab, node),
      '--socket',
      node.socket,
      '--resync-seconds',
      String(opts.resyncSeconds ?? 10),
      '--memif-control',
      memifControl(lab, node),
      // Every lab agent is a process of this host: one health port (9099) cannot serve them all.
      '--health-address',
      node.healthPort ? `127.0.0.1:${node.healthPort}` : 'off',
    ],
    logFile: node.logFile,
    pidFile: node.pidFile,
    env: labAgentEnv(process.env),
  });
}

/**
 * The agents' environment without the variables that configure an agent (a ConfigMap's, in a
 * cluster): a lab's agents take their settings from the lab only, whatever the shell exports.
 */
export function labAgentEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const own =
    /^MULTINET_(NODE|STORE|NETNS|UNDERLAY_INTERFACE|UNDERLAY_ADDRESS|MTU|CNI_SOCKET|RESYNC_SECONDS|RECLAIM_SECONDS|GRACE_SECONDS|HEALTH_ADDRESS|MEMIF_CONTROL)$/;
  return Object.fromEntries(Object.entries(env).filter(([k]) => !own.test(k)));
}

/** GET /readyz of a lab agent: 'ok', the reason it is not ready, or undefined (no endpoint/answer). */
export async function agentReadiness(node: LabNode): Promise<string | undefined> {
  if (!node.healthPort) return undefined;
  const http = await import('node:http');
  return new Promise((resolve) => {
    const req = http.get(
      { host: '127.0.0.1', port: node.healthPort, path: '/readyz', timeout: 2000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve(body.trim()));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
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
  throw new Error(`the agent of ${node.name} did not start (log ${node.logFile}):\n${logTail(node.logFile)}`);
}

export async function stopAgent(node: LabNode, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  await stopDaemon(node.pidFile, signal);
}

/** The node's memif forwarder (started by its agent, outliving agent restarts): for lab down. */
export async function stopMemifd(lab: LabConfig, node: LabNode): Promise<void> {
  await stopDaemon(`${memifControl(lab, node)}.pid`);
}
