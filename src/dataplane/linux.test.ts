// The contract suite on the real kernel, in throwaway namespaces (root only).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dataplaneContract } from './contract.js';
import { LinuxDataplane } from './linux.js';
import { ProcessRunner, type RunOptions, type RunResult } from '../util/exec.js';

const isRoot = process.getuid?.() === 0;
const tag = `mn-ct${process.pid}`;

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
}

/** A runner that can cut the next route-writing batch in half, like a process killed mid-batch (exit 137). */
class BreakingRunner extends ProcessRunner {
  breakNext = false;
  override run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    if (this.breakNext && opts.input?.includes('route replace') && args.includes('-force')) {
      this.breakNext = false;
      const lines = opts.input.trimEnd().split('\n');
      return super
        .run(cmd, args, { ...opts, input: lines.slice(0, Math.floor(lines.length / 2)).join('\n') + '\n' })
        .then((r) => ({ ...r, code: 137, stderr: 'killed' }));
    }
    return super.run(cmd, args, opts);
  }
}

dataplaneContract('linux', async () => {
  if (!isRoot) return undefined;
  const made: string[] = [];
  const nodeNs = `${tag}-node`;
  try {
    ip('netns', 'add', nodeNs);
    made.push(nodeNs);
    // no dummy driver on this kernel: a veth pair stands in for the uplink
    ip('-n', nodeNs, 'link', 'add', 'mnul0', 'type', 'veth', 'peer', 'name', 'mnul1');
    ip('-n', nodeNs, 'addr', 'add', '10.99.0.1/24', 'dev', 'mnul0');
    ip('-n', nodeNs, 'link', 'set', 'mnul0', 'up');
  } catch (e) {
    for (const n of made) spawnSync('ip', ['netns', 'del', n]);
    throw e;
  }
  const runner = new BreakingRunner();
  return {
    dp: new LinuxDataplane(runner),
    nodeNs,
    async makePod(i) {
      const n = `${tag}-pod${i}`;
      ip('netns', 'add', n);
      made.push(n);
      return n;
    },
    async deleteRoute(ns, dst) {
      ip('-n', ns, 'route', 'del', dst);
    },
    breakNextRouteBatch() {
      runner.breakNext = true;
    },
    async addForeignLink(ns, name) {
      ip('-n', ns, 'link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}p`);
    },
    async makeTap(ns, name, mac) {
      ip('-n', ns, 'tuntap', 'add', 'mode', 'tap', 'name', name);
      ip('-n', ns, 'link', 'set', 'dev', name, 'address', mac);
    },
    async hasLink(ns, name) {
      return spawnSync('ip', ['-n', ns, 'link', 'show', 'dev', name]).status === 0;
    },
    async namespaceExists(ns) {
      return existsSync(`/var/run/netns/${ns}`);
    },
    async cleanup() {
      for (const n of made) spawnSync('ip', ['netns', 'del', n]);
    },
  };
});
