// `multinet agent`: the per-node process (a DaemonSet pod in a cluster, a process per node in the lab).
import type { Command } from 'commander';
import { hostname } from 'node:os';
import { Agent } from '../agent/agent.js';
import { StoreAllocator } from '../agent/store-allocator.js';
import { discoverUnderlay } from '../agent/underlay.js';
import { startHealthServer, type HealthServer } from '../agent/health-server.js';
import { LinuxDataplane } from '../dataplane/linux.js';
import { LinuxNft } from '../dataplane/nft-linux.js';
import { openStore } from '../store/open.js';
import { reconcile, attachmentLiveness } from '../ipam/reconcile.js';
import { ProcessRunner } from '../util/exec.js';
import { createLogger } from '../util/log.js';
import { AGENT_OPTIONS, resolveAgentOptions, type AgentFlags } from './agent-options.js';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Memifd } from '../agent/memif.js';

/** The native memif forwarder built by npm run build (absent without a C compiler). */
const MEMIFD = fileURLToPath(new URL('../../multinet-memifd', import.meta.url));

export function register(program: Command): void {
  const cmd = program
    .command('agent')
    .description('run the node agent: watch the store, program the kernel, serve the CNI plugin')
    .addHelpText(
      'after',
      '\nEvery option can also be set by the environment variable named in [brackets]; a flag wins.',
    );
  for (const o of Object.values(AGENT_OPTIONS)) cmd.option(`${o.flag} ${o.arg}`, `${o.help} [${o.env}]`);
  cmd.action(async (flags: AgentFlags) => {
    const o = resolveAgentOptions(flags, process.env, hostname());
    const log = createLogger(`agent/${o.node}`);
    const runner = new ProcessRunner();
    let address = o.underlayAddress;
    let mtu = o.mtu;
    if (!address || !mtu) {
      const u = await discoverUnderlay(runner, o.netns, o.underlayInterface);
      address ??= u.address;
      mtu ??= u.mtu;
    }
    // etcd down at start is waited for by the agent (retrying with backoff), not fatal: a
    // DaemonSet pod must not crash-loop through an API outage.
    const store = await openStore(o.store, { etcd: { failFast: false }, kubernetes: { failFast: false } });
    // The forwarder's client reports a lost connection to the agent made just below.
    const agentRef: { current?: Agent } = {};
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
      resyncMs: o.resyncMs,
      ...(existsSync(MEMIFD)
        ? {
            memif: new Memifd({
              binary: MEMIFD,
              control: o.memifControl,
              spawn: o.memifForwarder === 'start',
              log,
              onLost: () => agentRef.current?.memifLost(),
            }),
          }
        : {}),
      ...(o.reclaimMs > 0
        ? {
            reclaimMs: o.reclaimMs,
            reclaim: async () => {
              const isLive = await attachmentLiveness(store);
              const r = await reconcile(store, { isLive, graceMs: o.graceMs });
              if (r.freed.length) log.info({ freed: r.freed.length }, 'ipam: leaked addresses reclaimed');
            },
          }
        : {}),
    });
    agentRef.current = agent;
    // Before start(): the probes must answer while the agent waits for its store. A port in use
    // is a startup error (the DaemonSet pod restarts and says why), not a silent missing probe.
    let health: HealthServer | undefined;
    if (o.health) {
      try {
        health = await startHealthServer(agent, o.health);
      } catch (e) {
        await store.close();
        throw e;
      }
      log.info({ address: health.address }, 'health endpoints: /readyz /livez /metrics');
    }
    const shutdown = async (sig: string): Promise<void> => {
      log.info({ sig }, 'stopping (the dataplane is left in place)');
      await health?.close();
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
