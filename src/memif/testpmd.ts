// dpdk-testpmd as an independent memif peer, driven through its interactive prompt (tests and
// benchmarks). It runs inside a network namespace, as client of the abstract socket @<socket>.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';

export const TESTPMD = 'dpdk-testpmd';

/** Why testpmd cannot run here, or undefined. */
export function testpmdUnavailable(): string | undefined {
  const r = spawnSync(TESTPMD, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (r.error)
    return `${TESTPMD} not found (apt-get install dpdk-dev librte-net-memif23 librte-mempool-ring23)`;
  return undefined;
}

export interface TestpmdOptions {
  netns: string;
  socket: string; // abstract name, e.g. memif1
  filePrefix: string; // unique per concurrent instance
  forwardMode: 'icmpecho' | 'txonly' | 'rxonly' | 'io' | 'macswap' | '5tswap';
  extra?: string[]; // more testpmd application arguments (after --)
  lcores?: string; // EAL -l, default 0-1 (main lcore 0, forwarding on 1)
  mainLcore?: number; // default 0 (with lcores 0-1 and mainLcore 1, forwarding runs on CPU 0)
  /** Pin by CPU instead of -l: EAL --lcores=0@main,1@forward (main lcore 0, forwarding lcore 1).
   * The main lcore only reads the prompt; the forwarding lcore is the busy poller. */
  cpus?: { main: number; forward: number };
  mac?: string; // the port's MAC (vdev mac=), else DPDK's random one
  /** log2 of the ring size the client asks for (vdev rsize=; DPDK's default 10); mbufs follow. */
  ringLog2?: number;
}

/** One port's counters from `show port stats N`. */
export interface PortStats {
  rxPackets: number;
  rxMissed: number;
  rxErrors: number;
  rxNombuf: number;
  txPackets: number;
  txErrors: number;
}

/** Parses the output of `show port stats N` (DPDK 22.11's layout; the throughput lines ignored). */
export function parsePortStats(text: string): PortStats {
  const field = (name: string): number => {
    const m = new RegExp(`\\b${name}:\\s*(\\d+)`).exec(text);
    if (!m) throw new Error(`testpmd port stats: no ${name} in:\n${text}`);
    return Number(m[1]);
  };
  return {
    rxPackets: field('RX-packets'),
    rxMissed: field('RX-missed'),
    rxErrors: field('RX-errors'),
    rxNombuf: field('RX-nombuf'),
    txPackets: field('TX-packets'),
    txErrors: field('TX-errors'),
  };
}

export class Testpmd {
  private out = '';
  private exited: Promise<number | null>;
  private constructor(readonly proc: ChildProcessWithoutNullStreams) {
    proc.stdout.on('data', (d: Buffer) => (this.out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (this.out += d.toString()));
    this.exited = new Promise((resolve) => proc.on('exit', (code) => resolve(code)));
  }

  static async start(o: TestpmdOptions): Promise<Testpmd> {
    const lcores = o.cpus ? [`--lcores=0@${o.cpus.main},1@${o.cpus.forward}`] : ['-l', o.lcores ?? '0-1'];
    const eal = [
      ...lcores,
      `--main-lcore=${o.cpus ? 0 : (o.mainLcore ?? 0)}`,
      '--no-huge',
      '-m',
      '512',
      '--no-pci',
      '--no-shconf',
      '--file-prefix',
      o.filePrefix,
      `--vdev=net_memif0,role=client,id=0,socket=${o.socket},socket-abstract=yes${o.mac ? `,mac=${o.mac}` : ''}${o.ringLog2 ? `,rsize=${o.ringLog2}` : ''}`,
    ];
    const app = [
      '-i',
      `--forward-mode=${o.forwardMode}`,
      '--auto-start',
      '--nb-cores=1',
      `--total-num-mbufs=${Math.max(16384, 4 << (o.ringLog2 ?? 0))}`,
    ];
    const p = new Testpmd(
      // stdbuf: testpmd prints command output with stdio, which a pipe would hold back.
      spawn(
        'ip',
        ['netns', 'exec', o.netns, 'stdbuf', '-oL', TESTPMD, ...eal, '--', ...app, ...(o.extra ?? [])],
        {
          stdio: ['pipe', 'pipe', 'pipe'],
        },
      ),
    );
    await p.waitFor(/testpmd> /, 30_000);
    return p;
  }

  private get done(): boolean {
    return this.proc.exitCode !== null || this.proc.signalCode !== null;
  }

  get output(): string {
    return this.out;
  }

  /** Waits until the output from `from` on matches. */
  async waitFor(re: RegExp, ms: number, from = 0): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = this.out.slice(from).match(re);
      if (m) return m;
      if (this.done)
        throw new Error(`testpmd exited (${this.proc.exitCode ?? this.proc.signalCode}):\n${this.out}`);
      if (Date.now() > deadline)
        throw new Error(`testpmd: no ${re} within ${ms} ms:\n${this.out.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Runs one interactive command; returns its output (up to the next prompt). */
  async command(cmd: string, ms = 10_000): Promise<string> {
    const from = this.out.length;
    this.proc.stdin.write(cmd + '\n');
    await this.waitFor(/testpmd> /, ms, from);
    return this.out.slice(from);
  }

  /** Port 0's packet counters (show port stats). */
  async stats(): Promise<{ rx: number; tx: number; rxMissed: number }> {
    const out = await this.command('show port stats 0');
    const num = (re: RegExp) => {
      const m = out.match(re);
      if (!m) throw new Error(`no ${re} in:\n${out}`);
      return Number(m[1]);
    };
    return {
      rx: num(/RX-packets:\s+(\d+)/),
      tx: num(/TX-packets:\s+(\d+)/),
      rxMissed: num(/RX-missed:\s+(\d+)/),
    };
  }

  /** The pid of dpdk-testpmd itself (`ip netns exec` and `stdbuf` exec it in place). */
  get pid(): number {
    return this.proc.pid!;
  }

  async portStats(port = 0): Promise<PortStats> {
    return parsePortStats(await this.command(`show port stats ${port}`));
  }

  async linkUp(): Promise<boolean> {
    const info = await this.command('show port info 0');
    const m = info.match(/Link status: (up|down)/);
    if (!m) throw new Error(`no link status in:\n${info}`);
    return m[1] === 'up';
  }

  /** Port stop + start: the DPDK 22.11 memif client connects only when its port starts (it does
   * not reconnect by itself after a DISCONNECT). */
  async restartPort(): Promise<void> {
    await this.command('stop');
    await this.command('port stop 0');
    await this.command('port start 0');
    await this.command('start');
  }

  async stop(): Promise<void> {
    if (this.done) return;
    this.proc.stdin.write('quit\n');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}
