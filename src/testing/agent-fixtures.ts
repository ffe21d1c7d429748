// What agent tests share: the seed's blue network, the conf Multus hands our plugin for it, a CNI
// request for a pod's interface in it, and an allocator that hands out the next address.
import type { CniRequest } from '../cni/protocol.js';
import type { AddressAllocator, AllocateRequest } from '../agent/allocator.js';

export const BLUE_NETCONF = {
  cniVersion: '1.0.0',
  name: 'network-blue',
  type: 'calico',
  ipam: { type: 'whereabouts' },
  dataplane_options: { network_name: 'blue' },
};

/** The stored Network blue (VNI 56, 172.19.0.0/16 unless spec says otherwise). */
export function blueNetwork(spec: Record<string, unknown> = { vni: 56, range: '172.19.0.0/16' }) {
  return { apiVersion: 'projectcalico.org/v3', kind: 'Network', metadata: { name: 'blue' }, spec };
}

/** A CNI request for pod `pod` (namespace default, container cid-<pod>) in blue. */
export function blueRequest(
  command: CniRequest['command'],
  pod: string,
  o: { ifName?: string; netns?: string } = {},
): CniRequest {
  return {
    protocol: 1,
    command,
    containerId: `cid-${pod}`,
    netns: o.netns ?? `/run/netns/${pod}`,
    ifName: o.ifName ?? 'eth1',
    args: { K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: pod },
    netConf: BLUE_NETCONF,
    ipam: 'agent',
  };
}

/** The next address of the first range, every time (release is a no-op). */
export class SequentialAllocator implements AddressAllocator {
  next = 2;
  async allocate(req: AllocateRequest): Promise<string[]> {
    return [`${req.ranges[0]!.range.split('.').slice(0, 3).join('.')}.${this.next++}`];
  }
  async release(): Promise<void> {}
}
