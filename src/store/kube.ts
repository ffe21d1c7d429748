// The kubernetes:// backend: the Store over a Kubernetes API server (see DESIGN.md, "store", and
// kube-mapping.ts for where each kind lives). Users' objects (Pods, Networks, NADs, policies...) are
// read in their real API types and are read-only here; multinet's records are objects of its own
// cluster-scoped CRDs, one per store key: create is a plain POST (409 AlreadyExists = taken), update
// a PUT carrying metadata.resourceVersion (409 Conflict = moved), delete a DELETE with a
// resourceVersion precondition. resourceVersion is the object's metadata.resourceVersion, which
// kube-apiserver takes from etcd revisions: we compare them numerically (an assumption the API does
// not promise, true of every etcd-backed server). The API has no multi-object transaction, so there
// is no createAll: the IPAM uses its per-key path.
import { setMaxListeners } from 'node:events';
import { KubeApiError, KubeClient, defaultCredentials, type KubeCredentials } from './kube-client.js';
import {
  LABEL_KIND,
  LABEL_NAMESPACE,
  LABEL_SCOPE,
  KIND_RESOURCES,
  STORE_OBJECT,
  apiVersionOf,
  collectionPath,
  labelValue,
  objectName,
  objectPath,
  resourceId,
  resourceOf,
  PREFERRED_RESOURCES,
  type KubeResource,
} from './kube-mapping.js';
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

export interface KubeStoreOptions {
  /** Default: $KUBECONFIG, else in-cluster ServiceAccount, else ~/.kube/config. */
  readonly credentials?: KubeCredentials;
  /**
   * Label multinet.projectcalico.org/scope on our objects (default "default"): several stores
   * (tests) share one API server without seeing each other's records.
   */
  readonly scope?: string;
  /** Per-request deadline in ms (default 10000). */
  readonly callTimeoutMs?: number;
  /** Watch timeoutSeconds is drawn in [min, max] (default [300, 600], as client-go). */
  readonly watchTimeoutSeconds?: readonly [number, number];
  /** Items per list page (default 500; lists follow `continue` to the end). */
  readonly pageSize?: number;
  /** Check that the API server answers (default true); the agent passes false. */
  readonly failFast?: boolean;
  /** How often a watch of a resource the server does not serve looks again (default 30000 ms). */
  readonly unservedRecheckMs?: number;
  /**
   * compact() has no API call: tests may pass a hook compacting the server's etcd. Without it,
   * compact() refuses (the API server compacts its etcd itself, every 5 minutes by default).
   */
  readonly compact?: (revision: string) => Promise<void>;
}

type KubeObject = Record<string, unknown> & {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string> };
  spec?: { kind?: string; namespace?: string; name?: string; value?: unknown };
};

export class KubeStore implements Store {
  readonly description: string;
  private readonly client: KubeClient;
  private readonly scope: string;
  private readonly watchers = new Set<EventQueue<WatchEvent>>();
  private readonly served = new Map<string, { at: number; names: Set<string> | undefined }>();

  private constructor(private readonly opts: KubeStoreOptions) {
    const creds = opts.credentials ?? defaultCredentials();
    this.client = new KubeClient(creds, opts.callTimeoutMs ?? 10_000);
    this.scope = opts.scope ?? 'default';
    this.description = `kubernetes://${this.client.description.replace(/^https?:\/\//, '')} (${creds.source})`;
  }

  static async connect(opts: KubeStoreOptions = {}): Promise<KubeStore> {
    const s = new KubeStore(opts);
    if (opts.failFast === false) return s;
    try {
      await s.call(() => s.client.request({ method: 'GET', path: '/version' }));
    } catch (err) {
      await s.close();
      throw err;
    }
    return s;
  }

  // ---- mapping ------------------------------------------------------------------------------

  private ownName(r: KubeResource, key: ResourceKey): string {
    return objectName(this.scope, key.kind, key.namespace, key.name, r.generic === true);
  }

  private selector(r: KubeResource, kind: string, namespace?: string): string {
    if (!r.own) return '';
    const sel = [`${LABEL_SCOPE}=${labelValue(this.scope)}`];
    if (r.generic) sel.push(`${LABEL_KIND}=${labelValue(kind)}`);
    if (namespace !== undefined) sel.push(`${LABEL_NAMESPACE}=${labelValue(namespace)}`);
    return `labelSelector=${encodeURIComponent(sel.join(','))}`;
  }

