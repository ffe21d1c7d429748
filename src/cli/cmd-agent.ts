// `multinet agent`: the per-node process (a DaemonSet pod in a cluster, a process per node in the lab).
import type { Command } from 'commander';
import { hostname } from 'node:os';
import { Agent } from '../agent/agent.js';
import { StoreAllocator } from '../agent/store-allocator.js';
import { discoverUnderlay } from '../agent/underlay.js';
import { DEFAULT_CNI_SOCKET } from '../cni/protocol.js';
import { LinuxDataplane } from '../dataplane/linux.js';
import { LinuxNft } from '../dataplane/nft-linux.js';
import { openStore } from '../store/open.js';
import { reconcile, attachmentLiveness } from '../ipam/reconcile.js';
import { ProcessRunner } from '../util/exec.js';
import { createLogger } from '../util/log.js';

interface AgentCliOptions {
  node: string;
  store?: string;
  netns: string;
  underlayAddress?: string;
  underlayInterface?: string;
  mtu?: string;
  socket: string;
  resyncSeconds: string;
  reclaimSeconds: string;
  graceSeconds: string;
}

export function register(program: Command): void {
  program
    .command('agent')
    .description('run the node agent: watch the store, program the kernel, serve the CNI plugin')
    .option('--node <name>', 'node name', hostname())
    .option(
      '--store <url>',
      'datastore URL (embedded:///path, etcd://host:port, kubernetes://[?kubeconfig=/path])',
    )
    .option('--netns <name>', 'network namespace of the node ("host" = this one)', 'host')
    .option('--underlay-address <ip>', 'underlay address (default: from --underlay-interface)')
    .option('--underlay-interface <if>', "underlay interface (default: the default route's)")
    .option('--mtu <n>', "underlay MTU (default: the interface's)")
    .option('--socket <path>', 'CNI socket', DEFAULT_CNI_SOCKET)
    .option('--resync-seconds <s>', 'full resync interval', '30')
    .option('--reclaim-seconds <s>', 'IPAM leak reclaim interval', '60')
    .option('--grace-seconds <s>', 'never reclaim an address younger than this', '300')
    .action(async (o: AgentCliOptions) => {
      const log = createLogger(`agent/${o.node}`);
      const runner = new ProcessRunner();
      let address = o.underlayAddress;
      let mtu = o.mtu ? Number(o.mtu) : undefined;
      if (!address || !mtu) {
        const u = await discoverUnderlay(runner, o.netns, o.underlayInterface);
        address ??= u.address;
        mtu ??= u.mtu;
      }
      // etcd down at start is waited for by the agent (retrying with backoff), not fatal: a
      // DaemonSet pod must not crash-loop through an API outage.
      const store = await openStore(o.store, { etcd: { failFast: false }, kubernetes: { failFast: false } });
      const graceMs = Number(o.graceSeconds) * 1000;
      const agent = new Agent({
        node: o.node,
        netns: o.netns,
        underlay: address,
        mtu,
        store,
        dataplane: new LinuxDataplane(runner),
        nft: new LinuxNft(runner),
        ipam: new StoreAllocator(store),
        log,
        socketPath: o.socket,
        resyncMs: Number(o.resyncSeconds) * 1000,
        reclaimMs: Number(o.reclaimSeconds) * 1000,
        reclaim: async () => {
          const r = await reconcile(store, { isLive: await attachmentLiveness(store), graceMs });
          if (r.freed.length) log.info({ freed: r.freed.length }, 'ipam: leaked addresses reclaimed');
        },
      });
      const shutdown = async (sig: string): Promise<void> => {
        log.info({ sig }, 'stopping (the dataplane is left in place)');
        await agent.stop();
        await store.close();
        process.exit(0);
      };
      process.once('SIGTERM', () => void shutdown('SIGTERM'));
      process.once('SIGINT', () => void shutdown('SIGINT'));
      await agent.start();
      if (agent.stopped) return;
      log.info(
        { node: o.node, underlay: address, mtu, socket: o.socket, store: store.description },
        'agent ready',
      );
    });
}
