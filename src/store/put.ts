// Read, compare, then create-if-absent or compare-and-swap: the one write loop for "the store
// should hold this value". A concurrent writer makes us read again and re-decide, never overwrite
// blindly.
import { isStoreError, type ResourceKey, type Store } from './types.js';

export type PutOutcome = 'created' | 'updated' | 'unchanged';

export interface PutOptions<T> {
  /** Whether the stored value already says what `next` says (default: equal JSON). */
  readonly same?: (stored: T, next: T) => boolean;
  /** Attempts before the last Conflict/AlreadyExists is thrown (default 50). */
  readonly attempts?: number;
}

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

export async function putIfChanged<T>(
  store: Store,
  key: ResourceKey,
  value: T,
  opts: PutOptions<T> = {},
): Promise<PutOutcome> {
  const same = opts.same ?? sameJson;
  const attempts = opts.attempts ?? 50;
  for (let i = 1; ; i++) {
    const cur = await store.get<T>(key);
    try {
      if (!cur) {
        await store.create(key, value);
        return 'created';
      }
      if (same(cur.value, value)) return 'unchanged';
      await store.update(key, value, cur.resourceVersion);
      return 'updated';
    } catch (e) {
      // Someone wrote between our read and our write: read again.
      if (i >= attempts || (!isStoreError(e, 'Conflict') && !isStoreError(e, 'AlreadyExists'))) throw e;
    }
  }
}