  /** The store object of an API object, or undefined if it is not one of this store's keys. */
  private toStored<T>(
    r: KubeResource,
    kind: string | undefined,
    o: KubeObject,
    rv?: string,
  ): StoredObject<T> | undefined {
    const md = o.metadata ?? {};
    const resourceVersion = rv ?? md.resourceVersion ?? '0';
    if (!r.own) {
      const { managedFields: _m, ...metadata } = md as Record<string, unknown>;
      return {
        kind: kind ?? this.kindOf(r),
        namespace: md.namespace ?? '',
        name: md.name ?? '',
        value: { apiVersion: apiVersionOf(r), kind: r.apiKind, ...o, metadata } as T,
        resourceVersion,
      };
    }
    const spec = o.spec ?? {};
    if (md.labels?.[LABEL_SCOPE] !== labelValue(this.scope)) return undefined;
    const k = r.generic ? spec.kind : (kind ?? this.kindOf(r));
    if (typeof k !== 'string' || (kind !== undefined && k !== kind)) return undefined;
    if (typeof spec.namespace !== 'string' || typeof spec.name !== 'string') return undefined;
    return { kind: k, namespace: spec.namespace, name: spec.name, value: spec.value as T, resourceVersion };
  }

  /** The store kind of a (non-generic) resource. */
  private kindOf(r: KubeResource): string {
    for (const [kind, res] of Object.entries(KIND_RESOURCES)) if (res === r) return kind;
    return r.apiKind;
  }

  private body(r: KubeResource, key: ResourceKey, value: unknown, resourceVersion?: string): KubeObject {
    return {
      apiVersion: apiVersionOf(r),
      kind: r.apiKind,
      metadata: {
        name: this.ownName(r, key),
        labels: {
          [LABEL_SCOPE]: labelValue(this.scope),
          [LABEL_NAMESPACE]: labelValue(key.namespace),
          ...(r.generic ? { [LABEL_KIND]: labelValue(key.kind) } : {}),
        },
        ...(resourceVersion !== undefined ? { resourceVersion } : {}),
      },
      spec: {
        ...(r.generic ? { kind: key.kind } : {}),
        namespace: key.namespace,
        name: key.name,
        value,
      },
    };
  }

  private readOnly(key: ResourceKey, r: KubeResource): never {
    throw new InvalidStoreInputError(
      `${key.kind} is a user object (${resourceId(r)}), read-only in the kubernetes:// store: multinet never writes users' objects`,
    );
  }

  private userPath(r: KubeResource, key: ResourceKey): string | undefined {
    if (r.namespaced !== (key.namespace !== '')) return undefined;
    return objectPath(r, key.namespace, key.name);
  }

  // ---- calls ----------------------------------------------------------------------------------

  private unavailable(err: unknown): StoreError {
    if (err instanceof StoreError) return err;
    const msg = err instanceof Error ? err.message : String(err);
    return new StoreUnavailableError(
      `Kubernetes API at ${this.client.description} is unavailable: ${msg}`,
      err,
    );
  }

  private async call<R>(p: () => Promise<R>): Promise<R> {
    try {
      return await p();
    } catch (err) {
      if (err instanceof KubeApiError && (err.status === 422 || err.status === 400))
        throw new InvalidStoreInputError(err.message);
      if (err instanceof KubeApiError && (err.status === 401 || err.status === 403))
        throw new StoreUnavailableError(
          `Kubernetes API at ${this.client.description} refused the credentials (${this.client.creds.source}): ${err.message}`,
          err,
        );
      throw this.unavailable(err);
    }
  }

  private async req(req: Parameters<KubeClient['request']>[0]): Promise<KubeObject> {
    return this.call(() => this.client.request<KubeObject>(req));
  }

  private static status(err: unknown): number | undefined {
    const cause = err instanceof StoreError ? err.cause : err;
    return cause instanceof KubeApiError ? cause.status : undefined;
  }

  /** Whether the server serves r (discovery per group/version: positives kept, negatives 30 s). */
  private async isServed(r: KubeResource): Promise<boolean> {
    const gv = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
    const c = this.served.get(gv);
    if (c && (c.names?.has(r.plural) || Date.now() - c.at < 30_000)) return c.names?.has(r.plural) ?? false;
    let names: Set<string> | undefined;
    try {
      const d = await this.req({ method: 'GET', path: gv });
      names = new Set(((d.resources ?? []) as { name: string }[]).map((x) => x.name));
    } catch (err) {
      if (KubeStore.status(err) !== 404) throw err;
    }
    this.served.set(gv, { at: Date.now(), names });
    return names?.has(r.plural) ?? false;
  }

  /** The resource of a kind on this server (Calico's v3 API where it is served). */
  private async resolve(kind: string): Promise<KubeResource> {
    const alt = PREFERRED_RESOURCES[kind];
    if (alt && (await this.isServed(alt))) return alt;
    return resourceOf(kind);
  }

  // ---- Store --------------------------------------------------------------------------------

