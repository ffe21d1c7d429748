// A thin Kubernetes API client over node:https (and node:http for loopback test servers): JSON
// requests and newline-delimited watch streams. Credentials come from a kubeconfig ($KUBECONFIG or
// ~/.kube/config: CA, client certificate and key, or a bearer token) or from the in-cluster
// ServiceAccount. @kubernetes/client-node 2.x crashes on Node 20, and Node's global fetch cannot
// present a client certificate without the undici package: hence this.
import { existsSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { homedir } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';

export interface KubeCredentials {
  /** https://host:port (or http:// for a loopback test server). */
  readonly server: string;
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly token?: string;
  /** Re-read on every request (ServiceAccount tokens are rotated). */
  readonly tokenFile?: string;
  readonly insecureSkipTlsVerify?: boolean;
  /** Where these came from, for messages (a path or "in-cluster"; never a secret). */
  readonly source: string;
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

type Named<T> = { name?: string } & T;
interface KubeconfigFile {
  'current-context'?: string;
  clusters?: Named<{ cluster?: Record<string, unknown> }>[];
  users?: Named<{ user?: Record<string, unknown> }>[];
  contexts?: Named<{ context?: { cluster?: string; user?: string } }>[];
}

/** Credentials from a kubeconfig file (its current context, or `context`). */
export function credentialsFromKubeconfig(path: string, context?: string): KubeCredentials {
  const doc = parseYaml(readFileSync(path, 'utf8')) as KubeconfigFile | null;
  const where = `kubeconfig ${path}`;
  if (!doc || typeof doc !== 'object') throw new Error(`${where}: not a YAML mapping`);
  const ctxName = context ?? doc['current-context'];
  const ctx = doc.contexts?.find((c) => c.name === ctxName)?.context;
  if (!ctx) throw new Error(`${where}: context ${JSON.stringify(ctxName)} not found`);
  const cluster = doc.clusters?.find((c) => c.name === ctx.cluster)?.cluster;
  if (!cluster) throw new Error(`${where}: cluster ${JSON.stringify(ctx.cluster)} not found`);
  const user = doc.users?.find((u) => u.name === ctx.user)?.user ?? {};
  const base = dirname(path);
  const str = (o: Record<string, unknown>, k: string): string | undefined =>
    typeof o[k] === 'string' ? o[k] : undefined;
  const data = (o: Record<string, unknown>, k: string): Buffer | undefined => {
    const inline = str(o, `${k}-data`);
    if (inline !== undefined) return Buffer.from(inline, 'base64');
    const file = str(o, k);
    return file === undefined ? undefined : readFileSync(isAbsolute(file) ? file : resolve(base, file));
  };
  const server = str(cluster, 'server');
  if (!server) throw new Error(`${where}: cluster ${JSON.stringify(ctx.cluster)} has no server`);
  if (user.exec !== undefined || user['auth-provider'] !== undefined)
    throw new Error(
      `${where}: user ${JSON.stringify(ctx.user)}: exec/auth-provider credentials are not supported`,
    );
  const tokenFile = str(user, 'tokenFile');
  return {
    server: server.replace(/\/+$/, ''),
    ca: data(cluster, 'certificate-authority'),
    cert: data(user, 'client-certificate'),
    key: data(user, 'client-key'),
    token: str(user, 'token'),
    tokenFile: tokenFile && (isAbsolute(tokenFile) ? tokenFile : resolve(base, tokenFile)),
    insecureSkipTlsVerify: cluster['insecure-skip-tls-verify'] === true,
    source: where,
  };
}

/** In-cluster ServiceAccount credentials, or undefined outside a pod. */
export function inClusterCredentials(env = process.env, dir = SA_DIR): KubeCredentials | undefined {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) return undefined;
  const h = host.includes(':') ? `[${host}]` : host;
  return {
    server: `https://${h}:${port}`,
    ca: readFileSync(`${dir}/ca.crt`),
    tokenFile: `${dir}/token`,
    source: 'in-cluster ServiceAccount',
  };
}

/** $KUBECONFIG's first file, else ~/.kube/config. */
export function defaultKubeconfigPath(env = process.env): string {
  return env.KUBECONFIG?.split(':').find((p) => p !== '') ?? resolve(homedir(), '.kube', 'config');
}

/** $KUBECONFIG (its first file), else in-cluster credentials, else ~/.kube/config. */
export function defaultCredentials(env = process.env): KubeCredentials {
  const kc = env.KUBECONFIG?.split(':').find((p) => p !== '');
  if (kc) return credentialsFromKubeconfig(kc);
  const inCluster = inClusterCredentials(env);
  if (inCluster) return inCluster;
  const home = resolve(homedir(), '.kube', 'config');
  if (!existsSync(home))
    throw new Error(
      `no Kubernetes credentials: $KUBECONFIG is unset, KUBERNETES_SERVICE_HOST/PORT are unset (not in a pod), and ${home} does not exist`,
    );
  return credentialsFromKubeconfig(home);
}

/** A non-2xx answer: the HTTP status and the API's Status object (reason, message) if any. */
export class KubeApiError extends Error {
  /** Seconds, from a Retry-After header. */
  retryAfter: number | undefined;
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }
}

export interface KubeRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  /** Path with query string, e.g. /api/v1/namespaces?limit=500 */
  readonly path: string;
  readonly body?: unknown;
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
  /** Default application/json; a PATCH says which patch (e.g. application/merge-patch+json). */
  readonly contentType?: string;
}

export interface WatchLine {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  readonly object: Record<string, unknown>;
}

