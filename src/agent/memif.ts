// The agent's side of the memif forwarder (dist/multinet-memifd, native): what it must hold (one
// entry per local memif pod interface, derived from the desired node state), and the forwarder
// behind an interface: the real one over its control socket (a versioned line protocol), and a
// fake for tests. Reconciled like the kernel: LIST, then PUT what is missing or different, DEL
// what is not wanted, so a restarted agent or forwarder converges and nothing leaks.
import { connect, type Socket } from 'node:net';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostVethMac, hostVethName, podMac, routingNs } from '../dataplane/naming.js';
import type { DesiredNode } from '../dataplane/types.js';
import type { Logger } from '../util/log.js';

export const MEMIFD_PROTOCOL = 1;

export interface MemifSpec {
  /** The TAP's name: unique per pod interface on the node. */
  readonly id: string;
  /** Pod network namespace, as a path. */
  readonly podNetns: string;
  /** The abstract socket name in the pod (= the interface name, e.g. memif1). */
  readonly socket: string;
  /** The network's routing domain, as a path. */
  readonly routingNetns: string;
  readonly tap: string;
  /** The TAP's MAC: the pod's gateway MAC (its permanent neighbour for 169.254.1.1). */
  readonly mac: string;
  readonly mode: 'ethernet' | 'ip';
  /** The pod's addresses on this memif, and the MAC its client uses (the routing domain's neighbour). */
  readonly ips: readonly string[];
  readonly peerMac: string;
  /** May be switched directly to other memifs of its network on this node (no policy there). */
  readonly fast: boolean;
}

const nsPath = (ns: string): string => (ns.startsWith('/') ? ns : `/var/run/netns/${ns}`);

/**
 * The forwarder's entries for a node's desired state; `fast`: the networks whose memifs may be
 * switched directly (those without services: a reply switched directly would miss its reverse
 * NAT), except the interfaces in `policed` (host-side names some policy selects: the direct path
 * skips the routing domain's nft). Pure.
 */
export function memifSpecs(
  d: DesiredNode,
  fast: ReadonlySet<string> = new Set(),
  policed: ReadonlySet<string> = new Set(),
): MemifSpec[] {
  return d.pods
    .filter((p) => p.kind === 'memif')
    .map((p) => {
      const tap = hostVethName(p);
      return {
        id: tap,
        podNetns: nsPath(p.netns),
        socket: p.ifname,
        routingNetns: nsPath(routingNs(d.name, p.network)),
        tap,
        mac: hostVethMac(p),
        mode: p.memifMode === 'ip' ? ('ip' as const) : ('ethernet' as const),
        ips: [...p.addresses],
        peerMac: podMac(p),
        // IP-mode interfaces never take the direct path (the forwarder frames them for the TAP).
        fast: fast.has(p.network) && !policed.has(tap) && p.memifMode !== 'ip',
      };
    })
    .sort((a, b) => a.id.localeCompare(b.id));
}

export interface MemifForwarder {
  /** Make the forwarder hold exactly `wanted`; problems are returned, never thrown. */
  reconcile(wanted: readonly MemifSpec[]): Promise<{ errors: string[]; changed: boolean }>;
  close(): Promise<void>;
}

/** For tests: holds what it was asked; onPut lets a fake kernel grow the TAP. */
export class FakeMemifForwarder implements MemifForwarder {
  readonly held = new Map<string, MemifSpec>();
  constructor(
    private readonly hooks: { onPut?: (s: MemifSpec) => void; onDel?: (id: string) => void } = {},
  ) {}
  async reconcile(wanted: readonly MemifSpec[]): Promise<{ errors: string[]; changed: boolean }> {
    const ids = new Set(wanted.map((w) => w.id));
    let changed = false;
    for (const id of [...this.held.keys()])
      if (!ids.has(id)) {
        this.held.delete(id);
        this.hooks.onDel?.(id);
        changed = true;
      }
    for (const w of wanted)
      if (JSON.stringify(this.held.get(w.id)) !== JSON.stringify(w)) {
        this.held.set(w.id, w);
        this.hooks.onPut?.(w);
        changed = true;
      }
    return { errors: [], changed };
  }
  async close(): Promise<void> {}
}

