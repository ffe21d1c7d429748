// A throwaway underlay for kernel tests and the benchmark: N node namespaces joined by a bridge
// that lives in its own namespace (never the root one). Names: mn-<tag>-ul, mn-<tag>-nI, mn-<tag>-pX.
import { spawnSync } from 'node:child_process';

export function sh(cmd: string, args: readonly string[], input?: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

export class Underlay {
  readonly made: string[] = [];
  readonly nodes: { ns: string; address: string }[] = [];
  constructor(
    readonly tag: string,
    readonly mtu = 1500,
  ) {}

  private addNs(name: string): string {
    sh('ip', ['netns', 'add', name]);
    this.made.push(name);
    sh('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    return name;
  }

  build(count: number): this {
    const ul = this.addNs(`mn-${this.tag}-ul`);
    sh('ip', ['-n', ul, 'link', 'add', 'br0', 'mtu', String(this.mtu), 'type', 'bridge']);
    sh('ip', ['-n', ul, 'link', 'set', 'br0', 'up']);
    for (let i = 1; i <= count; i++) {
      const ns = this.addNs(`mn-${this.tag}-n${i}`);
      const address = `10.99.0.${i}`;
      sh('ip', [
        '-n',
        ns,
        'link',
        'add',
        'ul0',
        'mtu',
        String(this.mtu),
        'type',
        'veth',
        'peer',
        'name',
        `n${i}`,
        'mtu',
        String(this.mtu),
        'netns',
        ul,
      ]);
      sh('ip', ['-n', ul, 'link', 'set', `n${i}`, 'master', 'br0', 'up']);
      sh('ip', ['-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'ul0']);
      sh('ip', ['-n', ns, 'link', 'set', 'ul0', 'up']);
      this.nodes.push({ ns, address });
    }
    return this;
  }

  pod(name: string): string {
    return this.addNs(`mn-${this.tag}-p${name}`);
  }

  destroy(): void {
    for (const n of this.made.reverse()) spawnSync('ip', ['netns', 'del', n]);
    this.made.length = 0;
  }
}
