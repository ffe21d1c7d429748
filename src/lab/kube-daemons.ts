// The kube lab's own workers, as lab daemons: the scheduler (`multinet lab scheduler`) and one
// kubelet + Multus role per node (`multinet lab kubelet --node N`). Started after the agents,
// stopped before them; stopping one never tears its pods down (as a kubelet stopping does not).
import { join } from 'node:path';
import type { LabConfig } from './layout.js';
import { CLI } from './agents.js';
import { isAlive, pidOf, startDaemon, stopDaemon } from './daemons.js';
import { controlPlaneAlive } from './kube-control.js';

interface Worker {
  readonly name: string;
  readonly args: string[];
  readonly logFile: string;
  readonly pidFile: string;
}

function workers(lab: LabConfig): Worker[] {
  const k = lab.kube!;
  const w = (name: string, args: string[]): Worker => ({
    name,
    args: [CLI, 'lab', '--lab', lab.name, ...args],
    logFile: join(k.dir, `${name}.log`),
    pidFile: join(k.dir, `${name}.pid`),
  });
  return [
    w('scheduler', ['scheduler']),
    ...lab.nodes.map((n) => w(`${n.name}-kubelet`, ['kubelet', '--node', n.name])),
  ];
}

export function startKubeDaemons(lab: LabConfig, cniPath: string, progress: (s: string) => void): void {
  for (const x of workers(lab)) {
    if (isAlive(pidOf(x.pidFile))) continue;
    progress(`${x.name}: starting`);
    startDaemon({
      what: x.name,
      exe: process.execPath,
      args: [...x.args, '--cni-path', cniPath],
      logFile: x.logFile,
      pidFile: x.pidFile,
    });
  }
}

export async function stopKubeDaemons(lab: LabConfig, progress: (s: string) => void): Promise<void> {
  for (const x of workers(lab)) {
    await stopDaemon(x.pidFile);
    progress(`${x.name}: stopped`);
  }
}

export function kubeDaemonsAlive(lab: LabConfig): { name: string; pid?: number; alive: boolean }[] {
  const cp = controlPlaneAlive(lab.kube!);
  const w = workers(lab).map((x) => ({ name: x.name, pid: pidOf(x.pidFile) }));
  return [cp.etcd, cp.apiserver, ...w].map((x) => ({
    name: x.name,
    ...(x.pid ? { pid: x.pid } : {}),
    alive: isAlive(x.pid),
  }));
}