/** One request line of the control protocol for a spec (values are our own names and paths). */
export function putLine(s: MemifSpec): string {
  const ips = s.ips.length ? ` ips=${s.ips.join(',')}` : '';
  return `PUT id=${s.id} podns=${s.podNetns} sock=${s.socket} rns=${s.routingNetns} tap=${s.tap} mode=${s.mode} mac=${s.mac}${ips} peermac=${s.peerMac} fast=${s.fast ? 1 : 0}`;
}

/** A LIST answer's interface lines -> id -> the fields it reports. */
export function parseList(lines: readonly string[]): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  for (const l of lines) {
    if (!l.startsWith('IF ')) continue;
    const f = Object.fromEntries(
      l
        .slice(3)
        .split(' ')
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
    if (f.id) out.set(f.id, f);
  }
  return out;
}

/** A control connection: one request line, one answer (LIST: plus its interface lines). */
class ControlConnection {
  private buf = '';
  /** Lines received before anyone asked for them (a LIST answer comes in one write). */
  private readonly ready: string[] = [];
  private waiting: ((line: string | Error) => void)[] = [];
  private closed: Error | undefined;
  private constructor(private readonly sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buf += d;
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        const w = this.waiting.shift();
        if (w) w(line);
        else this.ready.push(line);
      }
    });
    const fail = (e: Error): void => {
      const first = this.closed === undefined;
      this.closed ??= e;
      for (const w of this.waiting.splice(0)) w(e);
      if (first) for (const h of this.closeHooks) h();
    };
    sock.on('error', fail);
    sock.on('close', () => fail(new Error('memif forwarder closed the control connection')));
  }

  static open(path: string, timeoutMs = 2000): Promise<ControlConnection> {
    return new Promise((resolve, reject) => {
      const s = connect(path);
      const t = setTimeout(() => (s.destroy(), reject(new Error(`no answer on ${path}`))), timeoutMs);
      s.once('connect', () => (clearTimeout(t), resolve(new ControlConnection(s))));
      s.once('error', (e) => (clearTimeout(t), reject(e)));
    });
  }

  private closeHooks: (() => void)[] = [];
  onClose(f: () => void): void {
    this.closeHooks.push(f);
  }

  get dead(): boolean {
    return this.closed !== undefined;
  }

  private line(): Promise<string> {
    const early = this.ready.shift();
    if (early !== undefined) return Promise.resolve(early);
    if (this.closed) return Promise.reject(this.closed);
    return new Promise((resolve, reject) =>
      this.waiting.push((l) => (l instanceof Error ? reject(l) : resolve(l))),
    );
  }

  async ask(req: string): Promise<string[]> {
    const first = this.line();
    this.sock.write(`${req}\n`);
    const head = await first;
    if (head.startsWith('ERR')) throw new Error(head.slice(4) || 'ERR');
    const out = [head];
    const n = /^OK (\d+)$/.exec(head);
    if (req === 'LIST' && n) for (let i = 0; i < Number(n[1]); i++) out.push(await this.line());
    return out;
  }

  close(): void {
    this.closeHooks = [];
    this.sock.destroy();
  }
}

export interface MemifdOptions {
  /** dist/multinet-memifd. */
  readonly binary: string;
  /** Its control socket; its pid is kept in `<control>.pid`, its log in `<control>.log`. */
  readonly control: string;
  /** Start the forwarder when none answers (default); false: another container runs it. */
  readonly spawn?: boolean;
  readonly log: Logger;
  /** Called when the control connection drops (the forwarder died or was restarted). */
  readonly onLost?: () => void;
}

/**
 * The real forwarder: connects to its control socket, starting it (detached, so that memif pods
 * keep forwarding while the agent restarts) when nothing answers there.
 */
export class Memifd implements MemifForwarder {
  private conn: ControlConnection | undefined;
  /** The PUT line last sent per id (LIST does not echo every field). */
  private readonly sent = new Map<string, string>();
  constructor(private readonly o: MemifdOptions) {}

