// A throwaway routing domain for policy tests and the benchmark (root only): one "router" netns
// standing for a network's routing namespace, and pod namespaces joined to it by veth pairs whose
// host side carries the real hostVethName(). Tables from policyTables() are loaded into the router
// with `nft -f`, and real TCP connections probe them. Names: mn-<tag>-r, mn-<tag>-<pod>.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { hostVethName } from '../dataplane/naming.js';
import type { NftTableSpec } from '../dataplane/nft-types.js';
import { nftTableScript } from '../calc/policy-render.js';

function sh(cmd: string, args: readonly string[], input?: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, timeout: 60_000, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.slice(0, 6).join(' ')}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

export interface NetPod {
  readonly name: string;
  readonly netns: string;
  readonly ip: string;
}

export class PolicyNetLab {
  readonly router: string;
  readonly pods = new Map<string, NetPod>();
  private readonly servers: ChildProcess[] = [];
  private readonly made: string[] = [];

  constructor(
    readonly tag: string,
    readonly network: string,
  ) {
    this.router = `mn-${tag}-r`;
  }

  private addNs(name: string): void {
    sh('ip', ['netns', 'add', name]);
    this.made.push(name);
    sh('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  }

  up(): this {
    this.addNs(this.router);
    sh('ip', ['netns', 'exec', this.router, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    return this;
  }

  /** A pod with eth0 = `ip`/32; the router proxies ARP and routes /32s to host veths. */
  addPod(name: string, ip: string, mtu = 1500): NetPod {
    const netns = `mn-${this.tag}-${name}`;
    this.addNs(netns);
    const host = hostVethName({ network: this.network, netns, ifname: 'eth0' });
    sh('ip', [
      '-n',
      netns,
      'link',
      'add',
      'eth0',
      'mtu',
      String(mtu),
      'type',
      'veth',
      'peer',
      'name',
      host,
      'mtu',
      String(mtu),
      'netns',
      this.router,
    ]);
    sh('ip', ['-n', netns, 'addr', 'add', `${ip}/32`, 'dev', 'eth0']);
    sh('ip', ['-n', netns, 'link', 'set', 'eth0', 'up']);
    sh('ip', ['-n', netns, 'route', 'add', 'default', 'dev', 'eth0']);
    sh('ip', ['netns', 'exec', this.router, 'sysctl', '-qw', `net.ipv4.conf.${host}.proxy_arp=1`]);
    sh('ip', ['-n', this.router, 'link', 'set', host, 'up']);
    sh('ip', ['-n', this.router, 'route', 'add', `${ip}/32`, 'dev', host]);
    const p = { name, netns, ip };
    this.pods.set(name, p);
    return p;
  }

  /** Replaces the table in the router (one transaction). */
  load(t: NftTableSpec): void {
    sh('ip', ['netns', 'exec', this.router, 'nft', '-f', '-'], nftTableScript(t));
  }

  nft(script: string): void {
    sh('ip', ['netns', 'exec', this.router, 'nft', '-f', '-'], script);
  }

  /** TCP listeners on `ports` inside the pod (one node process; killed by down()). */
  async listen(pod: string, ports: readonly number[]): Promise<void> {
    const p = this.pods.get(pod)!;
    const code = `const n=require('net');let k=0;for(const p of ${JSON.stringify(ports)})n.createServer(s=>s.end()).listen(p,'0.0.0.0',()=>{if(++k===${ports.length})console.log('ok')});`;
    const child = spawn('ip', ['netns', 'exec', p.netns, process.execPath, '-e', code], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    this.servers.push(child);
    await new Promise<void>((resolve, reject) => {
      child.stdout!.once('data', () => resolve());
      child.once('exit', (c) => reject(new Error(`listener in ${pod} exited (${c})`)));
    });
  }

  /** True when a TCP connection from `from` to `to`:`port` is established within 1 s. */
  async connects(from: string, to: string, port: number): Promise<boolean> {
    const a = this.pods.get(from)!;
    const b = this.pods.get(to)!;
    return await new Promise<boolean>((resolve) => {
      const c = spawn('ip', ['netns', 'exec', a.netns, 'nc', '-z', '-w', '1', b.ip, String(port)], {
        stdio: 'ignore',
      });
      c.once('exit', (code) => resolve(code === 0));
    });
  }

  down(): void {
    for (const s of this.servers) if (s.pid) s.kill('SIGKILL');
    for (const ns of this.made.reverse()) spawnSync('ip', ['netns', 'del', ns]);
    this.made.length = 0;
  }
}
