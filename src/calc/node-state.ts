// The pure heart of the agent: cluster state in, one node's desired dataplane state out.
// No I/O; the output is sorted so that it depends only on the state, not on the order in which
// the events that built it arrived.
import type { DesiredNode, NetworkSpec, PodInterfaceSpec, RemoteNodeSpec } from '../dataplane/types.js';
import { isMemifName } from '../dataplane/naming.js';
import type { AttachmentRecord, NodeRecord } from './records.js';
import type { CalicoPolicy, KubernetesNetworkPolicy, Pod, Service } from '../api/types.js';

export interface NetworkInfo {
  readonly name: string;
  readonly vni: number;
  readonly ranges: readonly string[];
  readonly vxlanPort?: number;
}

export interface ClusterView {
  readonly networks: ReadonlyMap<string, NetworkInfo>;
  readonly nodes: ReadonlyMap<string, NodeRecord>;
  /** Every attachment of the cluster (all nodes). */
  readonly attachments: readonly AttachmentRecord[];
  /** Extra destinations routed from pods through their interface in a network (e.g. service IPs). */
  readonly extraRoutes?: ReadonlyMap<string, readonly string[]>;
  /** Pods (labels, container ports), Services and policies, as the api validated them. */
  readonly pods?: readonly Pod[];
  readonly services?: readonly Service[];
  readonly policies?: readonly PolicyResource[];
  /** Labels of each Namespace object by name (kubernetes://); absent = namespaces are names only. */
  readonly namespaceLabels?: ReadonlyMap<string, Readonly<Record<string, string>>>;
}

export type PolicyResource = CalicoPolicy | KubernetesNetworkPolicy;

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function desiredNodeState(view: ClusterView, nodeName: string): DesiredNode {
  const self = view.nodes.get(nodeName);
  if (!self) throw new Error(`node ${nodeName} is not registered`);

  const local: AttachmentRecord[] = [];
  const remote = new Map<string, AttachmentRecord[]>();
  for (const a of view.attachments) {
    // An attachment whose network is gone gets no dataplane: its interface is removed.
    if (!view.networks.has(a.network)) continue;
    if (a.node === nodeName) local.push(a);
    else {
      const list = remote.get(a.node) ?? [];
      list.push(a);
      remote.set(a.node, list);
    }
  }

  const localNetworks = new Set(local.map((a) => a.network));
  const networks: NetworkSpec[] = [...localNetworks].sort(byString).map((name) => {
    const n = view.networks.get(name)!;
    const spec: NetworkSpec = { name, vni: n.vni, ranges: [...n.ranges] };
    return n.vxlanPort ? { ...spec, vxlanPort: n.vxlanPort } : spec;
  });

  const pods: PodInterfaceSpec[] = local
    .map((a): PodInterfaceSpec => {
      const n = view.networks.get(a.network)!;
      const routes = [...n.ranges, ...(view.extraRoutes?.get(a.network) ?? [])];
      return {
        network: a.network,
        netns: a.netns,
        ifname: a.ifName,
        addresses: [...a.ips],
        mac: a.mac,
        routes: [...new Set(routes)].sort(byString),
        defaultRoute: a.defaultRoute,
        ...(isMemifName(a.ifName) ? { kind: 'memif' as const } : {}),
        ...(isMemifName(a.ifName) && a.memifMode === 'ip' ? { memifMode: 'ip' as const } : {}),
      };
    })
    .sort((x, y) => byString(`${x.netns}|${x.ifname}`, `${y.netns}|${y.ifname}`));

  const remotes: RemoteNodeSpec[] = [];
  for (const [name, atts] of [...remote].sort((x, y) => byString(x[0], y[0]))) {
    const node = view.nodes.get(name);
    if (!node) continue; // pods of an unregistered node cannot be reached yet
    const perNet: Record<string, string[]> = {};
    for (const a of atts) {
      if (!localNetworks.has(a.network)) continue; // no routing domain here for that network
      (perNet[a.network] ??= []).push(...a.ips);
    }
    const keys = Object.keys(perNet).sort(byString);
    if (keys.length === 0) continue;
    const pods: Record<string, string[]> = {};
    for (const k of keys) pods[k] = [...new Set(perNet[k])].sort(byString);
    remotes.push({ name, underlay: node.underlay, pods });
  }

  return {
    name: nodeName,
    netns: self.netns,
    underlay: { address: self.underlay, mtu: self.mtu },
    networks,
    pods,
    remotes,
  };
}
