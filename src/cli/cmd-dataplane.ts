// `multinet dataplane show --node NAME`: what the Linux dataplane has programmed for a node,
// per network (routing-domain namespace, VXLAN device, local pods, remote routes).
import type { Command } from 'commander';
import { LinuxDataplane, LinuxKernel } from '../dataplane/linux.js';
import { RT_PROTO, routingNsPrefix, VXLAN_PREFIX, HOST_VETH_PREFIX } from '../dataplane/naming.js';
import type { NetnsState } from '../dataplane/types.js';

const NAME_RE = /^[A-Za-z0-9]([A-Za-z0-9_.-]{0,251}[A-Za-z0-9])?$/;

export interface NetworkView {
  readonly namespace: string;
  readonly network: string;
  readonly vxlan?: {
    name: string;
    vni: number;
    port: number;
    local?: string;
    mtu: number;
    mac: string;
    up: boolean;
  };
  readonly forwarding: boolean;
  readonly localPods: { hostVeth: string; addresses: string[]; complete: boolean }[];
  readonly remoteRoutes: { dst: string; via?: string }[];
  readonly fdb: { mac: string; dst: string }[];
}

export function viewOf(ns: string, s: NetnsState): NetworkView {
  const vx = s.links.find((l) => l.name.startsWith(VXLAN_PREFIX));
  const routes = s.routes.filter((r) => r.proto === RT_PROTO);
  return {
    namespace: ns,
    network: vx?.alias?.split('/').pop() ?? '?',
    ...(vx?.vxlan
      ? {
          vxlan: {
            name: vx.name,
            vni: vx.vxlan.vni,
            port: vx.vxlan.port,
            ...(vx.vxlan.local ? { local: vx.vxlan.local } : {}),
            mtu: vx.mtu,
            mac: vx.mac,
            up: vx.up,
          },
        }
      : {}),
    forwarding: s.forwarding.v4,
    localPods: s.links
      .filter((l) => l.name.startsWith(HOST_VETH_PREFIX))
      .map((l) => ({
        hostVeth: l.name,
        addresses: routes.filter((r) => r.dev === l.name).map((r) => r.dst),
        complete: (l.alias ?? '').startsWith('mn:'),
      })),
    remoteRoutes: routes
      .filter((r) => vx && r.dev === vx.name)
      .map((r) => ({ dst: r.dst, ...(r.via ? { via: r.via } : {}) })),
    fdb: s.fdb.map((f) => ({ mac: f.mac, dst: f.dst })),
  };
}

export function renderTable(node: string, views: readonly NetworkView[]): string {
  if (!views.length) return `node ${node}: nothing programmed\n`;
  const out: string[] = [];
  for (const v of views) {
    out.push(`network ${v.network}  (namespace ${v.namespace}, forwarding ${v.forwarding ? 'on' : 'OFF'})`);
    out.push(
      v.vxlan
        ? `  vxlan   ${v.vxlan.name} vni ${v.vxlan.vni} port ${v.vxlan.port} local ${v.vxlan.local ?? '-'} mtu ${v.vxlan.mtu} mac ${v.vxlan.mac}${v.vxlan.up ? '' : ' DOWN'}`
        : '  vxlan   MISSING',
    );
    out.push(`  local pods (${v.localPods.length})`);
    for (const p of v.localPods)
      out.push(
        `    ${p.hostVeth.padEnd(16)} ${p.addresses.join(', ')}${p.complete ? '' : '  (setup incomplete)'}`,
      );
    out.push(`  remote routes (${v.remoteRoutes.length})`);
    for (const r of v.remoteRoutes) out.push(`    ${r.dst.padEnd(20)} via ${r.via ?? '-'}`);
    out.push(`  vteps (${v.fdb.length})`);
    for (const f of v.fdb) out.push(`    ${f.mac}  -> ${f.dst}`);
  }
  return out.join('\n') + '\n';
}

export function register(program: Command): void {
  const dp = program.command('dataplane').description('inspect (or remove) the Linux dataplane of a node');
  dp.command('teardown')
    .description(
      "remove everything multinet programmed for a node (its routing namespaces, with their VXLAN devices, pod veths and nft tables): for uninstalling, after the node's agent is stopped",
    )
    .requiredOption('--node <name>', 'node name (as the agent was started with)')
    .option('--netns <name>', 'network namespace of the node ("host" = this one)', 'host')
    .action(async (opts: { node: string; netns: string }) => {
      if (!NAME_RE.test(opts.node)) throw new Error(`--node: invalid node name ${JSON.stringify(opts.node)}`);
      if (opts.netns !== 'host' && !NAME_RE.test(opts.netns))
        throw new Error(`--netns: invalid namespace name ${JSON.stringify(opts.netns)}`);
      const before = await new LinuxKernel().listNamespaces(routingNsPrefix(opts.node));
      const r = await new LinuxDataplane().teardown({ name: opts.node, netns: opts.netns });
      for (const e of r.errors) process.stderr.write(`multinet: ${e.netns}: ${e.op}: ${e.message}\n`);
      process.stdout.write(
        `node ${opts.node}: ${before.length} routing namespace(s) removed${before.length ? ` (${before.join(', ')})` : ''}, ${r.changes} change(s)\n`,
      );
      if (r.failed > 0) process.exitCode = 1;
    });
  dp.command('show')
    .description('what is programmed for a node, per network')
    .requiredOption('--node <name>', 'node name (as in the desired state)')
    .option('-o, --output <format>', 'table or json', 'table')
    .action(async (opts: { node: string; output: string }) => {
      if (!NAME_RE.test(opts.node)) throw new Error(`--node: invalid node name ${JSON.stringify(opts.node)}`);
      if (opts.output !== 'table' && opts.output !== 'json')
        throw new Error(`--output: must be table or json, got ${JSON.stringify(opts.output)}`);
      const k = new LinuxKernel();
      const views: NetworkView[] = [];
      for (const ns of await k.listNamespaces(routingNsPrefix(opts.node))) {
        const s = await k.readNetns(ns, 'routing');
        if (s !== 'missing') views.push(viewOf(ns, s));
      }
      process.stdout.write(
        opts.output === 'json'
          ? JSON.stringify({ node: opts.node, networks: views }, null, 2) + '\n'
          : renderTable(opts.node, views),
      );
    });
}
