// The agent's CNI socket: accepts one request per connection from the plugin, hands it to a
// CniHandler (the agent core), writes back one answer. Root only (mode 0600); a stale socket file
// left by a crashed agent is replaced, a live one is never stolen.
import { mkdirSync, chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { isShimRequest, runShim, writeShimAnswer, type ShimRequest } from './cni-shim-server.js';
import { CniError, ErrorCode } from '../cni/spec.js';
import type { Logger } from '../util/log.js';
import {
  ACK,
  MAX_MESSAGE_BYTES,
  encodeMessage,
  requestProblem,
  type CniRequest,
  type CniResponse,
  type CniResult100,
} from './cni-protocol.js';

/** How long an ADD result waits for the plugin's ack before it is undone. */
export const ACK_TIMEOUT_MS = 10_000;

export interface CniCallContext {
  /** Aborted when the plugin hung up (timeout, killed) before the answer was written. */
  readonly signal: AbortSignal;
}

/**
 * What the agent does per CNI command. Throw a CniError to send that spec error to the runtime;
 * any other error is reported as code 100 with its message.
 */
export interface CniHandler {
  /** Attach; returns this attachment's result only (the plugin merges any prevResult). */
  add(req: CniRequest, ctx: CniCallContext): Promise<CniResult100>;
  /** Detach; idempotent (missing netns, link or allocation is success). */
  del(req: CniRequest, ctx: CniCallContext): Promise<void>;
  /** Verify the attachment against req.netConf.prevResult. */
  check(req: CniRequest, ctx: CniCallContext): Promise<void>;
  /** Ready for ADD? Throw CniError 50/51 when not. */
  status(req: CniRequest, ctx: CniCallContext): Promise<void>;
  /** Remove attachments of req.netConf.name not in req.validAttachments. */
  gc(req: CniRequest, ctx: CniCallContext): Promise<void>;
}

export interface CniServerOptions {
  log?: Pick<Logger, 'info' | 'warn' | 'error'>;
}

export interface CniServer {
  readonly socketPath: string;
  /** Stops accepting, waits for requests in flight, removes the socket file. */
  close(): Promise<void>;
}

/** True when something accepts connections on the socket (a live agent). */
function socketIsLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function clearStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return; // nothing there
  }
  if (!st.isSocket())
    throw new Error(`CNI socket path ${path} exists and is not a socket; refusing to remove it`);
  if (await socketIsLive(path))
    throw new Error(`CNI socket ${path} is in use by a running process (another agent?)`);
  unlinkSync(path);
}

export async function startCniServer(
  socketPath: string,
  handler: CniHandler,
  opts: CniServerOptions = {},
): Promise<CniServer> {
  mkdirSync(dirname(socketPath), { recursive: true, mode: 0o755 });
  await clearStaleSocket(socketPath);
  const inFlight = new Set<Promise<void>>();
  const server: Server = createServer((sock) => {
    const p = serve(sock, handler, opts).finally(() => inFlight.delete(p));
    inFlight.add(p);
  });
  // The socket is created by bind() inside listen(): a tight umask makes it 0600 from its first
  // instant (no window where another user could connect); chmod below is belt and braces.
  const oldMask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    process.umask(oldMask);
  }
  chmodSync(socketPath, 0o600);
  opts.log?.info({ socket: socketPath }, 'CNI server listening');

  let closing: Promise<void> | undefined;
  return {
    socketPath,
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await Promise.allSettled([...inFlight]);
        try {
          unlinkSync(socketPath);
        } catch {
          // node removes it itself on close
        }
      })();
      return closing;
    },
  };
}

/**
 * Reads one request line, answers it, closes. An ADD result counts only once the plugin confirms
 * it got it (an "ack" line): a plugin that timed out or was killed first has reported an error to
 * the runtime, so the attachment is undone and "error" keeps meaning "nothing changed".
 */
