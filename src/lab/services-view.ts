// The ClusterView serviceState needs, built from what the lab's store holds (for `lab get services -o wide`
// and the lab's service tests): the same pure calc the agents run, so what is shown is what is programmed.
import type { ClusterView, NetworkInfo } from '../calc/node-state.js';
import type { AttachmentRecord } from '../calc/records.js';
import type { Pod, Service } from '../api/index.js';
import { networkInfoFromManifest } from '../agent/manifests.js';
import type { ClusterObjects } from './apply.js';

export function clusterViewForServices(
  cluster: ClusterObjects,
  attachments: readonly AttachmentRecord[],
): ClusterView {
  const networks = new Map<string, NetworkInfo>();
  for (const o of cluster.stored) {
    if (o.kind !== 'Network') continue;
    const n = networkInfoFromManifest(o.value);
    if (n.ok) networks.set(n.value.name, n.value);
  }
  return {
    networks,
    nodes: new Map(),
    attachments,
    pods: cluster.resources.filter((r): r is Pod => r.type === 'Pod'),
    services: cluster.resources.filter((r): r is Service => r.type === 'Service'),
  };
}
