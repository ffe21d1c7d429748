// The agent's CNI socket: accepts one request per connection from the plugin, hands it to a
// CniHandler (the agent core), writes back one answer. Root only (mode 0600); a stale socket file
// left by a crashed agent is replaced, a live one is never stolen.
import { mkdirSync, chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { isShimRequest, MAX_MESSAGE_BYTES, type CniCallContext, type CniHandler } from '../cni/protocol.js';
import { deliverAnswer, type Answer, type AnswerConn, type AnswerLog } from './cni-answer.js';
import { answerJson, undecodableAnswer } from './cni-json-answer.js';
import { answerShim } from './cni-shim-answer.js';

export interface CniServerOptions {
  log?: AnswerLog;
}

export interface CniServer {
  readonly socketPath: string;
  /** Stops accepting, waits for requests in flight, removes the socket file. */
  close(): Promise<void>;
}

/** True when something accepts connections on the socket (a live agent) within timeoutMs. */
export function socketAnswers(path: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
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
  if (await socketAnswers(path))
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

/** Reads one request line, answers it in the framing it came in, closes (see deliverAnswer). */
async function serve(sock: Socket, handler: CniHandler, opts: CniServerOptions): Promise<void> {
  const abort = new AbortController();
  const lines = new LineReader(sock);
  sock.on('error', () => undefined); // a vanished plugin is seen as 'close'
  void lines.closed.then(() => abort.abort());

  const line = await lines.next();
  if (line === undefined) return;
  const answer = await answerLine(handler, line, { signal: abort.signal }, opts.log);
  await deliverAnswer(socketConn(sock, lines, abort.signal), answer, handler, opts.log);
}

/** The first line names the framing: the shim's object, or a request of the JSON framing. */
async function answerLine(
  handler: CniHandler,
  line: string,
  ctx: CniCallContext,
  log: AnswerLog | undefined,
): Promise<Answer> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch (e) {
    return undecodableAnswer(e as Error);
  }
  return isShimRequest(parsed)
    ? answerShim(handler, parsed, ctx, log)
    : answerJson(handler, parsed, ctx, log);
}

function socketConn(sock: Socket, lines: LineReader, signal: AbortSignal): AnswerConn {
  return {
    get aborted() {
      return signal.aborted;
    },
    write: (b) => void sock.write(b),
    end: (b) => void (b === undefined ? sock.end() : sock.end(b)),
    async nextLine(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), timeoutMs)));
      try {
        return await Promise.race([lines.next(), late]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
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
