// Finds the node's underlay address and MTU from an interface (or the default route's interface).
import { runChecked, type Runner } from '../util/exec.js';

function ipArgs(netns: string, args: string[]): string[] {
  return netns === 'host' ? args : ['-n', netns, ...args];
}

export async function discoverUnderlay(
  runner: Runner,
  netns: string,
  ifname?: string,
): Promise<{ address: string; mtu: number; ifname: string }> {
  let dev = ifname;
  if (!dev) {
    const r = await runChecked(runner, 'ip', ipArgs(netns, ['-json', 'route', 'show', 'default']));
    const routes = JSON.parse(r.stdout || '[]') as { dev?: string }[];
    dev = routes[0]?.dev;
    if (!dev)
      throw new Error(
        `no default route in ${netns === 'host' ? 'this namespace' : `netns ${netns}`}: give --underlay-interface or --underlay-address`,
      );
  }
  if (!/^[^/\s]{1,15}$/.test(dev))
    throw new Error(`--underlay-interface ${JSON.stringify(dev)}: not a valid interface name`);
  const r = await runChecked(runner, 'ip', ipArgs(netns, ['-json', 'addr', 'show', 'dev', dev]));
  const links = JSON.parse(r.stdout || '[]') as {
    mtu?: number;
    addr_info?: { family: string; local: string; scope: string }[];
  }[];
  const link = links[0];
  const addr =
    link?.addr_info?.find((a) => a.family === 'inet' && a.scope === 'global') ??
    link?.addr_info?.find((a) => a.family === 'inet6' && a.scope === 'global');
  if (!link || !addr) throw new Error(`interface ${dev} has no global address to use as the underlay`);
  return { address: addr.local, mtu: link.mtu ?? 1500, ifname: dev };
}
