// A small fake of kube-apiserver on loopback (node:http), for the kubernetes:// store's tests when
// the real binaries are absent: discovery, list (labelSelector equality, limit/continue), get,
// create, update (resourceVersion precondition), delete (preconditions), and watch (from a
// resourceVersion, with bookmarks, timeoutSeconds, and an in-stream 410 Expired for history it no
// longer has). Resource versions are one global counter, as etcd revisions are.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { allResources, resourceId, type KubeResource } from './kube-mapping.js';

type Obj = Record<string, unknown> & {
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion: string;
    uid?: string;
    labels?: Record<string, string>;
  };
};
interface HistoryEntry {
  readonly rv: number;
  readonly res: string;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: Obj;
}

export interface FakeKubeOptions {
  /** Bookmark period on watches (default 200 ms). */
  readonly bookmarkMs?: number;
  /** Resources served (default: every mapped resource but the Calico and NAD CRDs). */
  readonly resources?: readonly KubeResource[];
  /** Serve HTTPS with this certificate, and require a client certificate signed by clientCa. */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer; readonly clientCa: Buffer };
}

export class FakeKubeApiServer {
  private server: Server | undefined;
  private rv = 100;
  /** History before this revision is gone (watches from before it get 410). */
  private oldest = 100;
  private readonly objects = new Map<string, Obj>(); // res|ns|name
  private history: HistoryEntry[] = [];
  private readonly watchers = new Set<{
    res: string;
    ns?: string;
    sel: [string, string][];
    send: (e: HistoryEntry) => void;
    res_: ServerResponse;
  }>();
  private readonly resources: Map<string, { r: KubeResource; id: string }> = new Map();
  /** Requests seen (method path), for tests. */
  readonly requests: string[] = [];
  url = '';

  constructor(private readonly opts: FakeKubeOptions = {}) {
    const rs =
      opts.resources ??
      allResources().filter((r) => r.group !== 'crd.projectcalico.org' && r.group !== 'k8s.cni.cncf.io');
    for (const r of rs) this.resources.set(`${r.group}/${r.version}/${r.plural}`, { r, id: resourceId(r) });
  }

