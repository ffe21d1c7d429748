// List, then watch: the informer pattern. The first item is a full snapshot (the "in sync" point);
// after it come ordered changes. When the history needed to resume is gone (GoneError, like
// Kubernetes' 410), a fresh snapshot follows and the consumer replaces its state with it.
import { isStoreError, type Store, type StoredObject, type WatchEvent } from './types.js';

export interface SyncSnapshot<T = unknown> {
  readonly type: 'SYNCED';
  /** Every object of the kind at `revision`: replace local state with these. */
  readonly items: StoredObject<T>[];
  readonly revision: string;
}

export type ListWatchItem<T = unknown> = SyncSnapshot<T> | WatchEvent<T>;

export interface ListWatchOptions {
  readonly signal?: AbortSignal;
  /** Called when a re-list happens because history was compacted (for logging/metrics). */
  readonly onRelist?: (reason: Error) => void;
}

export async function* listThenWatch<T = unknown>(
  store: Store,
  kind: string,
  opts: ListWatchOptions = {},
): AsyncGenerator<ListWatchItem<T>, void, undefined> {
  while (!opts.signal?.aborted) {
    const snap = await store.list<T>(kind);
    yield { type: 'SYNCED', items: snap.items, revision: snap.revision };
    try {
      for await (const ev of store.watch({ kind, fromRevision: snap.revision, signal: opts.signal })) {
        yield ev as WatchEvent<T>;
      }
      return; // aborted or store closed
    } catch (err) {
      if (!isStoreError(err, 'Gone')) throw err;
      opts.onRelist?.(err as Error);
    }
  }
}
