// Shared by the forwarder's end-to-end tests (memifd.test.ts, fastpath.test.ts): shell helpers, a
// client of the control socket, and dist/multinet-memifd as a child process.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../multinet-memifd', import.meta.url));
export const SRC = fileURLToPath(new URL('../../../src/memif/native/', import.meta.url));

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function sh(cmd: string, args: string[], timeout = 15_000) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout });
  return { code: r.status, out: (r.stdout ?? '') + (r.stderr ?? '') };
}

export const inNs = (ns: string, args: string[], timeout?: number) =>
  sh('ip', ['netns', 'exec', ns, ...args], timeout);

export async function until(what: string, ms: number, ok: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** A line-oriented client of the control socket. */
export class Control {
  private buf = '';
  private lines: string[] = [];
  private wake: (() => void) | undefined;
  private constructor(private readonly sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buf += d;
      let i;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        this.lines.push(this.buf.slice(0, i));
        this.buf = this.buf.slice(i + 1);
      }
      this.wake?.();
    });
  }

  static connect(path: string): Promise<Control> {
    return new Promise((resolve, reject) => {
      const s = createConnection(path);
      s.once('connect', () => resolve(new Control(s)));
      s.once('error', reject);
    });
  }

  private async line(ms = 5000): Promise<string> {
    const deadline = Date.now() + ms;
    while (!this.lines.length) {
      if (Date.now() > deadline || this.sock.destroyed) throw new Error('no reply from the forwarder');
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, 100);
      });
    }
    return this.lines.shift()!;
  }

  async request(line: string): Promise<string> {
    this.sock.write(line + '\n');
    return this.line();
  }

  /** LIST: the OK line and its IF lines. */
  async list(): Promise<string[]> {
    const head = await this.request('LIST');
    const m = head.match(/^OK (\d+)$/);
    assert.ok(m, head);
    const out = [head];
    for (let i = 0; i < Number(m[1]); i++) out.push(await this.line());
    return out;
  }

  async iface(id: string): Promise<Record<string, string> | undefined> {
    const line = (await this.list()).find((l) => l.startsWith(`IF id=${id} `));
    if (!line) return undefined;
    return Object.fromEntries(
      line
        .split(' ')
        .slice(1)
        .map((kv) => kv.split('=') as [string, string]),
    );
  }

  close(): void {
    this.sock.destroy();
  }
}

export class Forwarder {
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  private constructor(readonly proc: ChildProcess) {
    proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    // 'close', not 'exit': all of stderr has arrived by then.
    this.exited = new Promise((resolve) => proc.on('close', (code, signal) => resolve({ code, signal })));
  }

  /** cpus: pinned there with taskset (which execs it: the pid is the forwarder's). */
  static async start(control: string, cpus?: string): Promise<Forwarder> {
    const argv = [BIN, '--control', control];
    const [cmd, ...args] = cpus ? ['taskset', '-c', cpus, ...argv] : argv;
    const f = new Forwarder(spawn(cmd!, args, { stdio: ['ignore', 'ignore', 'pipe'] }));
    await until('the control socket', 5000, async () => {
      try {
        (await Control.connect(control)).close();
        return true;
      } catch {
        return false;
      }
    });
    return f;
  }

  get pid(): number {
    return this.proc.pid!;
  }

  /** CPU time (user + system) in seconds, from /proc/<pid>/stat. */
  cpuSeconds(): number {
    const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in USER_HZ (100)
  }

  async kill(signal: NodeJS.Signals = 'SIGTERM') {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
    return this.exited;
  }
}
