// The agent's AddressAllocator over the store-backed IPAM (src/ipam).
import { Ipam } from '../ipam/allocator.js';
import type { Store } from '../store/types.js';
import type { AddressAllocator, AllocateRequest } from './allocator.js';

export class StoreAllocator implements AddressAllocator {
  readonly ipam: Ipam;
  constructor(store: Store) {
    this.ipam = new Ipam(store);
  }

  async allocate(req: AllocateRequest): Promise<string[]> {
    const a = await this.ipam.allocate({
      network: req.network,
      pool: {
        network: req.network,
        ranges: req.ranges.map((r) => ({
          range: r.range,
          ...(r.rangeStart ? { rangeStart: r.rangeStart } : {}),
          ...(r.rangeEnd ? { rangeEnd: r.rangeEnd } : {}),
          ...(r.exclude.length ? { exclude: r.exclude } : {}),
        })),
      },
      containerId: req.containerId,
      ifName: req.ifName,
      podNamespace: req.podNamespace,
      podName: req.podName,
      ...(req.podUid ? { podUid: req.podUid } : {}),
      ...(req.requestedIps?.length ? { requestedIps: req.requestedIps } : {}),
      ...(req.avoidIps?.length ? { avoidIps: req.avoidIps } : {}),
    });
    return a.ips.map((i) => i.address);
  }

  async release(req: { network: string; containerId: string; ifName: string }): Promise<void> {
    await this.ipam.release(req);
  }
}