  async start(): Promise<string> {
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      this.handle(req, res).catch((err: unknown) =>
        this.send(res, 500, status(500, 'InternalError', String(err))),
      );
    };
    const tls = this.opts.tls;
    this.server = tls
      ? createHttpsServer(
          { cert: tls.cert, key: tls.key, ca: tls.clientCa, requestCert: true, rejectUnauthorized: true },
          handler,
        )
      : createServer(handler);
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `${tls ? 'https' : 'http'}://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    this.dropWatches();
    await new Promise<void>((r) => this.server?.close(() => r()) ?? r());
    this.server?.closeAllConnections();
  }

  /** Forgets history up to and including rev (watches from before get 410). */
  compact(rev: string): void {
    this.oldest = Number(rev) + 1;
    this.history = this.history.filter((h) => h.rv >= this.oldest);
  }

  /** Cuts every open watch connection (a network failure, not a clean end). */
  dropWatches(): void {
    for (const w of this.watchers) w.res_.destroy();
    this.watchers.clear();
  }

  /**
   * Ends every watch cleanly after forgetting all history, even the current revision's: the
   * store's re-watch gets 410 Expired (as after a long disconnection from a real server).
   */
  expireWatches(): void {
    this.oldest = this.rv + 2;
    this.history = [];
    for (const w of this.watchers) w.res_.end();
    this.watchers.clear();
  }

  get revision(): string {
    return String(this.rv);
  }

  private send(res: ServerResponse, code: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', 'http://x');
    this.requests.push(`${req.method} ${u.pathname}`);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = chunks.length
      ? (JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>)
      : undefined;
    if (u.pathname === '/version') return this.send(res, 200, { major: '1', minor: '0', gitVersion: 'fake' });
    // Discovery.
    const disc = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))$/.exec(u.pathname);
    if (disc) {
      const gv = disc[1] ? `/${disc[1]}` : `${disc[2]}/${disc[3]}`;
      const names = [...this.resources.keys()]
        .filter((k) => k.startsWith(`${gv}/`))
        .map((k) => k.slice(gv.length + 1));
      if (names.length === 0)
        return this.send(
          res,
          404,
          status(404, 'NotFound', 'the server could not find the requested resource'),
        );
      return this.send(res, 200, { kind: 'APIResourceList', resources: names.map((name) => ({ name })) });
    }
    const m =
      /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?$/.exec(
        u.pathname,
      );
    const key = m ? `${m[1] ? '' : m[2]}/${m[1] ?? m[3]}/${m[5]}` : '';
    const found = this.resources.get(key);
    if (!m || !found) return this.send(res, 404, status(404, 'NotFound', `no resource ${u.pathname}`));
    const { r } = found;
    const ns = m[4] ? decodeURIComponent(m[4]) : undefined;
    const name = m[6] ? decodeURIComponent(m[6]) : undefined;
    const okey = (n: string, namespace = ns) => `${key}|${namespace ?? ''}|${n}`;
    const sel = parseSelector(u.searchParams.get('labelSelector') ?? '');
    if (req.method === 'GET' && name === undefined && u.searchParams.get('watch') === '1')
      return this.watch(res, key, ns, sel, u.searchParams);
    if (req.method === 'GET' && name === undefined) {
      const all = [...this.objects.entries()]
        .filter(
          ([k, o]) =>
            k.startsWith(`${key}|`) && (ns === undefined || o.metadata.namespace === ns) && matches(o, sel),
        )
        .map(([, o]) => o);
      const limit = Number(u.searchParams.get('limit') ?? '0');
      const start = Number(u.searchParams.get('continue') ?? '0');
      const page = limit > 0 ? all.slice(start, start + limit) : all;
      const next = limit > 0 && start + limit < all.length ? String(start + limit) : undefined;
      return this.send(res, 200, {
        kind: `${r.apiKind}List`,
        metadata: { resourceVersion: String(this.rv), ...(next ? { continue: next } : {}) },
        items: page,
      });
    }
    if (name === undefined && req.method !== 'POST')
      return this.send(res, 405, status(405, 'MethodNotAllowed', ''));
    if (req.method === 'GET') {
      const o = this.objects.get(okey(name!));
      return o
        ? this.send(res, 200, o)
        : this.send(res, 404, status(404, 'NotFound', `${r.plural} "${name}" not found`));
    }
    if (req.method === 'POST') {
      const o = body as Obj;
      const k = okey(o.metadata.name, o.metadata.namespace ?? ns);
      if (this.objects.has(k))
        return this.send(
          res,
          409,
          status(409, 'AlreadyExists', `${r.plural} "${o.metadata.name}" already exists`),
        );
      const stored = this.write(key, k, 'ADDED', {
        ...o,
        metadata: {
          ...o.metadata,
          ...(r.namespaced ? { namespace: o.metadata.namespace ?? ns } : {}),
          uid: randomUUID(),
        },
      });
      return this.send(res, 201, stored);
    }
    const k = okey(name!);
    const cur = this.objects.get(k);
    if (req.method === 'PUT') {
      if (!cur) return this.send(res, 404, status(404, 'NotFound', `${r.plural} "${name}" not found`));
      const o = body as Obj;
      if (o.metadata.resourceVersion !== cur.metadata.resourceVersion)
        return this.send(
          res,
          409,
          status(
            409,
            'Conflict',
            'the object has been modified; please apply your changes to the latest version and try again',
          ),
        );
      if (JSON.stringify({ ...o, metadata: undefined }) === JSON.stringify({ ...cur, metadata: undefined }))
        return this.send(res, 200, cur); // a no-op update writes nothing, as the real server
      return this.send(
        res,
        200,
        this.write(key, k, 'MODIFIED', { ...o, metadata: { ...cur.metadata, labels: o.metadata.labels } }),
      );
    }
    if (req.method === 'DELETE') {
      if (!cur) return this.send(res, 404, status(404, 'NotFound', `${r.plural} "${name}" not found`));
      const pre = (body?.preconditions as { resourceVersion?: string } | undefined)?.resourceVersion;
      if (pre !== undefined && pre !== cur.metadata.resourceVersion)
        return this.send(res, 409, status(409, 'Conflict', 'Precondition failed: ResourceVersion'));
      this.objects.delete(k);
      const rv = ++this.rv;
      const last = { ...cur, metadata: { ...cur.metadata, resourceVersion: String(rv) } };
      this.publish({ rv, res: key, type: 'DELETED', object: last });
      return this.send(res, 200, last);
    }
    return this.send(res, 405, status(405, 'MethodNotAllowed', ''));
  }

  private write(res: string, k: string, type: 'ADDED' | 'MODIFIED', o: Obj): Obj {
    const rv = ++this.rv;
    const stored = { ...o, metadata: { ...o.metadata, resourceVersion: String(rv) } } as Obj;
    this.objects.set(k, stored);
    this.publish({ rv, res, type, object: stored });
    return stored;
  }

  private publish(e: HistoryEntry): void {
    this.history.push(e);
    for (const w of this.watchers) if (w.res === e.res) w.send(e);
  }

  private watch(
    res: ServerResponse,
    key: string,
    ns: string | undefined,
    sel: [string, string][],
    q: URLSearchParams,
  ): void {
    const from = Number(q.get('resourceVersion') ?? String(this.rv));
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    const line = (o: unknown) => res.write(`${JSON.stringify(o)}\n`);
    if (from + 1 < this.oldest) {
      line({
        type: 'ERROR',
        object: status(410, 'Expired', `too old resource version: ${from} (${this.oldest - 1})`),
      });
      res.end();
      return;
    }
    const fits = (e: HistoryEntry) =>
      e.res === key &&
      e.rv > from &&
      (ns === undefined || e.object.metadata.namespace === ns) &&
      matches(e.object, sel);
    const w = {
      res: key,
      ns,
      sel,
      res_: res,
      send: (e: HistoryEntry) => {
        if (fits(e)) line({ type: e.type, object: e.object });
      },
    };
    for (const e of this.history) if (fits(e)) line({ type: e.type, object: e.object });
    this.watchers.add(w);
    const bookmarks =
      q.get('allowWatchBookmarks') === 'true'
        ? setInterval(
            () =>
              line({
                type: 'BOOKMARK',
                object: { kind: 'Bookmark', metadata: { resourceVersion: String(this.rv) } },
              }),
            this.opts.bookmarkMs ?? 200,
          )
        : undefined;
    const secs = Number(q.get('timeoutSeconds') ?? '0');
    const end = secs > 0 ? setTimeout(() => res.end(), secs * 1000) : undefined;
    res.once('close', () => {
      clearInterval(bookmarks);
      clearTimeout(end);
      this.watchers.delete(w);
    });
  }
}

/** Equality selectors only (a=b,c=d): all this store sends. */
function parseSelector(s: string): [string, string][] {
  return s === ''
    ? []
    : s.split(',').map((p) => {
        const i = p.indexOf('=');
        return [p.slice(0, i), p.slice(i + 1)] as [string, string];
      });
}

function matches(o: Obj, sel: [string, string][]): boolean {
  return sel.every(([k, v]) => (o.metadata.labels?.[k] ?? '') === v);
}

function status(code: number, reason: string, message: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message };
}
