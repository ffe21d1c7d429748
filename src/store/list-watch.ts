// List, then watch: the informer pattern. The first item is a full snapshot (the "in sync" point);
// after it come ordered changes. When the history needed to resume is gone (GoneError, like
// Kubernetes' 410), a fresh snapshot follows at once and the consumer replaces its state with it.
// Any other failure (store unreachable, a list failing half way, a watch stream dropped) is retried
// here, with capped jittered backoff, until a list succeeds again: a consumer never has to restart
// it, and its state is never cleared by an outage (only a successful re-list replaces it).
import { Backoff, sleep, untilAborted, type BackoffPolicy } from '../util/backoff.js';
import { isStoreError, type Store, type StoredObject, type WatchEvent } from './types.js';

export interface SyncSnapshot<T = unknown> {
  readonly type: 'SYNCED';
  /** Every object of the kind at `revision`: replace local state with these. */
  readonly items: StoredObject<T>[];
  readonly revision: string;
}

export type ListWatchItem<T = unknown> = SyncSnapshot<T> | WatchEvent<T>;

export interface RetryInfo {
  /** Consecutive failures of this outage (1 = the first). */
  readonly attempt: number;
  /** Wait before the next list. */
  readonly delayMs: number;
  /** Time since the last event, list or bookmark (undefined: never listed). */
  readonly staleMs: number | undefined;
}

export interface RecoverInfo {
  /** Failed attempts before this successful list. */
  readonly failures: number;
  /** Time since the last event, list or bookmark before this list. */
  readonly staleMs: number | undefined;
}

export interface ListWatchOptions {
  readonly signal?: AbortSignal;
  /** Called when a re-list happens because history was compacted (for logging/metrics). */
  readonly onRelist?: (reason: Error) => void;
  /** A list or the watch failed; the next list is tried after info.delayMs. */
  readonly onError?: (err: Error, info: RetryInfo) => void;
  /** A list succeeded after failures (its snapshot comes next). */
  readonly onRecover?: (info: RecoverInfo) => void;
  readonly backoff?: BackoffPolicy;
  /** Randomness of the jitter (tests pin it). */
  readonly random?: () => number;
  /** A watch that ran this long before failing starts the backoff over (default 30 s). */
  readonly healthyMs?: number;
  /**
   * While no event arrives for this long, ask the store for its revision (a list of an empty
   * kind) as a bookmark: it proves the store answers while the watch is open, so staleness stays
   * small on a quiet store, and a store that stopped answering ends the watch (a dropped TCP path
   * may never fail the stream itself). Default 10 s; 0 = never.
   */
  readonly progressMs?: number;
  /** Updated as items arrive and failures happen; read it for status (staleness). */
  readonly health?: WatchHealth;
}

/** Liveness of one list-watch, for status and logs. */
export class WatchHealth {
  /** True from a successful list until the next failure. */
  connected = false;
  /** When the mirror was last known current (ms since the epoch): a list, an event or a bookmark. */
  lastProgressAt: number | undefined;
  /** Consecutive failed attempts of the ongoing outage (0 when connected). */
  failures = 0;
  lastError: string | undefined;

  constructor(readonly now: () => number = Date.now) {}

  /** Time since the last event, list or bookmark; undefined before the first list. */
  staleMs(): number | undefined {
    return this.lastProgressAt === undefined ? undefined : Math.max(0, this.now() - this.lastProgressAt);
  }

  progress(at = this.now()): void {
    this.lastProgressAt = Math.max(this.lastProgressAt ?? 0, at);
  }
}

/** A kind nobody writes: listing it is the cheapest "what is your revision?" a Store offers. */
export const PROBE_KIND = 'ListWatchProbe';

