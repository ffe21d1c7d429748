// The IPAM: addresses are claimed one record per address with the store's create-if-absent, so
// no lock is ever held and two holders can never get one address. A per-process cache (addresses
// known to be taken, and a cursor that starts at a random position) makes collisions between
// processes rare; a collision just moves on to the next candidate. See DESIGN.md, "IPAM data model".
import { randomBytes } from 'node:crypto';
import ipaddr from 'ipaddr.js';
import { isStoreError, type ResourceKey, type Store, type StoredObject } from '../store/types.js';
import { putIfChanged } from '../store/put.js';
import {
  addressAt,
  compilePool,
  familyOf,
  fromBigInt,
  IpamError,
  segmentOf,
  skipExcluded,
  toBigInt,
  validateNetworkName,
  type CompiledPool,
  type Family,
  type FamilyPool,
  type IpPool,
} from './pool.js';
import { hasAtomicCreate, type AtomicCreateStore } from './atomic-create.js';
import {
  ALLOCATION_KIND,
  holderName,
  holderOf,
  POOL_KIND,
  RESERVATION_KIND,
  type AllocationRecord,
  type Holder,
  type PoolRecord,
  type ReservationRecord,
} from './records.js';

export interface AllocateRequest extends Holder {
  readonly network: string;
  readonly pool: IpPool;
  /** Wanted addresses ("10.0.0.5" or "10.0.0.5/24", the `ips` of the attachment annotation). */
  readonly requestedIps?: readonly string[];
  /**
   * Addresses not to hand out to this holder although free here: the pod's addresses on its other
   * interfaces (overlapping networks). A pod holding one address on two interfaces could not tell
   * by source which network a reply belongs to.
   */
  readonly avoidIps?: readonly string[];
}

export interface ReleaseRequest {
  readonly network: string;
  readonly containerId: string;
  readonly ifName: string;
}

export interface AllocatedIp {
  readonly family: Family;
  readonly address: string;
  readonly prefixLength: number;
  /** address/prefixLength */
  readonly cidr: string;
}

export interface Allocation {
  readonly network: string;
  readonly containerId: string;
  readonly ifName: string;
  readonly ips: readonly AllocatedIp[];
}

export interface IpamOptions {
  /** Clock (ms since epoch), for tests. */
  readonly now?: () => number;
}

/** Per-process knowledge about one family of one network's pool. Hints only: the store decides. */
interface FamilyCache {
  readonly pool: FamilyPool;
  readonly taken: Set<bigint>;
  cursor: bigint;
}

/** Per-call collision bookkeeping of one family. */
interface ClaimState {
  misses: number;
  reloaded: boolean;
}

interface NetworkCache {
  readonly poolJson: string;
  readonly compiled: CompiledPool;
  readonly families: Map<Family, FamilyCache>;
  loaded: boolean;
}

const CONTAINER_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
// eslint-disable-next-line no-control-regex
const IFNAME_RE = /^[^/:\s\u0000-\u001f]{1,15}$/;

export class Ipam {
  private readonly networks = new Map<string, NetworkCache>();
  private readonly now: () => number;

  constructor(
    readonly store: Store,
    opts: IpamOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
  }

  async allocate(req: AllocateRequest): Promise<Allocation> {
    validateRequest(req);
    if (req.pool?.network !== req.network) {
      throw new IpamError(
        'InvalidRequest',
        `network ${JSON.stringify(req.network)}: pool is for network ${JSON.stringify(req.pool?.network)}`,
      );
    }
    const net = await this.network(req.pool);
    const idxKey: ResourceKey = {
      kind: ALLOCATION_KIND,
      namespace: req.network,
      name: holderName(req.containerId, req.ifName),
    };
    if (hasAtomicCreate(this.store)) {
      try {
        return await this.allocateAtomic(this.store, net, idxKey, req);
      } catch (err) {
        // A repeated request in a full pool: its own allocation is the answer.
        if (!(err instanceof IpamError && err.code === 'PoolExhausted')) throw err;
        const again = await this.existing(net, idxKey, req);
        if (!again) throw err;
        return again;
      }
    }
    return this.allocateIndexFirst(net, idxKey, req);
  }

