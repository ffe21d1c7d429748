// In-memory store for tests: same semantics as the real backends, including bounded history.
import { EventQueue } from './event-queue.js';
import {
  AlreadyExistsError,
  ConflictError,
  GoneError,
  NotFoundError,
  StoreUnavailableError,
  validateKey,
  validateKind,
  type DeleteOptions,
  type ListResult,
  type ResourceKey,
  type Store,
  type StoredObject,
  type WatchEvent,
  type WatchOptions,
} from './types.js';

export interface MemoryStoreOptions {
  /** Events kept for watches; older ones are compacted automatically (default 10000). */
  readonly historyLimit?: number;
}

const keyOf = (k: ResourceKey): string => `${k.kind}/${k.namespace}/${k.name}`;

export class MemoryStore implements Store {
  readonly description = 'memory://';
  private readonly objects = new Map<string, StoredObject>();
  private readonly history: WatchEvent[] = [];
  private readonly watchers = new Set<{ kind?: string; queue: EventQueue<WatchEvent> }>();
  private revision = 0;
  /** History at or below this revision is gone. */
  private compacted = 0;
  private closed = false;
  private readonly historyLimit: number;

  constructor(opts: MemoryStoreOptions = {}) {
    this.historyLimit = opts.historyLimit ?? 10_000;
  }

  private check(): void {
    if (this.closed) throw new StoreUnavailableError('memory store is closed');
  }

  async get<T>(key: ResourceKey): Promise<StoredObject<T> | undefined> {
    this.check();
    validateKey(key);
    return this.objects.get(keyOf(key)) as StoredObject<T> | undefined;
  }

  async list<T>(kind: string, namespace?: string): Promise<ListResult<T>> {
    this.check();
    validateKind(kind);
    const items = [...this.objects.values()]
      .filter((o) => o.kind === kind && (namespace === undefined || o.namespace === namespace))
      .sort((a, b) => (a.namespace === b.namespace ? cmp(a.name, b.name) : cmp(a.namespace, b.namespace)));
    return { items: items as StoredObject<T>[], revision: String(this.revision) };
  }

  async create<T>(key: ResourceKey, value: T): Promise<StoredObject<T>> {
    this.check();
    validateKey(key);
    if (this.objects.has(keyOf(key))) throw new AlreadyExistsError(key);
    return this.write(key, value, 'ADDED');
  }

  async update<T>(key: ResourceKey, value: T, resourceVersion: string): Promise<StoredObject<T>> {
    this.check();
    validateKey(key);
    const cur = this.objects.get(keyOf(key));
    if (!cur) throw new NotFoundError(key);
    if (cur.resourceVersion !== resourceVersion)
      throw new ConflictError(key, resourceVersion, cur.resourceVersion);
    return this.write(key, value, 'MODIFIED');
  }

  async delete(key: ResourceKey, opts: DeleteOptions = {}): Promise<boolean> {
    this.check();
    validateKey(key);
    const cur = this.objects.get(keyOf(key));
    if (!cur) {
      if (opts.resourceVersion !== undefined) throw new ConflictError(key, opts.resourceVersion, undefined);
      return false;
    }
    if (opts.resourceVersion !== undefined && cur.resourceVersion !== opts.resourceVersion) {
      throw new ConflictError(key, opts.resourceVersion, cur.resourceVersion);
    }
    this.objects.delete(keyOf(key));
    // Like Kubernetes, a deletion event carries the deletion's revision as the resourceVersion.
    const revision = String(++this.revision);
    this.emit({ type: 'DELETED', object: { ...cur, resourceVersion: revision }, revision });
    return true;
  }

  private write<T>(key: ResourceKey, value: T, type: 'ADDED' | 'MODIFIED'): StoredObject<T> {
    // Round-trip through JSON so callers cannot mutate stored state and values are JSON like elsewhere.
    const copy = JSON.parse(JSON.stringify(value)) as T;
    const obj: StoredObject<T> = {
      kind: key.kind,
      namespace: key.namespace,
      name: key.name,
      value: copy,
      resourceVersion: String(++this.revision),
    };
    this.objects.set(keyOf(key), obj);
    this.emit({ type, object: obj, revision: obj.resourceVersion });
    return obj;
  }

  private emit(ev: WatchEvent): void {
    this.history.push(ev);
    if (this.history.length > this.historyLimit) {
      const dropped = this.history.splice(0, this.history.length - this.historyLimit);
      this.compacted = Math.max(this.compacted, Number(dropped[dropped.length - 1]!.revision));
    }
    for (const w of this.watchers) if (!w.kind || w.kind === ev.object.kind) w.queue.push(ev);
  }

  watch(opts: WatchOptions): AsyncIterableIterator<WatchEvent> {
    this.check();
    if (opts.kind !== undefined) validateKind(opts.kind);
    const from = Number(opts.fromRevision);
    const entry = { kind: opts.kind, queue: undefined as unknown as EventQueue<WatchEvent> };
    const queue = new EventQueue<WatchEvent>(() => this.watchers.delete(entry), opts.signal);
    entry.queue = queue;
    if (from < this.compacted) {
      queue.fail(new GoneError(opts.fromRevision, String(this.compacted)));
      return queue;
    }
    for (const ev of this.history) {
      if (Number(ev.revision) > from && (!opts.kind || opts.kind === ev.object.kind)) queue.push(ev);
    }
    if (!queue.closed) this.watchers.add(entry);
    return queue;
  }

  async compact(revision: string): Promise<void> {
    this.check();
    const rev = Number(revision);
    while (this.history.length && Number(this.history[0]!.revision) <= rev) this.history.shift();
    this.compacted = Math.max(this.compacted, rev);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.watchers) w.queue.end();
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