export class KubeClient {
  private readonly agent: http.Agent;
  private readonly mod: typeof http | typeof https;
  private readonly url: URL;

  constructor(
    readonly creds: KubeCredentials,
    private readonly defaultTimeoutMs = 10_000,
  ) {
    this.url = new URL(creds.server);
    const tls = this.url.protocol === 'https:';
    this.mod = tls ? https : http;
    this.agent = tls
      ? new https.Agent({
          keepAlive: true,
          maxSockets: 32,
          ca: creds.ca,
          cert: creds.cert,
          key: creds.key,
          rejectUnauthorized: !creds.insecureSkipTlsVerify,
        })
      : new http.Agent({ keepAlive: true, maxSockets: 32 });
  }

  get description(): string {
    return this.url.origin;
  }

  private headers(body: string | undefined, contentType = 'application/json'): http.OutgoingHttpHeaders {
    const h: http.OutgoingHttpHeaders = { Accept: 'application/json' };
    const token = this.creds.tokenFile ? readFileSync(this.creds.tokenFile, 'utf8').trim() : this.creds.token;
    if (token) h.Authorization = `Bearer ${token}`;
    if (body !== undefined) {
      h['Content-Type'] = contentType;
      h['Content-Length'] = Buffer.byteLength(body);
    }
    return h;
  }

  private open(req: KubeRequest, stream: boolean): Promise<http.IncomingMessage> {
    const body = req.body === undefined ? undefined : JSON.stringify(req.body);
    return new Promise((resolvePromise, reject) => {
      const r = this.mod.request(
        {
          protocol: this.url.protocol,
          hostname: this.url.hostname.replace(/^\[|\]$/g, ''),
          port: this.url.port,
          method: req.method,
          path: req.path,
          agent: this.agent,
          headers: this.headers(body, req.contentType),
          signal: req.signal,
        },
        resolvePromise,
      );
      const ms = req.timeoutMs ?? this.defaultTimeoutMs;
      // A watch is long-lived: its deadline is only for the response headers.
      const timer = setTimeout(
        () => r.destroy(new Error(`no answer from ${this.description} within ${ms} ms`)),
        ms,
      );
      r.once('response', (res) => {
        if (stream) clearTimeout(timer);
        else res.once('end', () => clearTimeout(timer)).once('close', () => clearTimeout(timer));
      });
      r.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      r.end(body);
    });
  }

  /**
   * One JSON request; throws KubeApiError on a non-2xx answer. 429 TooManyRequests (the server
   * did not process the request: API priority and fairness, or a resource whose storage is still
   * initializing) is retried after its Retry-After (at most 2 s, 10 times), as client-go does.
   */
  async request<T = Record<string, unknown>>(req: KubeRequest): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.requestOnce<T>(req);
      } catch (err) {
        if (!(err instanceof KubeApiError) || err.status !== 429 || attempt >= 10 || req.signal?.aborted)
          throw err;
        await new Promise((r) => setTimeout(r, Math.min(2, Math.max(0.1, err.retryAfter ?? 1)) * 1000));
      }
    }
  }

  private async requestOnce<T>(req: KubeRequest): Promise<T> {
    const res = await this.open(req, false);
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const status = res.statusCode ?? 0;
    let json: unknown;
    try {
      json = text === '' ? {} : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (status < 200 || status >= 300) {
      const e = apiError(status, json, text, `${req.method} ${req.path}`);
      const ra = Number(res.headers['retry-after']);
      if (Number.isFinite(ra)) e.retryAfter = ra;
      throw e;
    }
    if (json === undefined) throw new Error(`${req.method} ${req.path}: answer is not JSON`);
    return json as T;
  }

  /** One request whose answer is text (e.g. /readyz); throws KubeApiError on a non-2xx answer. */
  async text(req: KubeRequest): Promise<string> {
    const res = await this.open(req, false);
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) throw apiError(status, undefined, text, `${req.method} ${req.path}`);
    return text;
  }

  /**
   * A watch stream: yields each line's event until the server ends it (or the signal aborts).
   * A 429 before the stream starts (a resource whose watch cache is (re)initializing) is retried
   * after its Retry-After, as request() does.
   */
  async *watch(path: string, signal?: AbortSignal): AsyncGenerator<WatchLine, void, undefined> {
    let res: http.IncomingMessage;
    for (let attempt = 1; ; attempt++) {
      res = await this.open({ method: 'GET', path, signal }, true);
      const status = res.statusCode ?? 0;
      if (status === 200) break;
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      const text = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      const e = apiError(status, json, text, `watch ${path}`);
      const ra = Number(res.headers['retry-after']);
      if (Number.isFinite(ra)) e.retryAfter = ra;
      throw e;
    }
    let buf = '';
    try {
      for await (const chunk of res) {
        buf += (chunk as Buffer).toString('utf8');
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (line !== '') yield JSON.parse(line) as WatchLine;
        }
      }
    } finally {
      res.destroy();
    }
    if (buf.trim() !== '') yield JSON.parse(buf) as WatchLine;
  }

  close(): void {
    this.agent.destroy();
  }
}

function apiError(status: number, json: unknown, text: string, what: string): KubeApiError {
  const st = (typeof json === 'object' && json !== null ? json : {}) as {
    reason?: unknown;
    message?: unknown;
  };
  const reason = typeof st.reason === 'string' ? st.reason : '';
  const msg = typeof st.message === 'string' ? st.message : text.slice(0, 300);
  return new KubeApiError(status, reason, `${what}: ${status} ${reason}: ${msg}`.trim());
}
