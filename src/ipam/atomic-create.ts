// An optional store capability the IPAM uses when the backend offers it: create several keys
// if-absent in ONE atomic write (etcd: one transaction). An allocation is then one round trip
// (reservations + IPAllocation index together) instead of three (get index, create reservation,
// create index), and a reservation never exists without its index. Stores without it get the
// per-key path. The check is structural, so src/store needs no import from here.
import { isStoreError, type ResourceKey, type Store, type StoredObject } from '../store/types.js';

export interface CreateAllEntry {
  readonly key: ResourceKey;
  readonly value: unknown;
}

export type CreateAllResult =
  /** Every key was absent and is now created (objects in the order given). */
  | { readonly ok: true; readonly objects: StoredObject[] }
  /** At least one key existed: nothing was written; `existing` are those keys' current objects. */
  | { readonly ok: false; readonly existing: StoredObject[] };

export interface AtomicCreateStore extends Store {
  createAll(entries: readonly CreateAllEntry[]): Promise<CreateAllResult>;
}

export function hasAtomicCreate(store: Store): store is AtomicCreateStore {
  return typeof (store as Partial<AtomicCreateStore>).createAll === 'function';
}

/**
 * In-memory fake of the capability over any store, for tests in one process: creates in order and
 * deletes what it created if a key exists (atomic as long as nobody else writes meanwhile).
 */
export function withAtomicCreate(store: Store): AtomicCreateStore {
  const createAll = async (entries: readonly CreateAllEntry[]): Promise<CreateAllResult> => {
    const objects: StoredObject[] = [];
    for (const e of entries) {
      try {
        objects.push(await store.create(e.key, e.value));
      } catch (err) {
        if (!isStoreError(err, 'AlreadyExists')) throw err;
        for (const o of objects) await store.delete(o, { resourceVersion: o.resourceVersion });
        const existing: StoredObject[] = [];
        for (const x of entries) {
          const cur = await store.get(x.key);
          if (cur) existing.push(cur);
        }
        return { ok: false, existing };
      }
    }
    return { ok: true, objects };
  };
  return {
    description: store.description,
    get: store.get.bind(store),
    list: store.list.bind(store),
    create: store.create.bind(store),
    update: store.update.bind(store),
    delete: store.delete.bind(store),
    watch: store.watch.bind(store),
    compact: store.compact.bind(store),
    close: store.close.bind(store),
    createAll,
  };
}
