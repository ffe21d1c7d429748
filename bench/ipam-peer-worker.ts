// One allocating process of `npm run bench -- ipam-peer` on our side: our IPAM over kubernetes://
// (what the agent runs in its warm process), `count` ADDs with `inflight` of them at a time,
// each completion reported over IPC as it happens (so a kill -9 loses only what was in flight).
import { performance } from 'node:perf_hooks';
import { openStore } from '../src/store/open.js';
import { Ipam } from '../src/ipam/allocator.js';
import type { IpPool } from '../src/ipam/pool.js';

export interface PeerWorkerConfig {
  readonly storeUrl: string;
  readonly pool: IpPool;
  /** Holders are `<id>-<i>`, i in 0..count-1. */
  readonly id: string;
  readonly count: number;
  readonly inflight: number;
}

export interface Allocated {
  readonly type: 'allocated';
  readonly holder: string;
  readonly address: string;
  readonly ms: number;
}

const now = (): number => performance.timeOrigin + performance.now();

async function main(cfg: PeerWorkerConfig): Promise<void> {
  const store = await openStore(cfg.storeUrl);
  const ipam = new Ipam(store);
  const req = (holder: string) => ({
    network: cfg.pool.network,
    pool: cfg.pool,
    containerId: holder,
    ifName: 'net1',
    podNamespace: 'bench',
    podName: holder,
  });
  // Warm up (TLS connection, first list of the network), not timed.
  await ipam.allocate(req(`${cfg.id}-warm`));
  await ipam.release({ network: cfg.pool.network, containerId: `${cfg.id}-warm`, ifName: 'net1' });
  process.send?.({ type: 'ready' });
  await new Promise<void>((resolve) => process.once('message', () => resolve()));
  const cpu0 = process.cpuUsage();
  const start = now();
  let next = 0;
  await Promise.all(
    Array.from({ length: cfg.inflight }, async () => {
      while (next < cfg.count) {
        const holder = `${cfg.id}-${next++}`;
        const t0 = now();
        const a = await ipam.allocate(req(holder));
        const m: Allocated = { type: 'allocated', holder, address: a.ips[0]!.address, ms: now() - t0 };
        process.send?.(m);
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  process.send?.({ type: 'result', start, end: now(), cpuMs: (cpu.user + cpu.system) / 1000 });
  await store.close();
}

// On success the process ends when the parent disconnects (exiting at once could drop IPC messages).
process.once('message', (cfg: PeerWorkerConfig) => {
  main(cfg).then(
    () => undefined,
    (err: unknown) => {
      process.stderr.write(`ipam-peer worker ${cfg.id}: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
});