  /** The connection; the forwarder is started only when `start` (none answers and there is work). */
  private async connection(start = true): Promise<ControlConnection | undefined> {
    if (this.conn && !this.conn.dead) return this.conn;
    this.conn = undefined;
    let c = await ControlConnection.open(this.o.control).catch(() => undefined);
    if (!c && !start) return undefined;
    if (!c && this.o.spawn === false)
      throw new Error(
        `memif forwarder not answering on ${this.o.control} (it runs in its own container: --memif-forwarder external)`,
      );
    if (!c) {
      this.start();
      const deadline = Date.now() + 5000;
      while (!c && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        c = await ControlConnection.open(this.o.control).catch(() => undefined);
      }
      if (!c)
        throw new Error(`memif forwarder did not answer on ${this.o.control} (log ${this.o.control}.log)`);
    }
    const hello = await c.ask(`HELLO ${MEMIFD_PROTOCOL}`);
    if (!/^OK memifd 1\b/.test(hello[0]!))
      throw new Error(`memif forwarder: unexpected HELLO answer ${hello[0]}`);
    this.conn = c;
    c.onClose(() => {
      if (this.conn !== c) return;
      this.conn = undefined;
      this.o.log.warn({ control: this.o.control }, 'memif forwarder connection lost');
      this.o.onLost?.();
    });
    return c;
  }

  private start(): void {
    if (!existsSync(this.o.binary))
      throw new Error(`memif forwarder ${this.o.binary} is missing (npm run build compiles it with cc)`);
    const pidFile = `${this.o.control}.pid`;
    const old = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : 0;
    if (old > 0)
      try {
        process.kill(old, 'SIGKILL'); // it holds the socket path but does not answer
      } catch {
        /* gone already */
      }
    rmSync(this.o.control, { force: true });
    const log = openSync(`${this.o.control}.log`, 'a');
    const child = spawn(this.o.binary, ['--control', this.o.control], {
      detached: true,
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    child.unref();
    writeFileSync(pidFile, `${child.pid}\n`);
    this.o.log.info({ pid: child.pid, control: this.o.control }, 'memif forwarder started');
  }

  async reconcile(wanted: readonly MemifSpec[]): Promise<{ errors: string[]; changed: boolean }> {
    let c: ControlConnection | undefined;
    try {
      // No memif interface wanted: a forwarder that runs is emptied; none is started for nothing.
      c = await this.connection(wanted.length > 0);
    } catch (e) {
      return { errors: [(e as Error).message], changed: false };
    }
    if (!c) return { errors: [], changed: false };
    const errors: string[] = [];
    let changed = false;
    try {
      const have = parseList((await c.ask('LIST')).slice(1));
      const ids = new Set(wanted.map((w) => w.id));
      for (const id of have.keys())
        if (!ids.has(id)) {
          changed = true;
          await c.ask(`DEL id=${id}`).catch((e: Error) => errors.push(`memif DEL ${id}: ${e.message}`));
        }
      for (const w of wanted) {
        const h = have.get(w.id);
        // The id is the TAP name, a hash of network, pod netns and interface: same id, same
        // interface; what may change (mode, addresses, fast) is PUT again.
        if (h && h.sock === w.socket && h.tap === w.tap && this.sent.get(w.id) === putLine(w)) continue;
        changed = true;
        this.sent.set(w.id, putLine(w));
        await c.ask(putLine(w)).catch((e: Error) => errors.push(`memif ${w.socket} (${w.id}): ${e.message}`));
      }
    } catch (e) {
      errors.push(`memif forwarder: ${(e as Error).message}`);
    }
    return { errors, changed };
  }

  async close(): Promise<void> {
    this.conn?.close();
    this.conn = undefined;
  }
}

/** One LIST on a forwarder's control socket (for `lab check` and status): id -> its fields. */
export async function listMemifd(control: string): Promise<Map<string, Record<string, string>>> {
  const c = await ControlConnection.open(control);
  try {
    const hello = await c.ask(`HELLO ${MEMIFD_PROTOCOL}`);
    if (!/^OK memifd 1\b/.test(hello[0]!))
      throw new Error(`memif forwarder: unexpected HELLO answer ${hello[0]}`);
    return parseList((await c.ask('LIST')).slice(1));
  } finally {
    c.close();
  }
}