  /**
   * Allocate with a store without a multi-key create (kubernetes://, embedded, memory): the index
   * first, naming the addresses about to be claimed, then one reservation per address (an index
   * update before each retry after a collision). A crash in between leaves an index whose holder's
   * DEL (release) frees exactly what was claimed, never a reservation that nothing points at.
   * A repeated request learns of its index from the index's create.
   */
  private async allocateIndexFirst(
    net: NetworkCache,
    idxKey: ResourceKey,
    req: AllocateRequest,
  ): Promise<Allocation> {
    const families = [...net.families.values()].sort((a, b) => a.pool.family - b.pool.family);
    const state = new Map<Family, ClaimState>(
      families.map((fc) => [fc.pool.family, { misses: 0, reloaded: false }]),
    );
    const requested = !!req.requestedIps?.length;
    const indexRecord = (chosen: readonly { fc: FamilyCache; value: bigint }[]): AllocationRecord => ({
      ...holderOf(req),
      addresses: chosen.map((c) => fromBigInt(c.value, c.fc.pool.family)),
      createdAt: this.now(),
    });
    let chosen: { fc: FamilyCache; value: bigint }[];
    let idx: StoredObject<AllocationRecord>;
    for (let attempt = 1; ; attempt++) {
      try {
        chosen = requested
          ? req.requestedIps!.map((ip) => this.resolveRequested(net, ip, req))
          : await Promise.all(
              families.map(async (fc) => ({
                fc,
                value: await this.pick(net, fc, state.get(fc.pool.family)!, req.network, avoidSet(req)),
              })),
            );
      } catch (err) {
        // A repeated request in a full pool: its own allocation is the answer.
        if (!(err instanceof IpamError && err.code === 'PoolExhausted')) throw err;
        const again = await this.existing(net, idxKey, req);
        if (!again) throw err;
        return again;
      }
      try {
        idx = await this.store.create(idxKey, indexRecord(chosen));
        break;
      } catch (err) {
        if (!isStoreError(err, 'AlreadyExists')) throw err;
      }
      // A repeated request (or the same one running concurrently, and it won): its allocation is
      // the answer. A stale index (its addresses held by others now) is dropped by confirm: retry.
      const again = await this.existing(net, idxKey, req);
      if (again) return again;
      if (attempt >= 3)
        throw new IpamError(
          'InvalidRequest',
          `network ${req.network}: concurrent allocate and release for ${idxKey.name}; retry`,
        );
    }
    const claimed: Array<StoredObject<ReservationRecord>> = [];
    try {
      for (const c of chosen) {
        const st = state.get(c.fc.pool.family)!;
        for (;;) {
          const got = await this.tryClaim(net, c.fc, c.value, req);
          if (got) {
            claimed.push(got);
            break;
          }
          const key: ResourceKey = {
            kind: RESERVATION_KIND,
            namespace: req.network,
            name: fromBigInt(c.value, c.fc.pool.family),
          };
          const holder = await this.store.get<ReservationRecord>(key);
          // Ours already (a concurrent repeat of this request confirmed our index and claimed it).
          if (holder && holder.value.containerId === req.containerId && holder.value.ifName === req.ifName) {
            claimed.push(holder);
            break;
          }
          if (requested) {
            const h = holder?.value;
            throw new IpamError(
              'AddressInUse',
              `network ${JSON.stringify(req.network)}: requested IP ${JSON.stringify(key.name)}: already held by ${h ? `pod ${h.podNamespace}/${h.podName} (container ${h.containerId}, interface ${h.ifName})` : 'another holder'}`,
            );
          }
          await this.missed(net, c.fc, st, c.value);
          c.value = await this.pick(net, c.fc, st, req.network, avoidSet(req));
          // The index names the next candidate before it is claimed. A Conflict means a release
          // or a repeated request changed it meanwhile: give up rather than guess.
          try {
            idx = await this.store.update(idxKey, indexRecord(chosen), idx.resourceVersion);
          } catch (err) {
            if (!isStoreError(err, 'Conflict') && !isStoreError(err, 'NotFound')) throw err;
            throw new IpamError(
              'InvalidRequest',
              `network ${req.network}: concurrent allocate and release for ${idxKey.name}; retry`,
            );
          }
        }
      }
      return toAllocation(
        req,
        claimed.map((c) => c.value),
      );
    } catch (err) {
      // Nothing half-done: give back what this call claimed, then its index (if the store is down
      // too, the index is left: a DEL or reconcile frees what it names).
      await this.unclaim(net, claimed).catch(() => undefined);
      await this.store.delete(idxKey, { resourceVersion: idx.resourceVersion }).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Allocate with a store that creates several keys atomically: the reservations and the index go
   * in one write, so the common case is one round trip; an existing index (a repeated request)
   * or a taken candidate comes back from that same write.
   */
  private async allocateAtomic(
    store: AtomicCreateStore,
    net: NetworkCache,
    idxKey: ResourceKey,
    req: AllocateRequest,
  ): Promise<Allocation> {
    const requested = req.requestedIps?.length
      ? req.requestedIps.map((ip) => ({ ip, ...this.resolveRequested(net, ip, req) }))
      : undefined;
    const families = [...net.families.values()].sort((a, b) => a.pool.family - b.pool.family);
    const picks = new Map<Family, bigint>();
    const state = new Map<Family, ClaimState>(
      families.map((fc) => [fc.pool.family, { misses: 0, reloaded: false }]),
    );
    for (let indexConflicts = 0; ;) {
      if (!requested) {
        for (const fc of families) {
          if (!picks.has(fc.pool.family))
            picks.set(
              fc.pool.family,
              await this.pick(net, fc, state.get(fc.pool.family)!, req.network, avoidSet(req)),
            );
        }
      }
      const chosen = requested ?? families.map((fc) => ({ fc, value: picks.get(fc.pool.family)! }));
      const records = chosen.map(({ fc, value }) =>
        this.reservation(net, fromBigInt(value, fc.pool.family), req),
      );
      const index: AllocationRecord = {
        ...holderOf(req),
        addresses: records.map((r) => r.address),
        createdAt: this.now(),
      };
      const res = await store.createAll([
        ...records.map((r) => ({
          key: { kind: RESERVATION_KIND, namespace: req.network, name: r.address },
          value: r,
        })),
        { key: idxKey, value: index },
      ]);
      if (res.ok) {
        for (const { fc, value } of chosen) fc.taken.add(value);
        return toAllocation(req, records);
      }
      const idx = res.existing.find((o) => o.kind === ALLOCATION_KIND) as
        StoredObject<AllocationRecord> | undefined;
      if (idx) {
        // A repeated request: answer with what it got (confirm drops a stale index, then retry).
        const again = await this.confirm(net, idx, req);
        if (again) return again;
        if (++indexConflicts >= 3) {
          throw new IpamError(
            'InvalidRequest',
            `network ${req.network}: concurrent allocate and release for ${idxKey.name}; retry`,
          );
        }
        continue;
      }
      for (const o of res.existing as Array<StoredObject<ReservationRecord>>) {
        if (requested) {
          const h = o.value;
          const ip = requested.find((r) => fromBigInt(r.value, r.fc.pool.family) === o.name)?.ip ?? o.name;
          throw new IpamError(
            'AddressInUse',
            `network ${JSON.stringify(req.network)}: requested IP ${JSON.stringify(ip)}: already held by pod ${h.podNamespace}/${h.podName} (container ${h.containerId}, interface ${h.ifName})`,
          );
        }
        const a = ipaddr.parse(o.name);
        const fc = net.families.get(familyOf(a));
        if (!fc) continue;
        picks.delete(fc.pool.family);
        await this.missed(net, fc, state.get(fc.pool.family)!, toBigInt(a));
      }
    }
  }

  /** Validates a requested address against the pool. */
  private resolveRequested(
    net: NetworkCache,
    ip: string,
    req: AllocateRequest,
  ): { fc: FamilyCache; value: bigint } {
    const where = `network ${JSON.stringify(req.network)}: requested IP ${JSON.stringify(ip)}`;
    const text = typeof ip === 'string' ? ip.split('/')[0]! : '';
    if (!ipaddr.isValid(text)) throw new IpamError('InvalidRequest', `${where}: not an IP address`);
    const a = ipaddr.parse(text);
    const fc = net.families.get(familyOf(a));
    const value = toBigInt(a);
    if (!fc || !segmentOf(fc.pool, value)) {
      throw new IpamError(
        'InvalidRequest',
        `${where}: not an assignable address of the pool (outside every range, excluded, or a network/broadcast address)`,
      );
    }
    return { fc, value };
  }

  /** Next candidate of a family from the cache; reloads once when everything looks taken. */
  private async pick(
    net: NetworkCache,
    fc: FamilyCache,
    st: ClaimState,
    network: string,
    avoid: ReadonlySet<string> = NONE,
  ): Promise<bigint> {
    if (!net.loaded) await this.load(net);
    for (;;) {
      let value = fc.taken.size >= Number(fc.pool.size) ? undefined : nextCandidate(fc);
      // Skipped, not marked taken: they are free for every other holder.
      for (let k = 0; value !== undefined && avoid.has(fromBigInt(value, fc.pool.family)); k++)
        value = k < avoid.size ? nextCandidate(fc) : undefined;
      if (value !== undefined) return value;
      // Everything looks taken; others may have released since we last looked.
      if (!st.reloaded) {
        await this.load(net);
        st.reloaded = true;
        continue;
      }
      throw new IpamError(
        'PoolExhausted',
        `pool exhausted: network ${JSON.stringify(network)} has no free IPv${fc.pool.family} address (${fc.pool.size} assignable, all reserved)`,
      );
    }
  }

  /** A candidate turned out taken: remember it, and spread out / refresh after repeated misses. */
  private async missed(net: NetworkCache, fc: FamilyCache, st: ClaimState, value: bigint): Promise<void> {
    fc.taken.add(value);
    // Another process is allocating in this stretch: jump elsewhere rather than trail it.
    if (++st.misses % 4 === 0) fc.cursor = randomBelow(fc.pool.span);
    if (st.misses === 64 && !st.reloaded) {
      await this.load(net);
      st.reloaded = true;
    }
  }

  /** Frees the holder's addresses. Unknown allocations are success (CNI DEL is idempotent). */
  async release(req: ReleaseRequest): Promise<boolean> {
    validateNetworkName(req.network);
    validateIds(req.containerId, req.ifName);
    const idxKey: ResourceKey = {
      kind: ALLOCATION_KIND,
      namespace: req.network,
      name: holderName(req.containerId, req.ifName),
    };
    const idx = await this.store.get<AllocationRecord>(idxKey);
    if (!idx) return false;
    // Reservations first, then the index: a crash in between leaves an index that a retried
    // release (or reconcile) finishes, never an orphan reservation that nobody points at.
    for (const address of idx.value.addresses) {
      await this.freeIfHeldBy(req.network, address, req.containerId, req.ifName);
    }
    try {
      await this.store.delete(idxKey, { resourceVersion: idx.resourceVersion });
    } catch (err) {
      if (!isStoreError(err, 'Conflict')) throw err;
    }
    return true;
  }

  /** Deletes the reservation of `address` if it belongs to this holder; true if it was freed. */
  async freeIfHeldBy(
    network: string,
    address: string,
    containerId: string,
    ifName: string,
  ): Promise<boolean> {
    const key: ResourceKey = { kind: RESERVATION_KIND, namespace: network, name: address };
    const r = await this.store.get<ReservationRecord>(key);
    if (!r || r.value.containerId !== containerId || r.value.ifName !== ifName) return false;
    try {
      await this.store.delete(key, { resourceVersion: r.resourceVersion });
    } catch (err) {
      if (!isStoreError(err, 'Conflict')) throw err;
      return false;
    }
    this.forget(network, address);
    return true;
  }

  /** The holder's recorded allocation, if it has one and it is still valid. */
  private async existing(
    net: NetworkCache,
    idxKey: ResourceKey,
    req: AllocateRequest,
  ): Promise<Allocation | undefined> {
    const idx = await this.store.get<AllocationRecord>(idxKey);
    return idx && (await this.confirm(net, idx, req));
  }

  /** Returns the allocation if all its reservations are (still, or again) this holder's. */
  private async confirm(
    net: NetworkCache,
    idx: StoredObject<AllocationRecord>,
    req: AllocateRequest,
  ): Promise<Allocation | undefined> {
    const records: ReservationRecord[] = [];
    for (const address of idx.value.addresses) {
      const key: ResourceKey = { kind: RESERVATION_KIND, namespace: req.network, name: address };
      const r = await this.store.get<ReservationRecord>(key);
      if (r && r.value.containerId === req.containerId && r.value.ifName === req.ifName) {
        records.push(r.value);
        continue;
      }
      if (!r) {
        // A release was interrupted between the reservations and the index: claim the address back.
        const rec = this.reservation(net, address, req);
        try {
          await this.store.create(key, rec);
          records.push(rec);
          continue;
        } catch (err) {
          if (!isStoreError(err, 'AlreadyExists')) throw err;
        }
      }
      // Someone else holds it now: this index is stale. Drop it and allocate afresh.
      for (const rec of records)
        await this.freeIfHeldBy(req.network, rec.address, req.containerId, req.ifName);
      await this.store
        .delete(
          { kind: ALLOCATION_KIND, namespace: req.network, name: idx.name },
          { resourceVersion: idx.resourceVersion },
        )
        .catch((err: unknown) => {
          if (!isStoreError(err, 'Conflict')) throw err;
        });
      return undefined;
    }
    return toAllocation(req, records);
  }

  private reservation(net: NetworkCache, address: string, req: AllocateRequest): ReservationRecord {
    const a = ipaddr.parse(address);
    const fc = net.families.get(familyOf(a));
    const seg = fc && segmentOf(fc.pool, toBigInt(a));
    return {
      address,
      prefixLength: seg?.prefixLength ?? (familyOf(a) === 4 ? 32 : 128),
      ...holderOf(req),
      createdAt: this.now(),
    };
  }

  private async claimRequested(
    net: NetworkCache,
    ip: string,
    req: AllocateRequest,
  ): Promise<StoredObject<ReservationRecord>> {
    const { fc, value } = this.resolveRequested(net, ip, req);
    const claimed = await this.tryClaim(net, fc, value, req);
    if (claimed) return claimed;
    const key: ResourceKey = {
      kind: RESERVATION_KIND,
      namespace: req.network,
      name: fromBigInt(value, fc.pool.family),
    };
    const h = (await this.store.get<ReservationRecord>(key))?.value;
    throw new IpamError(
      'AddressInUse',
      `network ${JSON.stringify(req.network)}: requested IP ${JSON.stringify(ip)}: already held by ${h ? `pod ${h.podNamespace}/${h.podName} (container ${h.containerId}, interface ${h.ifName})` : 'another holder'}`,
    );
  }

  private async claimNext(
    net: NetworkCache,
    fc: FamilyCache,
    req: AllocateRequest,
  ): Promise<StoredObject<ReservationRecord>> {
    const st: ClaimState = { misses: 0, reloaded: false };
    for (;;) {
      const value = await this.pick(net, fc, st, req.network, avoidSet(req));
      const claimed = await this.tryClaim(net, fc, value, req);
      if (claimed) return claimed;
      await this.missed(net, fc, st, value);
    }
  }

  /** Create-if-absent of the address's reservation: the record, or undefined if someone holds it. */
  private async tryClaim(
    net: NetworkCache,
    fc: FamilyCache,
    value: bigint,
    req: AllocateRequest,
  ): Promise<StoredObject<ReservationRecord> | undefined> {
    const address = fromBigInt(value, fc.pool.family);
    const key: ResourceKey = { kind: RESERVATION_KIND, namespace: req.network, name: address };
    try {
      const r = await this.store.create(key, this.reservation(net, address, req));
      fc.taken.add(value);
      return r;
    } catch (err) {
      if (!isStoreError(err, 'AlreadyExists')) throw err;
      return undefined;
    }
  }

  private async unclaim(net: NetworkCache, claimed: Array<StoredObject<ReservationRecord>>): Promise<void> {
    for (const c of claimed) {
      try {
        await this.store.delete(
          { kind: RESERVATION_KIND, namespace: net.compiled.network, name: c.value.address },
          { resourceVersion: c.resourceVersion },
        );
      } catch (err) {
        if (!isStoreError(err, 'Conflict')) throw err;
      }
      this.forget(net.compiled.network, c.value.address);
    }
  }

  private forget(network: string, address: string): void {
    const net = this.networks.get(network);
    if (!net || !ipaddr.isValid(address)) return;
    const a = ipaddr.parse(address);
    net.families.get(familyOf(a))?.taken.delete(toBigInt(a));
  }

  /** Refreshes the taken-address cache of a network from the store (one list per refresh). */
  private async load(net: NetworkCache): Promise<void> {
    const list = await this.store.list<ReservationRecord>(RESERVATION_KIND, net.compiled.network);
    for (const fc of net.families.values()) fc.taken.clear();
    for (const r of list.items) {
      if (!ipaddr.isValid(r.name)) continue;
      const a = ipaddr.parse(r.name);
      const fc = net.families.get(familyOf(a));
      const v = toBigInt(a);
      if (fc && segmentOf(fc.pool, v)) fc.taken.add(v);
    }
    net.loaded = true;
  }

  /** The cache entry for a pool; (re)records the pool definition in the store when it changes. */
  private async network(pool: IpPool): Promise<NetworkCache> {
    const poolJson = JSON.stringify({ network: pool.network, ranges: pool.ranges });
    const cached = this.networks.get(pool.network);
    if (cached && cached.poolJson === poolJson) return cached;
    const compiled = compilePool(pool);
    const families = new Map<Family, FamilyCache>();
    for (const fp of compiled.families.values()) {
      families.set(fp.family, { pool: fp, taken: new Set(), cursor: randomBelow(fp.span) });
    }
    const net: NetworkCache = { poolJson, compiled, families, loaded: false };
    await this.savePool(pool);
    this.networks.set(pool.network, net);
    return net;
  }

  private async savePool(pool: IpPool): Promise<void> {
    const key: ResourceKey = { kind: POOL_KIND, namespace: '', name: pool.network };
    const value: PoolRecord = { network: pool.network, ranges: pool.ranges, updatedAt: this.now() };
    // updatedAt alone is no change: only a different pool is written.
    await putIfChanged(this.store, key, value, {
      same: (a, b) => JSON.stringify(a.ranges) === JSON.stringify(b.ranges),
    });
  }
}

/** Next address after the cursor that is neither excluded nor known to be taken. */
function nextCandidate(fc: FamilyCache): bigint | undefined {
  const span = fc.pool.span;
  let steps = 0n;
  let pos = fc.cursor % span;
  while (steps < span) {
    const skip = skipExcluded(fc.pool, pos);
    if (skip !== undefined) {
      steps += skip - pos;
      pos = skip % span;
      continue;
    }
    const { value } = addressAt(fc.pool, pos);
    pos = (pos + 1n) % span;
    steps++;
    if (!fc.taken.has(value)) {
      fc.cursor = pos;
      return value;
    }
  }
  return undefined;
}

const NONE: ReadonlySet<string> = new Set();
function avoidSet(req: AllocateRequest): ReadonlySet<string> {
  if (!req.avoidIps?.length) return NONE;
  const out = new Set<string>();
  for (const a of req.avoidIps) {
    if (!ipaddr.isValid(a)) continue;
    const ip = ipaddr.parse(a);
    out.add(fromBigInt(toBigInt(ip), familyOf(ip))); // the canonical text pick() compares with
  }
  return out;
}

function randomBelow(n: bigint): bigint {
  let r = 0n;
  for (const b of randomBytes(16)) r = (r << 8n) | BigInt(b);
  return r % n;
}

function validateIds(containerId: string, ifName: string): void {
  if (typeof containerId !== 'string' || !CONTAINER_ID_RE.test(containerId)) {
    throw new IpamError(
      'InvalidRequest',
      `containerId ${JSON.stringify(containerId)}: must be letters, digits, '_', '.', '-' (at most 128)`,
    );
  }
  if (typeof ifName !== 'string' || !IFNAME_RE.test(ifName) || ifName === '.' || ifName === '..') {
    throw new IpamError(
      'InvalidRequest',
      `ifName ${JSON.stringify(ifName)}: must be 1-15 characters without '/', ':' or spaces`,
    );
  }
}

function validateRequest(req: AllocateRequest): void {
  validateNetworkName(req.network);
  validateIds(req.containerId, req.ifName);
  for (const f of ['podNamespace', 'podName'] as const) {
    if (typeof req[f] !== 'string' || req[f].length === 0 || req[f].length > 253) {
      throw new IpamError('InvalidRequest', `${f} ${JSON.stringify(req[f])}: must be a non-empty name`);
    }
  }
  if (req.podUid !== undefined && (typeof req.podUid !== 'string' || req.podUid.length > 253)) {
    throw new IpamError('InvalidRequest', `podUid ${JSON.stringify(req.podUid)}: must be a pod UID`);
  }
  if (req.requestedIps !== undefined && !Array.isArray(req.requestedIps)) {
    throw new IpamError('InvalidRequest', `requestedIps: must be a list of addresses`);
  }
}

function toAllocation(
  req: { network: string; containerId: string; ifName: string },
  records: readonly ReservationRecord[],
): Allocation {
  return {
    network: req.network,
    containerId: req.containerId,
    ifName: req.ifName,
    ips: records.map((r) => ({
      family: familyOf(ipaddr.parse(r.address)),
      address: r.address,
      prefixLength: r.prefixLength,
      cidr: `${r.address}/${r.prefixLength}`,
    })),
  };
}
