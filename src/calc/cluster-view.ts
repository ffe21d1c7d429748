// The one ClusterView builder: decoded resources (src/api/stored.ts) in, the view every calc
// function reads out. The agent's cache and the lab both build their views here, so what the lab
// shows is what the agents program.
import type { KubeNamespace, Network, Pod, Service } from '../api/types.js';
import type { AttachmentRecord, NodeRecord } from '../api/records.js';
import type { ClusterView, NetworkInfo, PolicyResource } from './node-state.js';

/** The decoded cluster, by kind (each value as its decoder returned it). */
export interface DecodedCluster {
  readonly networks: Iterable<Network>;
  readonly nodes: Iterable<NodeRecord>;
  readonly attachments: Iterable<AttachmentRecord>;
  readonly pods: Iterable<Pod>;
  readonly services: Iterable<Service>;
  readonly policies: Iterable<PolicyResource>;
  /** Namespace objects (kubernetes:// only): their labels feed namespace selectors. */
  readonly namespaces?: Iterable<KubeNamespace>;
}

/** What calc needs of a Network. */
export function networkInfo(n: Network): NetworkInfo {
  const info: NetworkInfo = { name: n.metadata.name, vni: n.spec.vni, ranges: [n.spec.range.text] };
  return n.spec.vxlanPort !== undefined ? { ...info, vxlanPort: n.spec.vxlanPort } : info;
}

export function clusterView(c: DecodedCluster): ClusterView {
  return {
    networks: new Map([...c.networks].map((n) => [n.metadata.name, networkInfo(n)])),
    nodes: new Map([...c.nodes].map((n) => [n.name, n])),
    attachments: [...c.attachments],
    pods: [...c.pods],
    services: [...c.services],
    policies: [...c.policies],
    ...(c.namespaces ? { namespaceLabels: new Map([...c.namespaces].map((n) => [n.name, n.labels])) } : {}),
  };
}