export async function* listThenWatch<T = unknown>(
  store: Store,
  kind: string,
  opts: ListWatchOptions = {},
): AsyncGenerator<ListWatchItem<T>, void, undefined> {
  yield* relisting<ListWatchItem<T>>(
    store,
    opts,
    async () => {
      const snap = await store.list<T>(kind);
      return {
        item: { type: 'SYNCED', items: snap.items, revision: snap.revision },
        from: snap.revision,
      };
    },
    (from, signal) => store.watch({ kind, fromRevision: from, signal }),
    (ev) => ev as WatchEvent<T>,
  );
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
 * A snapshot is only delivered once every kind was listed: a failure half way lists all again.
 */
export async function* listThenWatchKinds(
  store: Store,
  kinds: readonly string[],
  opts: ListWatchOptions = {},
): AsyncGenerator<MultiListWatchItem, void, undefined> {
  const wanted = new Set(kinds);
  yield* relisting<MultiListWatchItem>(
    store,
    opts,
    async () => {
      const lists = new Map<string, StoredObject[]>();
      let from: string | undefined;
      for (const k of kinds) {
        const snap = await store.list(k);
        lists.set(k, snap.items);
        if (from === undefined || BigInt(snap.revision) < BigInt(from)) from = snap.revision;
      }
      return { item: { type: 'SYNCED', kinds: lists }, from: from ?? '0' };
    },
    (from, signal) => store.watch({ fromRevision: from, signal }),
    (ev) => (wanted.has(ev.object.kind) ? ev : undefined),
  );
}

/** The retry loop shared by both forms: list, yield the snapshot, watch; on failure back off. */
async function* relisting<Item>(
  store: Store,
  opts: ListWatchOptions,
  list: () => Promise<{ item: Item; from: string }>,
  watch: (from: string, signal: AbortSignal) => AsyncIterableIterator<WatchEvent>,
  pass: (ev: WatchEvent) => Item | undefined,
): AsyncGenerator<Item, void, undefined> {
  const signal = opts.signal;
  const health = opts.health ?? new WatchHealth();
  const backoff = new Backoff(opts.backoff, opts.random);
  const healthyMs = opts.healthyMs ?? 30_000;
  const progressMs = opts.progressMs ?? 10_000;
  while (!signal?.aborted) {
    let watchingSince: number | undefined;
    // One controller per watch: the agent's abort ends it, and so does a failed bookmark probe.
    const stop = new AbortController();
    const onAbort = (): void => stop.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    let probeFailure: Error | undefined;
    try {
      const staleBefore = health.staleMs();
      // A list cannot be cancelled, but stopping must not wait for its timeout.
      const snap = await untilAborted(list(), signal);
      if (snap === undefined) return;
      health.progress();
      health.connected = true;
      health.lastError = undefined;
      if (health.failures > 0) {
        opts.onRecover?.({ failures: health.failures, staleMs: staleBefore });
        health.failures = 0;
      }
      yield snap.item;
      watchingSince = health.now();
      let lastEventAt = watchingSince;
      const events = watch(snap.from, stop.signal);
      if (progressMs > 0)
        void probeLoop(store, progressMs, stop.signal, () => lastEventAt, health).catch((e: unknown) => {
          probeFailure = e instanceof Error ? e : new Error(String(e));
          stop.abort();
        });
      for await (const ev of events) {
        lastEventAt = health.now();
        health.progress(lastEventAt);
        const item = pass(ev);
        if (item !== undefined) yield item;
      }
      if (probeFailure) throw probeFailure;
      return; // aborted, or the store was closed
    } catch (e) {
      if (signal?.aborted) return;
      const err = e instanceof Error ? e : new Error(String(e));
      if (isStoreError(err, 'Gone')) {
        opts.onRelist?.(err);
        continue;
      }
      health.connected = false;
      health.failures++;
      health.lastError = err.message;
      // A watch that held for a while was a recovery: the next outage starts with short delays.
      if (watchingSince !== undefined && health.now() - watchingSince >= healthyMs) backoff.reset();
      const delayMs = backoff.next();
      opts.onError?.(err, { attempt: health.failures, delayMs, staleMs: health.staleMs() });
      if (!(await sleep(delayMs, signal))) return;
    } finally {
      stop.abort();
      signal?.removeEventListener('abort', onAbort);
    }
  }
}

/** Bookmarks while the watch is quiet; throws (ending the watch) when the store stops answering. */
async function probeLoop(
  store: Store,
  everyMs: number,
  signal: AbortSignal,
  lastEventAt: () => number,
  health: WatchHealth,
): Promise<void> {
  for (;;) {
    const wait = Math.max(0, lastEventAt() + everyMs - health.now());
    if (!(await sleep(wait || everyMs, signal))) return;
    if (health.now() - lastEventAt() < everyMs) continue;
    const at = health.now();
    const r = await untilAborted(store.list(PROBE_KIND), signal);
    if (r === undefined || signal.aborted) return;
    health.progress(at);
  }
}
