// What the agent needs from the IPAM: allocate and release per (network, containerId, ifName).
// The implementation over the store lives in src/ipam; this seam lets the agent be tested with a fake.

/** One range of a pool, as plain text (the api's IpamRange with CIDRs as strings). */
export interface PoolRange {
  readonly range: string;
  readonly rangeStart?: string;
  readonly rangeEnd?: string;
  readonly exclude: readonly string[];
}

export interface AllocateRequest {
  readonly network: string;
  readonly ranges: readonly PoolRange[];
  readonly containerId: string;
  readonly ifName: string;
  readonly podNamespace: string;
  readonly podName: string;
  /** The pod's UID (CNI_ARGS K8S_POD_UID) when known: recorded with the allocation. */
  readonly podUid?: string;
  /** Addresses asked for by the pod's annotation (`ips`); honoured or refused. */
  readonly requestedIps?: readonly string[];
  /** The pod's addresses on its other interfaces: never handed out again to this pod. */
  readonly avoidIps?: readonly string[];
}

export interface AddressAllocator {
  /** Returns plain addresses (one per family of the ranges); idempotent on (containerId, ifName). */
  allocate(req: AllocateRequest): Promise<string[]>;
  /** Release of an unknown allocation is success. */
  release(req: { network: string; containerId: string; ifName: string }): Promise<void>;
}
