// The IPAM's records in the Store (see DESIGN.md, "IPAM data model", for the data model and why it is shaped so).
import type { IpPool } from './pool.js';

export const POOL_KIND = 'IPPool';
export const RESERVATION_KIND = 'IPReservation';
export const ALLOCATION_KIND = 'IPAllocation';
/** Written by the agent, one per attached interface; the liveness source of `ipam reconcile`. */
export const ATTACHMENT_KIND = 'Attachment';

export interface Holder {
  readonly containerId: string;
  readonly ifName: string;
  readonly podNamespace: string;
  readonly podName: string;
  /**
   * The pod's UID when known (CNI_ARGS K8S_POD_UID): a pod re-created under the same name (a
   * StatefulSet pod) is another holder.
   */
  readonly podUid?: string;
}

/** IPReservation, namespace = network, name = address: one per address in use. */
export interface ReservationRecord extends Holder {
  readonly address: string;
  readonly prefixLength: number;
  /** ms since the epoch; reconcile never frees a reservation younger than its grace period. */
  readonly createdAt: number;
}

/** IPAllocation, namespace = network, name = `${containerId}@${ifName}`: makes allocate idempotent. */
export interface AllocationRecord extends Holder {
  readonly addresses: readonly string[];
  readonly createdAt: number;
}

/** IPPool, cluster-scoped, name = network: the pool last used to allocate (for `ipam show`). */
export interface PoolRecord extends IpPool {
  readonly updatedAt: number;
}

/** Attachment records as the agent writes them (any namespace/name); only these fields are read. */
export interface AttachmentRecord {
  readonly network: string;
  readonly containerId: string;
  readonly ifName: string;
  readonly podNamespace: string;
  readonly podName: string;
  readonly podUid?: string;
}

/** The holder fields of a request or record (podUid only when known). */
export function holderOf(h: Holder): Holder {
  return {
    containerId: h.containerId,
    ifName: h.ifName,
    podNamespace: h.podNamespace,
    podName: h.podName,
    ...(h.podUid ? { podUid: h.podUid } : {}),
  };
}

export function holderName(containerId: string, ifName: string): string {
  return `${containerId}@${ifName}`;
}
