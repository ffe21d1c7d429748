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

export interface MultiSnapshot {
  readonly type: 'SYNCED';
  /** Every object of each kind: replace local state of those kinds with these. */
  readonly kinds: ReadonlyMap<string, StoredObject[]>;
}

export type MultiListWatchItem = MultiSnapshot | WatchEvent;

/**
 * List-then-watch over several kinds with ONE watch (one poll or stream instead of one per kind).
 * The watch starts at the oldest list's revision: events already contained in a later list are
 * replayed in order on top of it and end in the same state, so nothing is missed or left stale.
 */
export async function* listThenWatchKinds(
  store: Store,
  kinds: readonly string[],
  opts: ListWatchOptions = {},
): AsyncGenerator<MultiListWatchItem, void, undefined> {
  const wanted = new Set(kinds);
  while (!opts.signal?.aborted) {
    const lists = new Map<string, StoredObject[]>();
    let from: string | undefined;
    for (const k of kinds) {
      const snap = await store.list(k);
      lists.set(k, snap.items);
      if (from === undefined || BigInt(snap.revision) < BigInt(from)) from = snap.revision;
    }
    yield { type: 'SYNCED', kinds: lists };
    try {
      for await (const ev of store.watch({ fromRevision: from ?? '0', signal: opts.signal })) {
        if (wanted.has(ev.object.kind)) yield ev;
      }
      return;
    } catch (err) {
      if (!isStoreError(err, 'Gone')) throw err;
      opts.onRelist?.(err as Error);
    }
  }
}