  async get<T>(key: ResourceKey): Promise<StoredObject<T> | undefined> {
    validateKey(key);
    const r = await this.resolve(key.kind);
    const path = r.own ? objectPath(r, '', this.ownName(r, key)) : this.userPath(r, key);
    if (path === undefined) return undefined;
    try {
      const o = await this.req({ method: 'GET', path });
      const s = this.toStored<T>(r, key.kind, o);
      return s && s.namespace === key.namespace && s.name === key.name ? s : undefined;
    } catch (err) {
      if (KubeStore.status(err) === 404) return undefined;
      throw err;
    }
  }

  async list<T>(kind: string, namespace?: string): Promise<ListResult<T>> {
    validateKind(kind);
    const r = await this.resolve(kind);
    if (!r.own && !(await this.isServed(r))) {
      // Not installed here (e.g. no Multus CRD): nothing of that kind, as of now.
      return { items: [], revision: (await this.list<T>('ListWatchProbe')).revision };
    }
    const base = r.own ? collectionPath(r) : collectionPath(r, namespace);
    if (!r.own && !r.namespaced && namespace !== undefined && namespace !== '') {
      return { items: [], revision: (await this.list<T>('ListWatchProbe')).revision };
    }
    for (let attempt = 0; ; attempt++) {
      const items: StoredObject<T>[] = [];
      let revision: string | undefined;
      let cont: string | undefined;
      try {
        do {
          const q = [
            this.selector(r, kind, namespace),
            `limit=${this.opts.pageSize ?? 500}`,
            cont ? `continue=${encodeURIComponent(cont)}` : '',
          ]
            .filter((x) => x !== '')
            .join('&');
          const page = await this.req({ method: 'GET', path: `${base}?${q}` });
          const md = (page.metadata ?? {}) as { resourceVersion?: string; continue?: string };
          revision ??= md.resourceVersion;
          for (const it of (page.items ?? []) as KubeObject[]) {
            const s = this.toStored<T>(r, kind, it);
            if (s && (namespace === undefined || s.namespace === namespace)) items.push(s);
          }
          cont = md.continue || undefined;
        } while (cont);
      } catch (err) {
        // A continue token expired (410) half way: list again from the start.
        if (KubeStore.status(err) === 410 && attempt < 3) continue;
        throw err;
      }
      return { items, revision: revision ?? '0' };
    }
  }

  async create<T>(key: ResourceKey, value: T): Promise<StoredObject<T>> {
    validateKey(key);
    const r = resourceOf(key.kind);
    if (!r.own) this.readOnly(key, r);
    try {
      const o = await this.req({ method: 'POST', path: collectionPath(r), body: this.body(r, key, value) });
      return this.toStored<T>(r, key.kind, o)!;
    } catch (err) {
      if (KubeStore.status(err) === 409) throw new AlreadyExistsError(key);
      throw err;
    }
  }

  async update<T>(key: ResourceKey, value: T, resourceVersion: string): Promise<StoredObject<T>> {
    validateKey(key);
    const r = resourceOf(key.kind);
    if (!r.own) this.readOnly(key, r);
    const path = objectPath(r, '', this.ownName(r, key));
    try {
      const o = await this.req({ method: 'PUT', path, body: this.body(r, key, value, resourceVersion) });
      return this.toStored<T>(r, key.kind, o)!;
    } catch (err) {
      const st = KubeStore.status(err);
      if (st === 404) throw new NotFoundError(key);
      if (st === 409) {
        const cur = await this.get(key);
        if (!cur) throw new NotFoundError(key);
        throw new ConflictError(key, resourceVersion, cur.resourceVersion);
      }
      throw err;
    }
  }

  async delete(key: ResourceKey, opts: DeleteOptions = {}): Promise<boolean> {
    validateKey(key);
    const r = resourceOf(key.kind);
    if (!r.own) this.readOnly(key, r);
    const rv = opts.resourceVersion;
    const path = objectPath(r, '', this.ownName(r, key));
    try {
      await this.req({
        method: 'DELETE',
        path,
        body: {
          apiVersion: 'v1',
          kind: 'DeleteOptions',
          ...(rv !== undefined ? { preconditions: { resourceVersion: rv } } : {}),
        },
      });
      return true;
    } catch (err) {
      const st = KubeStore.status(err);
      if (st === 404 && rv === undefined) return false;
      if (st === 404 || st === 409) {
        const cur = await this.get(key);
        throw new ConflictError(key, rv ?? '', cur?.resourceVersion);
      }
      throw err;
    }
  }

