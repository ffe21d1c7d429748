// etcd v3 backend. Keys are /multinet/<kind>/<namespace>/<name>; an object's resourceVersion is its
// etcd mod revision, create-if-absent and compare-and-swap are single transactions (so a failed call
// never leaves a partial write), and watches are etcd watches from a revision.
import { Etcd3, type IKeyValue, type IWatchResponse, type Watcher } from 'etcd3';
import { EventQueue } from './event-queue.js';
import {
  AlreadyExistsError,
  ConflictError,
  GoneError,
  InvalidStoreInputError,
  NotFoundError,
  StoreError,
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

export interface EtcdStoreOptions {
  /** Per-call deadline in ms (default 5000). */
  readonly callTimeoutMs?: number;
  /** Key prefix (default "/multinet/"); tests use their own to share one etcd. */
  readonly prefix?: string;
  /**
   * connect() checks that etcd answers and fails if not (default true). The agent passes false:
   * it must start while etcd is down and retry on its own (calls fail until etcd answers).
   */
  readonly failFast?: boolean;
}

export class EtcdStore implements Store {
  readonly description: string;
  private readonly client: Etcd3;
  private readonly prefix: string;
  private readonly callTimeoutMs: number;
  private readonly watchers = new Set<EventQueue<WatchEvent>>();

  private constructor(
    readonly endpoints: readonly string[],
    opts: EtcdStoreOptions,
  ) {
    this.description = `etcd://${endpoints.join(',')}`;
    this.prefix = opts.prefix ?? '/multinet/';
    this.callTimeoutMs = opts.callTimeoutMs ?? 5000;
    this.client = new Etcd3({
      hosts: endpoints.map((e) => `http://${e}`),
      dialTimeout: this.callTimeoutMs,
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + this.callTimeoutMs }),
    });
  }

  /** Connects and checks that etcd answers (fails fast, naming the endpoints, if it does not). */
  static async connect(endpoints: readonly string[], opts: EtcdStoreOptions = {}): Promise<EtcdStore> {
    const store = new EtcdStore(endpoints, opts);
    if (opts.failFast === false) return store;
    try {
      await withTimeout(store.client.get(`${store.prefix}`).exec(), store.callTimeoutMs, store.description);
    } catch (err) {
      await store.close();
      throw store.unavailable(err);
    }
    return store;
  }

  private keyPath(k: ResourceKey): string {
    return `${this.prefix}${k.kind}/${k.namespace}/${k.name}`;
  }

  private parse(kv: IKeyValue): ResourceKey {
    const rest = kv.key.toString().slice(this.prefix.length);
    const [kind = '', namespace = '', ...name] = rest.split('/');
    return { kind, namespace, name: name.join('/') };
  }

  private toObject<T>(kv: IKeyValue, value: Buffer = kv.value): StoredObject<T> {
    return { ...this.parse(kv), value: JSON.parse(value.toString()) as T, resourceVersion: kv.mod_revision };
  }

  private unavailable(err: unknown): StoreError {
    if (err instanceof StoreError) return err;
    const msg = err instanceof Error ? err.message : String(err);
    return new StoreUnavailableError(`etcd at ${this.endpoints.join(',')} is unavailable: ${msg}`, err);
  }

  private async call<R>(p: () => Promise<R>): Promise<R> {
    try {
      return await withTimeout(p(), this.callTimeoutMs + 1000, this.description);
    } catch (err) {
      throw this.unavailable(err);
    }
  }

  async get<T>(key: ResourceKey): Promise<StoredObject<T> | undefined> {
    validateKey(key);
    const res = await this.call(() => this.client.get(this.keyPath(key)).exec());
    const kv = res.kvs[0];
    return kv ? this.toObject<T>(kv) : undefined;
  }

  async list<T>(kind: string, namespace?: string): Promise<ListResult<T>> {
    validateKind(kind);
    const p = namespace === undefined ? `${this.prefix}${kind}/` : `${this.prefix}${kind}/${namespace}/`;
    // One range request: the items and header.revision are one consistent snapshot.
    const res = await this.call(() => this.client.getAll().prefix(p).exec());
    return { items: res.kvs.map((kv) => this.toObject<T>(kv)), revision: res.header.revision };
  }

  async create<T>(key: ResourceKey, value: T): Promise<StoredObject<T>> {
    validateKey(key);
    const path = this.keyPath(key);
    const json = JSON.stringify(value);
    const res = await this.call(() =>
      this.client.if(path, 'Create', '==', 0).then(this.client.put(path).value(json)).commit(),
    );
    if (!res.succeeded) throw new AlreadyExistsError(key);
    return { ...key, value: JSON.parse(json) as T, resourceVersion: res.header.revision };
  }

  /**
   * Creates every entry if none of the keys exists, else writes nothing and returns the existing
   * ones: one transaction, one round trip (the IPAM's AtomicCreateStore capability).
   */
  async createAll(
    entries: readonly { key: ResourceKey; value: unknown }[],
  ): Promise<{ ok: true; objects: StoredObject[] } | { ok: false; existing: StoredObject[] }> {
    if (entries.length === 0) return { ok: true, objects: [] };
    const items = entries.map((e) => {
      validateKey(e.key);
      return { key: e.key, path: this.keyPath(e.key), json: JSON.stringify(e.value) };
    });
    if (new Set(items.map((it) => it.path)).size !== items.length) {
      throw new InvalidStoreInputError('createAll: the same key is given twice');
    }
    const [first, ...rest] = items;
    const res = await this.call(() => {
      let txn = this.client.if(first!.path, 'Create', '==', 0);
      for (const it of rest) txn = txn.and(it.path, 'Create', '==', 0);
      return txn
        .then(...items.map((it) => this.client.put(it.path).value(it.json)))
        .else(...items.map((it) => this.client.get(it.path)))
        .commit();
    });
    if (res.succeeded) {
      return {
        ok: true,
        objects: items.map((it) => ({
          ...it.key,
          value: JSON.parse(it.json) as unknown,
          resourceVersion: res.header.revision,
        })),
      };
    }
    const existing = res.responses.flatMap((r) => r.response_range.kvs.map((kv) => this.toObject(kv)));
    return { ok: false, existing };
  }

  async update<T>(key: ResourceKey, value: T, resourceVersion: string): Promise<StoredObject<T>> {
    validateKey(key);
    const path = this.keyPath(key);
    const json = JSON.stringify(value);
    const res = await this.call(() =>
      this.client
        .if(path, 'Mod', '==', resourceVersion)
        .then(this.client.put(path).value(json))
        .else(this.client.get(path))
        .commit(),
    );
    if (!res.succeeded) {
      const cur = res.responses[0]?.response_range.kvs[0];
      if (!cur) throw new NotFoundError(key);
      throw new ConflictError(key, resourceVersion, cur.mod_revision);
    }
    return { ...key, value: JSON.parse(json) as T, resourceVersion: res.header.revision };
  }

  async delete(key: ResourceKey, opts: DeleteOptions = {}): Promise<boolean> {
    validateKey(key);
    const path = this.keyPath(key);
    if (opts.resourceVersion === undefined) {
      const res = await this.call(() => this.client.delete().key(path).exec());
      return Number(res.deleted) > 0;
    }
    const rv = opts.resourceVersion;
    const res = await this.call(() =>
      this.client
        .if(path, 'Mod', '==', rv)
        .then(this.client.delete().key(path))
        .else(this.client.get(path))
        .commit(),
    );
    if (!res.succeeded) {
      const cur = res.responses[0]?.response_range.kvs[0];
      throw new ConflictError(key, rv, cur?.mod_revision);
    }
    return true;
  }

  watch(opts: WatchOptions): AsyncIterableIterator<WatchEvent> {
    if (opts.kind !== undefined) validateKind(opts.kind);
    const from = BigInt(opts.fromRevision);
    let watcher: Watcher | undefined;
    const queue: EventQueue<WatchEvent> = new EventQueue<WatchEvent>(() => {
      this.watchers.delete(queue);
      void watcher?.cancel().catch(() => undefined);
    }, opts.signal);
    this.watchers.add(queue);
    let last = from;
    const onData = (res: IWatchResponse): void => {
      for (const ev of res.events) {
        const rev = BigInt(ev.kv.mod_revision);
        if (rev <= last) continue; // replayed after a reconnect
        last = rev;
        if (ev.type === 'Delete') {
          if (!ev.prev_kv) continue;
          queue.push({
            type: 'DELETED',
            object: { ...this.toObject(ev.prev_kv), resourceVersion: ev.kv.mod_revision },
            revision: ev.kv.mod_revision,
          });
        } else {
          queue.push({
            type: ev.kv.version === '1' ? 'ADDED' : 'MODIFIED',
            object: this.toObject(ev.kv),
            revision: ev.kv.mod_revision,
          });
        }
      }
    };
    const start = async (): Promise<void> => {
      // etcd reports a compacted start revision by cancelling the watch; ask directly instead,
      // so the caller gets a typed GoneError.
      await this.checkNotCompacted(from);
      if (queue.closed) return;
      const p = opts.kind === undefined ? this.prefix : `${this.prefix}${opts.kind}/`;
      // watcher(), not create(): create() waits for 'connected' forever when etcd is down.
      const w = this.client
        .watch()
        .prefix(p)
        .startRevision(String(from + 1n))
        .withPreviousKV()
        .watcher();
      watcher = w;
      w.on('data', onData);
      // etcd3 would reconnect silently and resume; the caller could not tell a frozen watch from
      // a quiet one. Fail instead: the list-watch layer re-lists with backoff and reports it.
      w.on('disconnected', (err: Error) => queue.fail(this.unavailable(err)));
      w.on('error', (err) => {
        void this.checkNotCompacted(last).then(
          () => queue.fail(this.unavailable(err)),
          (gone) => queue.fail(gone),
        );
      });
      const connected = new Promise<void>((resolve) => w.once('connected', () => resolve()));
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), this.callTimeoutMs)));
      const ok = await Promise.race([connected.then(() => true), late]);
      clearTimeout(timer);
      if (!ok)
        queue.fail(this.unavailable(new Error(`watch not established within ${this.callTimeoutMs} ms`)));
    };
    start().catch((err) => queue.fail(this.unavailable(err)));
    return queue;
  }

  private async checkNotCompacted(rev: bigint): Promise<void> {
    if (rev <= 0n) return;
    try {
      await this.call(() => this.client.get(this.prefix).revision(String(rev)).exec());
    } catch (err) {
      const msg = String((err as { cause?: Error }).cause?.message ?? (err as Error).message);
      if (/compacted/.test(msg)) {
        throw new GoneError(String(rev), 'a later revision');
      }
      throw err;
    }
  }

  async compact(revision: string): Promise<void> {
    await this.call(() => this.client.kv.compact({ revision, physical: true }));
  }

  async close(): Promise<void> {
    for (const w of this.watchers) w.end();
    this.client.close();
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from ${what} within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
