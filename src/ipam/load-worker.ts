// A separate OS process that allocates through the IPAM, for the concurrency/crash tests and the
// benchmark. Started with child_process.fork; driven by IPC messages. Writes a history line (JSON)
// per completed operation to `historyFile` with synchronous appends, so a kill -9 loses nothing
// that had completed.
import { appendFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { openStore } from '../store/open.js';
import { Ipam } from './allocator.js';
import type { IpPool } from './pool.js';

export interface WorkerConfig {
  readonly storeUrl: string;
  readonly pool: IpPool;
  readonly id: string;
  readonly mode: 'churn' | 'bench';
  /** churn: number of random operations; bench: number of allocations. */
  readonly ops: number;
  readonly historyFile?: string;
  /** churn: distinct interfaces this worker cycles through. */
  readonly holders?: number;
}

export interface HistoryLine {
  readonly w: string;
  readonly op: 'alloc' | 'release';
  readonly holder: string;
  readonly address?: string;
  /** Wall-clock ms (shared by processes on this host): call start and end. */
  readonly t0: number;
  readonly t1: number;
}

const now = (): number => performance.timeOrigin + performance.now();

async function main(cfg: WorkerConfig): Promise<void> {
  const store = await openStore(cfg.storeUrl);
  const ipam = new Ipam(store);
  const net = cfg.pool.network;
  const log = (l: HistoryLine): void => {
    if (cfg.historyFile) appendFileSync(cfg.historyFile, JSON.stringify(l) + '\n');
  };
  const holderReq = (i: number) => ({
    network: net,
    pool: cfg.pool,
    containerId: `${cfg.id}-c${i}`,
    ifName: 'net1',
    podNamespace: 'load',
    podName: `${cfg.id}-p${i}`,
  });
  if (cfg.mode === 'churn') {
    const held = new Map<number, string>();
    process.send?.({ type: 'ready' });
    for (let k = 0; k < cfg.ops; k++) {
      const i = Math.floor(Math.random() * (cfg.holders ?? 8));
      const t0 = now();
      if (held.has(i)) {
        await ipam.release({ network: net, containerId: `${cfg.id}-c${i}`, ifName: 'net1' });
        log({ w: cfg.id, op: 'release', holder: `${cfg.id}-c${i}`, address: held.get(i), t0, t1: now() });
        held.delete(i);
      } else {
        const a = await ipam.allocate(holderReq(i));
        const address = a.ips[0]!.address;
        log({ w: cfg.id, op: 'alloc', holder: `${cfg.id}-c${i}`, address, t0, t1: now() });
        held.set(i, address);
        process.send?.({ type: 'allocated', holder: `${cfg.id}-c${i}`, address });
      }
    }
    for (const [i, address] of held) {
      const t0 = now();
      await ipam.release({ network: net, containerId: `${cfg.id}-c${i}`, ifName: 'net1' });
      log({ w: cfg.id, op: 'release', holder: `${cfg.id}-c${i}`, address, t0, t1: now() });
    }
    await store.close();
    process.send?.({ type: 'done' });
    return;
  }
  // bench: warm up (open the store, load the pool cache), then wait for "go".
  await ipam.allocate(holderReq(-1));
  await ipam.release({ network: net, containerId: `${cfg.id}-c-1`, ifName: 'net1' });
  process.send?.({ type: 'ready' });
  await new Promise<void>((resolve) => process.once('message', () => resolve()));
  const lat: number[] = [];
  const cpu0 = process.cpuUsage();
  const start = now();
  for (let i = 0; i < cfg.ops; i++) {
    const t0 = now();
    await ipam.allocate(holderReq(i));
    lat.push(now() - t0);
  }
  const end = now();
  const cpu = process.cpuUsage(cpu0);
  process.send?.({ type: 'result', lat, start, end, cpuMs: (cpu.user + cpu.system) / 1000 });
  await new Promise<void>((resolve) => process.once('message', () => resolve()));
  for (let i = 0; i < cfg.ops; i++)
    await ipam.release({ network: net, containerId: `${cfg.id}-c${i}`, ifName: 'net1' });
  await store.close();
  process.send?.({ type: 'done' });
}

process.once('message', (cfg: WorkerConfig) => {
  main(cfg).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`worker ${cfg.id}: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
});