  watch(opts: WatchOptions): AsyncIterableIterator<WatchEvent> {
    if (opts.kind !== undefined) validateKind(opts.kind);
    const ac = new AbortController();
    setMaxListeners(0, ac.signal); // one listener per watched resource
    const queue: EventQueue<WatchEvent> = new EventQueue<WatchEvent>(() => {
      this.watchers.delete(queue);
      ac.abort();
    }, opts.signal);
    this.watchers.add(queue);
    // One watch per resource, merged: each stream is in order; across resources, in arrival order.
    // All kinds: every mapped kind, plus storeobjects for the rest (kind from spec.kind).
    const kinds =
      opts.kind !== undefined
        ? [opts.kind]
        : [...Object.keys(KIND_RESOURCES).filter((k) => !resourceOf(k).generic), undefined];
    for (const kind of kinds) {
      const watching = (kind === undefined ? Promise.resolve(STORE_OBJECT) : this.resolve(kind)).then((r) =>
        this.watchResource(r, kind, opts.fromRevision, queue, ac.signal),
      );
      watching.catch((err: unknown) => {
        if (!ac.signal.aborted) queue.fail(err instanceof StoreError ? err : this.unavailable(err));
      });
    }
    return queue;
  }

  private async watchResource(
    r: KubeResource,
    kind: string | undefined,
    from: string,
    queue: EventQueue<WatchEvent>,
    signal: AbortSignal,
  ): Promise<void> {
    if (!r.own && !(await this.isServed(r))) {
      // Nothing to watch until it is installed; then fail, so the list-watch layer lists it.
      const every = this.opts.unservedRecheckMs ?? 30_000;
      for (;;) {
        await new Promise<void>((res) => {
          const t = setTimeout(res, every);
          signal.addEventListener('abort', () => (clearTimeout(t), res()), { once: true });
        });
        if (signal.aborted) return;
        this.served.delete(r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`);
        if (await this.isServed(r))
          throw new StoreUnavailableError(`${resourceId(r)} is served now: list it again`);
      }
    }
    const [min, max] = this.opts.watchTimeoutSeconds ?? [300, 600];
    let rv = from;
    const filterKind = r.generic ? kind : undefined;
    let refused = 0;
    while (!signal.aborted) {
      const timeout = Math.round(min + Math.random() * (max - min));
      const q = [
        'watch=1',
        `resourceVersion=${encodeURIComponent(rv)}`,
        'allowWatchBookmarks=true',
        `timeoutSeconds=${timeout}`,
        r.own ? this.watchSelector(r, filterKind) : '',
      ].filter((x) => x !== '');
      try {
        for await (const line of this.client.watch(`${collectionPath(r)}?${q.join('&')}`, signal)) {
          refused = 0;
          const obj = line.object as KubeObject;
          if (line.type === 'BOOKMARK') {
            rv = obj.metadata?.resourceVersion ?? rv;
            continue;
          }
          if (line.type === 'ERROR') {
            const st = obj as { code?: number; message?: string; reason?: string };
            if (st.code === 410)
              throw new GoneError(
                rv,
                'a later revision (the API server says: ' + (st.message ?? 'Gone') + ')',
              );
            throw new StoreUnavailableError(
              `watch ${resourceId(r)}: ${st.code ?? '?'} ${st.reason ?? ''}: ${st.message ?? JSON.stringify(obj)}`,
            );
          }
          const evRv = obj.metadata?.resourceVersion;
          if (evRv === undefined) continue;
          if (BigInt(evRv) <= BigInt(rv)) continue; // replayed after a re-watch
          rv = evRv;
          const s = this.toStored(r, kind, obj);
          if (!s) continue;
          queue.push({ type: line.type, object: s, revision: evRv });
        }
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof StoreError) throw err;
        if (err instanceof KubeApiError && err.status === 410) throw new GoneError(rv, 'a later revision');
        // 429 before the stream starts (a CRD's watch cache still initializing, e.g. just after an
        // API server restart): not processed, so retried after Retry-After, as requests are.
        if (err instanceof KubeApiError && err.status === 429 && ++refused < 10) {
          const ms = Math.min(2, Math.max(0.1, err.retryAfter ?? 1)) * 1000;
          await new Promise<void>((res) => {
            const t = setTimeout(res, ms);
            signal.addEventListener('abort', () => (clearTimeout(t), res()), { once: true });
          });
          continue;
        }
        throw this.unavailable(err);
      }
      // The server ended the watch (timeoutSeconds): resume from the last event or bookmark.
    }
  }

  private watchSelector(r: KubeResource, kind: string | undefined): string {
    const sel = [`${LABEL_SCOPE}=${labelValue(this.scope)}`];
    if (r.generic && kind !== undefined) sel.push(`${LABEL_KIND}=${labelValue(kind)}`);
    return `labelSelector=${encodeURIComponent(sel.join(','))}`;
  }

  async compact(revision: string): Promise<void> {
    if (!this.opts.compact)
      throw new InvalidStoreInputError(
        'compact: the Kubernetes API has no compaction call (kube-apiserver compacts its etcd itself)',
      );
    await this.opts.compact(revision);
  }

  async close(): Promise<void> {
    for (const w of this.watchers) w.end();
    this.client.close();
  }
}
