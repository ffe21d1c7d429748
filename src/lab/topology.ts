// The lab's "machines": one netns per node, all joined by a bridge in an underlay netns. Built
// with one `ip -batch` per namespace; nothing is created in the root namespace (veth pairs are
// created directly in their target namespaces).
import { runChecked, type Runner } from '../util/exec.js';
import { hashedName } from '../util/names.js';
import { UNDERLAY_MTU, type LabConfig } from './layout.js';

const BRIDGE = 'mnbr0';
/** The node-side underlay interface. */
export const NODE_UPLINK = 'mnu0';

export async function listNetns(runner: Runner): Promise<string[]> {
  const r = await runner.run('ip', ['-json', 'netns', 'list']);
  if (r.code !== 0 || !r.stdout.trim()) return [];
  return (JSON.parse(r.stdout) as { name: string }[]).map((n) => n.name);
}

export async function createTopology(runner: Runner, lab: LabConfig): Promise<void> {
  const existing = new Set(await listNetns(runner));
  const toAdd = [lab.underlayNs, ...lab.nodes.map((n) => n.netns)].filter((n) => !existing.has(n));
  for (const ns of toAdd) await runChecked(runner, 'ip', ['netns', 'add', ns]);
  if (!existing.has(lab.underlayNs)) {
    await runChecked(runner, 'ip', ['-n', lab.underlayNs, '-batch', '-'], {
      input:
        [
          `link add ${BRIDGE} type bridge`,
          `link set ${BRIDGE} mtu ${UNDERLAY_MTU} up`,
          'link set lo up',
        ].join('\n') + '\n',
    });
  }
  for (const n of lab.nodes) {
    if (existing.has(n.netns)) continue;
    const peer = hashedName('mnu', [n.name]);
    // Created from the underlay namespace: one end stays there on the bridge, the other goes to the node.
    await runChecked(runner, 'ip', ['-n', lab.underlayNs, '-batch', '-'], {
      input:
        [
          `link add ${peer} mtu ${UNDERLAY_MTU} type veth peer name ${NODE_UPLINK} netns ${n.netns}`,
          `link set ${peer} master ${BRIDGE} up`,
        ].join('\n') + '\n',
    });
    await runChecked(runner, 'ip', ['-n', n.netns, '-batch', '-'], {
      input:
        [
          'link set lo up',
          `link set ${NODE_UPLINK} mtu ${UNDERLAY_MTU} up`,
          `addr add ${n.underlay}/24 dev ${NODE_UPLINK}`,
        ].join('\n') + '\n',
    });
  }
}

/** Removes every namespace whose name starts with the lab's prefix (nodes, underlay, pods, routing domains of its nodes). */
export async function destroyNamespaces(runner: Runner, names: readonly string[]): Promise<void> {
  for (const ns of names) await runner.run('ip', ['netns', 'del', ns]);
}
