// A store that fails on demand, for tests of what happens while the datastore is unreachable.
// It wraps a real one (usually MemoryStore): while "down", every call and every open watch fails
// with StoreUnavailableError, as a store behind a dead network would; "up" again, calls pass through
// to the same data (writes made meanwhile through the inner store are there, like on a real etcd).
import {
  StoreUnavailableError,
  type DeleteOptions,
  type ListResult,
  type ResourceKey,
  type Store,
  type StoredObject,
  type WatchEvent,
  type WatchOptions,
} from './types.js';
import { EventQueue } from './event-queue.js';

type Method = 'get' | 'list' | 'create' | 'update' | 'delete' | 'watch' | 'compact';

export class FaultyStore implements Store {
  readonly description: string;
  private downReason: string | undefined;
  private readonly failures = new Map<Method, number>();
  private readonly open = new Set<EventQueue<WatchEvent>>();
  /** Every call made, in order (method name), for assertions. */
  readonly calls: Method[] = [];
  /** Fails a call when this returns true (kind: of list and watch; e.g. a list failing half way). */
  failWhen: ((method: Method, kind?: string) => boolean) | undefined;

  constructor(readonly inner: Store) {
    this.description = `faulty(${inner.description})`;
  }

  get isDown(): boolean {
    return this.downReason !== undefined;
  }

  /** Every call fails from now on, and open watches fail at once. */
  down(reason = 'store unreachable (injected)'): void {
    this.downReason = reason;
    for (const q of this.open) q.fail(new StoreUnavailableError(reason));
  }

  up(): void {
    this.downReason = undefined;
  }

  /** The next n calls of this method fail (a list failing half way: failNext('list', 1) later on). */
  failNext(method: Method, n = 1): void {
    this.failures.set(method, (this.failures.get(method) ?? 0) + n);
  }

  /** Fails every open watch once (a dropped stream); the store itself stays up. */
  breakWatches(reason = 'watch stream dropped (injected)'): void {
    for (const q of this.open) q.fail(new StoreUnavailableError(reason));
  }

  private check(m: Method, kind?: string): void {
    this.calls.push(m);
    if (this.downReason !== undefined) throw new StoreUnavailableError(this.downReason);
    if (this.failWhen?.(m, kind)) throw new StoreUnavailableError(`${m} ${kind ?? ''} failed (injected)`);
    const n = this.failures.get(m) ?? 0;
    if (n > 0) {
      this.failures.set(m, n - 1);
      throw new StoreUnavailableError(`${m} failed (injected)`);
    }
  }

  async get<T = unknown>(key: ResourceKey): Promise<StoredObject<T> | undefined> {
    this.check('get');
    return this.inner.get<T>(key);
  }

  async list<T = unknown>(kind: string, namespace?: string): Promise<ListResult<T>> {
    this.check('list', kind);
    return this.inner.list<T>(kind, namespace);
  }

  async create<T>(key: ResourceKey, value: T): Promise<StoredObject<T>> {
    this.check('create');
    return this.inner.create(key, value);
  }

  async update<T>(key: ResourceKey, value: T, resourceVersion: string): Promise<StoredObject<T>> {
    this.check('update');
    return this.inner.update(key, value, resourceVersion);
  }

  async delete(key: ResourceKey, opts?: DeleteOptions): Promise<boolean> {
    this.check('delete');
    return this.inner.delete(key, opts);
  }

  watch(opts: WatchOptions): AsyncIterableIterator<WatchEvent> {
    const inner = new AbortController();
    const queue: EventQueue<WatchEvent> = new EventQueue<WatchEvent>(() => {
      this.open.delete(queue);
      inner.abort();
    }, opts.signal);
    try {
      this.check('watch', opts.kind);
    } catch (err) {
      queue.fail(err);
      return queue;
    }
    if (queue.closed) return queue; // signal already aborted
    this.open.add(queue);
    // Pump the inner watch into ours, so down() can fail ours while the inner one stays healthy.
    void (async () => {
      try {
        for await (const ev of this.inner.watch({ ...opts, signal: inner.signal })) queue.push(ev);
        queue.end();
      } catch (err) {
        queue.fail(err);
      }
    })();
    return queue;
  }

  async compact(revision: string): Promise<void> {
    this.check('compact');
    return this.inner.compact(revision);
  }

  async close(): Promise<void> {
    for (const q of this.open) q.end();
    await this.inner.close();
  }
}
