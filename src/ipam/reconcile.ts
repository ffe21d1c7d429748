// Leak reclaim and reporting over the IPAM records.
// A reservation is kept when its holder is live AND the holder's IPAllocation lists it; anything
// else older than the grace period is a leak (a crashed allocate, a pod deleted without CNI DEL).
// The grace period protects allocations in flight: their reservation exists a moment before
// their IPAllocation, and their pod may not be visible yet (the race behind Whereabouts' duplicates).
import { isStoreError, type Store } from '../store/types.js';
import { compilePool } from './pool.js';
import {
  ALLOCATION_KIND,
  ATTACHMENT_KIND,
  holderName,
  POOL_KIND,
  RESERVATION_KIND,
  type AllocationRecord,
  type AttachmentRecord,
  type PoolRecord,
  type ReservationRecord,
} from './records.js';

export type IsLive = (
  podNamespace: string,
  podName: string,
  containerId: string,
  ifName: string,
  network: string,
  /** The holder's pod UID, when its record has one. */
  podUid?: string,
) => boolean | Promise<boolean>;

export interface ReconcileOptions {
  readonly isLive: IsLive;
  /** Records younger than this are never freed. */
  readonly graceMs: number;
  readonly now?: () => number;
  /** Only this network (default: all). */
  readonly network?: string;
}

export interface ReconcileResult {
  /** Freed reservations: network, address, holder. */
  readonly freed: ReadonlyArray<{
    network: string;
    address: string;
    containerId: string;
    ifName: string;
    podNamespace: string;
    podName: string;
  }>;
  /** IPAllocation records removed (network/containerId@ifName). */
  readonly droppedAllocations: readonly string[];
  /** Reservations kept because they are live or younger than the grace period. */
  readonly kept: number;
}

export async function reconcile(store: Store, opts: ReconcileOptions): Promise<ReconcileResult> {
  const now = (opts.now ?? Date.now)();
  // Allocations first, then reservations: an allocation made between the two lists is young,
  // so the grace period covers it.
  const allocs = await store.list<AllocationRecord>(ALLOCATION_KIND, opts.network);
  const resv = await store.list<ReservationRecord>(RESERVATION_KIND, opts.network);
  const byHolder = new Map(allocs.items.map((a) => [`${a.namespace}/${a.name}`, a]));
  const freed: Array<ReconcileResult['freed'][number]> = [];
  const dropped: string[] = [];
  let kept = 0;
  const liveCache = new Map<string, boolean>();
  const live = async (
    network: string,
    h: { podNamespace: string; podName: string; containerId: string; ifName: string; podUid?: string },
  ) => {
    const k = JSON.stringify([network, h.containerId, h.ifName, h.podNamespace, h.podName, h.podUid ?? '']);
    let v = liveCache.get(k);
    if (v === undefined) {
      v = await opts.isLive(
        h.podNamespace,
        h.podName,
        h.containerId,
        h.ifName,
        network,
        h.podUid || undefined,
      );
      liveCache.set(k, v);
    }
    return v;
  };
  for (const r of resv.items) {
    const v = r.value;
    if (now - v.createdAt < opts.graceMs) {
      kept++;
      continue;
    }
    const idx = byHolder.get(`${r.namespace}/${holderName(v.containerId, v.ifName)}`);
    const referenced = idx !== undefined && idx.value.addresses.includes(r.name);
    // An index younger than the grace period protects its reservations too (re-claimed after an
    // interrupted release).
    const youngIdx = idx !== undefined && now - idx.value.createdAt < opts.graceMs;
    if ((referenced && (await live(r.namespace, v))) || (referenced && youngIdx)) {
      kept++;
      continue;
    }
    try {
      // Conditional: if the address was released and claimed again since the list, leave it alone.
      await store.delete(r, { resourceVersion: r.resourceVersion });
      freed.push({
        network: r.namespace,
        address: r.name,
        containerId: v.containerId,
        ifName: v.ifName,
        podNamespace: v.podNamespace,
        podName: v.podName,
      });
    } catch (err) {
      if (!isStoreError(err, 'Conflict')) throw err;
    }
  }
  for (const a of allocs.items) {
    if (now - a.value.createdAt < opts.graceMs) continue;
    if (await live(a.namespace, a.value)) continue;
    try {
      await store.delete(a, { resourceVersion: a.resourceVersion });
      dropped.push(`${a.namespace}/${a.name}`);
    } catch (err) {
      if (!isStoreError(err, 'Conflict')) throw err;
    }
  }
  return { freed, droppedAllocations: dropped, kept };
}

/**
 * Liveness from the agent's Attachment records: live iff a matching Attachment exists (same
 * network, containerId, ifName, podNamespace, podName, and the same pod UID when both the holder
 * and the Attachment have one: a pod re-created under the same name is another holder).
 */
export async function attachmentLiveness(store: Store): Promise<IsLive> {
  const list = await store.list<AttachmentRecord>(ATTACHMENT_KIND);
  // holder -> the pod UIDs of its Attachments ('' for one without a UID)
  const live = new Map<string, Set<string>>();
  for (const a of list.items) {
    const v = a.value;
    const k = JSON.stringify([v.network, v.containerId, v.ifName, v.podNamespace, v.podName]);
    let uids = live.get(k);
    if (!uids) live.set(k, (uids = new Set()));
    uids.add(typeof v.podUid === 'string' ? v.podUid : '');
  }
  return (podNamespace, podName, containerId, ifName, network, podUid) => {
    const uids = live.get(JSON.stringify([network, containerId, ifName, podNamespace, podName]));
    if (!uids) return false;
    return !podUid || uids.has('') || uids.has(podUid);
  };
}

export interface NetworkUsage {
  readonly network: string;
  /** Assignable addresses (undefined if no pool definition was recorded). */
  readonly size: bigint | undefined;
  readonly used: number;
  readonly free: bigint | undefined;
  readonly holders: ReadonlyArray<{
    address: string;
    podNamespace: string;
    podName: string;
    containerId: string;
    ifName: string;
    createdAt: number;
  }>;
  /** Why size is unknown, if it is. */
  readonly note?: string;
}

/** Per-network usage for `multinet ipam show`. */
export async function usage(store: Store, network?: string): Promise<NetworkUsage[]> {
  const pools = await store.list<PoolRecord>(POOL_KIND, '');
  const resv = await store.list<ReservationRecord>(RESERVATION_KIND, network);
  const names = new Set<string>([...pools.items.map((p) => p.name), ...resv.items.map((r) => r.namespace)]);
  const out: NetworkUsage[] = [];
  for (const name of [...names].sort()) {
    if (network !== undefined && name !== network) continue;
    const pool = pools.items.find((p) => p.name === name);
    let size: bigint | undefined;
    let note: string | undefined;
    if (pool) {
      try {
        size = [...compilePool(pool.value).families.values()].reduce((acc, f) => acc + f.size, 0n);
      } catch (err) {
        note = `recorded pool is invalid: ${(err as Error).message}`;
      }
    } else {
      note = 'no pool recorded';
    }
    const holders = resv.items
      .filter((r) => r.namespace === name)
      .map((r) => ({
        address: r.name,
        podNamespace: r.value.podNamespace,
        podName: r.value.podName,
        containerId: r.value.containerId,
        ifName: r.value.ifName,
        createdAt: r.value.createdAt,
      }));
    out.push({
      network: name,
      size,
      used: holders.length,
      free: size === undefined ? undefined : size - BigInt(holders.length),
      holders,
      ...(note ? { note } : {}),
    });
  }
  return out;
}