async function serve(sock: Socket, handler: CniHandler, opts: CniServerOptions): Promise<void> {
  const abort = new AbortController();
  const lines = new LineReader(sock);
  sock.on('error', () => undefined); // a vanished plugin is seen as 'close'
  void lines.closed.then(() => abort.abort());

  const line = await lines.next();
  if (line === undefined) return;
  let req: CniRequest | undefined;
  let resp: CniResponse;
  try {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (e) {
      throw new CniError(
        ErrorCode.DecodingFailure,
        'agent could not decode the request',
        (e as Error).message,
      );
    }
    if (isShimRequest(parsed)) {
      await serveShim(sock, lines, handler, parsed, abort, opts);
      return;
    }
    const problem = requestProblem(parsed);
    if (problem)
      throw new CniError(ErrorCode.DecodingFailure, 'agent could not understand the request', problem);
    req = parsed as CniRequest;
    resp = { result: await call(handler, req, { signal: abort.signal }) };
  } catch (e) {
    resp = { error: toErrorBody(e) };
    if (!(e instanceof CniError))
      opts.log?.error({ err: e, command: req?.command, containerId: req?.containerId }, 'CNI handler failed');
  }

  if (req?.command !== 'ADD' || !('result' in resp)) {
    if (!abort.signal.aborted) sock.end(encodeMessage(resp));
    return;
  }
  let acked = false;
  if (!abort.signal.aborted) {
    sock.write(encodeMessage(resp));
    // A live plugin acks at once; one that neither acks nor hangs up is not waited for forever.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ACK_TIMEOUT_MS)));
    acked = (await Promise.race([lines.next(), late])) === ACK;
    clearTimeout(timer);
  }
  sock.end();
  if (acked) return;
  opts.log?.warn(
    { containerId: req.containerId, ifName: req.ifName },
    'CNI ADD result not taken by the plugin; undoing it',
  );
  await handler
    .del({ ...req, command: 'DEL' }, { signal: new AbortController().signal })
    .catch((e: unknown) =>
      opts.log?.error({ err: e, containerId: req?.containerId }, 'undoing an abandoned CNI ADD failed'),
    );
}

/** A request from the native shim: the whole plugin runs here; its ADD is undone unless acked. */
async function serveShim(
  sock: Socket,
  lines: LineReader,
  handler: CniHandler,
  shim: ShimRequest,
  abort: AbortController,
  opts: CniServerOptions,
): Promise<void> {
  const answer = await runShim(handler, call, shim, { signal: abort.signal });
  if (abort.signal.aborted) {
    if (answer.added) await undo(handler, answer.added, opts);
    return;
  }
  writeShimAnswer(sock, answer);
  if (!answer.added) {
    sock.end();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ACK_TIMEOUT_MS)));
  const acked = (await Promise.race([lines.next(), late])) === ACK;
  clearTimeout(timer);
  sock.end();
  if (!acked) await undo(handler, answer.added, opts);
}

async function undo(handler: CniHandler, req: CniRequest, opts: CniServerOptions): Promise<void> {
  opts.log?.warn(
    { containerId: req.containerId, ifName: req.ifName },
    'CNI ADD result not taken by the shim; undoing it',
  );
  await handler
    .del({ ...req, command: 'DEL' }, { signal: new AbortController().signal })
    .catch((e: unknown) =>
      opts.log?.error({ err: e, containerId: req.containerId }, 'undoing an abandoned CNI ADD failed'),
    );
}

/** Newline-delimited lines from a socket; `next()` is undefined once it closed (or overflowed). */
class LineReader {
  private buf = '';
  private waiting: ((l: string | undefined) => void) | undefined;
  private done = false;
  readonly closed: Promise<void>;

  constructor(private readonly sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      this.buf += chunk;
      if (this.buf.length > MAX_MESSAGE_BYTES) sock.destroy();
      this.wake();
    });
    this.closed = new Promise((resolve) =>
      sock.once('close', () => {
        this.done = true;
        this.wake();
        resolve();
      }),
    );
  }

  next(): Promise<string | undefined> {
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.wake();
    });
  }

  private wake(): void {
    if (!this.waiting) return;
    const nl = this.buf.indexOf('\n');
    if (nl < 0 && !this.done) return;
    const w = this.waiting;
    this.waiting = undefined;
    if (nl < 0) return w(undefined);
    const line = this.buf.slice(0, nl);
    this.buf = this.buf.slice(nl + 1);
    w(line);
  }
}

async function call(handler: CniHandler, req: CniRequest, ctx: CniCallContext): Promise<CniResult100 | null> {
  switch (req.command) {
    case 'ADD':
      return handler.add(req, ctx);
    case 'DEL':
      await handler.del(req, ctx);
      return null;
    case 'CHECK':
      await handler.check(req, ctx);
      return null;
    case 'STATUS':
      await handler.status(req, ctx);
      return null;
    case 'GC':
      await handler.gc(req, ctx);
      return null;
  }
}

function toErrorBody(e: unknown): { code: number; msg: string; details?: string } {
  if (e instanceof CniError)
    return { code: e.code, msg: e.msg, ...(e.details ? { details: e.details } : {}) };
  return {
    code: ErrorCode.AgentInternal,
    msg: 'multinet agent failed',
    details: e instanceof Error ? e.message : String(e),
  };
}
