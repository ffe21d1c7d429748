// `npm run bench -- dataplane`: overlay throughput against raw underlay veth in the same run, and
// the cost of programming 1000 pod interfaces on one node, then one more.
import { spawn, spawnSync } from 'node:child_process';
import { LinuxDataplane } from '../src/dataplane/linux.js';
import { Underlay, sh } from '../src/dataplane/testlab.js';
import type { DesiredNode, PodInterfaceSpec } from '../src/dataplane/types.js';
import { ProcessRunner } from '../src/util/exec.js';

function iperf(serverNs: string, clientNs: string, dst: string, seconds = 3): number {
  const server = spawn('ip', ['netns', 'exec', serverNs, 'iperf3', '-s', '-1', '-B', dst], {
    stdio: 'ignore',
  });
  spawnSync('sleep', ['0.5']);
  try {
    const out = sh('ip', [
      'netns',
      'exec',
      clientNs,
      'iperf3',
      '-c',
      dst,
      '-t',
      String(seconds),
      '-P',
      '1',
      '-J',
    ]);
    const j = JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } };
    return j.end.sum_received.bits_per_second / 1e9;
  } finally {
    server.kill();
  }
}

function node(
  lab: Underlay,
  i: number,
  pods: PodInterfaceSpec[],
  remotes: DesiredNode['remotes'],
): DesiredNode {
  return {
    name: `bench-node${i}`,
    netns: lab.nodes[i - 1]!.ns,
    underlay: { address: lab.nodes[i - 1]!.address, mtu: lab.mtu },
    networks: [{ name: 'blue', vni: 56, ranges: ['10.60.0.0/16'] }],
    pods,
    remotes,
  };
}

export async function run(_args: readonly string[]): Promise<string> {
  if (process.getuid?.() !== 0) return '_skipped: needs root_';
  const rows: string[] = [];
  const lab = new Underlay(`bd${process.pid}`).build(2);
  const dp = new LinuxDataplane();
  try {
    // --- throughput
    const a = lab.pod('a');
    const b = lab.pod('b');
    const spec = (ns: string, ip: string): PodInterfaceSpec => ({
      network: 'blue',
      netns: ns,
      ifname: 'eth0',
      addresses: [ip],
      routes: ['10.60.0.0/16'],
    });
    await dp.sync(
      node(
        lab,
        1,
        [spec(a, '10.60.0.1')],
        [{ name: 'bench-node2', underlay: '10.99.0.2', pods: { blue: ['10.60.0.2'] } }],
      ),
    );
    await dp.sync(
      node(
        lab,
        2,
        [spec(b, '10.60.0.2')],
        [{ name: 'bench-node1', underlay: '10.99.0.1', pods: { blue: ['10.60.0.1'] } }],
      ),
    );
    const raw = iperf(lab.nodes[1]!.ns, lab.nodes[0]!.ns, '10.99.0.2');
    const overlay = iperf(b, a, '10.60.0.2');
    rows.push(`| underlay veth TCP, 1 stream (baseline) | ${raw.toFixed(2)} Gbit/s | |`);
    rows.push(
      `| pod-to-pod across nodes over VXLAN, 1 stream | ${overlay.toFixed(2)} Gbit/s | ratio **${(overlay / raw).toFixed(2)}** (target >= 0.85) |`,
    );

    // --- 1000 pods on one node (node 1), plus the one existing pod
    const N = 1000;
    const names = Array.from({ length: N }, (_, i) => `mn-${lab.tag}-m${i}`);
    sh('ip', ['-batch', '-'], names.map((n) => `netns add ${n}`).join('\n') + '\n');
    lab.made.push(...names);
    const ipOf = (i: number) => `10.60.${4 + (i >> 8)}.${i & 255}`;
    const many = names.map((n, i) => spec(n, ipOf(i)));
    const remotes = [{ name: 'bench-node2', underlay: '10.99.0.2', pods: { blue: ['10.60.0.2'] } }];
    const runner = new ProcessRunner();
    const dp1 = new LinuxDataplane(runner);
    const r1 = await dp1.sync(node(lab, 1, [spec(a, '10.60.0.1'), ...many], remotes));
    rows.push(
      `| program ${N} pod interfaces on one node | ${(r1.durationMs / 1000).toFixed(2)} s | ${r1.processes} processes, ${r1.batches} write batches, ${r1.changes} changes, ${r1.failed} failed (target < 5 s) |`,
    );
    const r0 = await dp1.sync(node(lab, 1, [spec(a, '10.60.0.1'), ...many], remotes));
    rows.push(
      `| re-sync, nothing changed (${N + 1} pods) | ${r0.durationMs.toFixed(0)} ms | ${r0.processes} processes, ${r0.changes} changes |`,
    );
    const extra = lab.pod('x');
    const r2 = await dp1.sync(
      node(lab, 1, [spec(a, '10.60.0.1'), ...many, spec(extra, '10.60.200.1')], remotes),
    );
    rows.push(
      `| one more pod on that node | ${r2.durationMs.toFixed(0)} ms | ${r2.processes} processes, ${r2.batches} write batches, ${r2.changes} changes (target < 50 ms) |`,
    );
    // the same step on node 2, which has the network but only one pod
    const y = lab.pod('y');
    const dp2 = new LinuxDataplane(new ProcessRunner());
    const r3 = await dp2.sync(
      node(
        lab,
        2,
        [spec(b, '10.60.0.2'), spec(y, '10.60.201.1')],
        [{ name: 'bench-node1', underlay: '10.99.0.1', pods: { blue: ['10.60.0.1'] } }],
      ),
    );
    rows.push(
      `| one more pod on a node with 1 pod (comparison) | ${r3.durationMs.toFixed(0)} ms | ${r3.processes} processes, ${r3.batches} write batches, ${r3.changes} changes |`,
    );
    await dp1.teardown({ name: 'bench-node1', netns: lab.nodes[0]!.ns });
    await dp.teardown({ name: 'bench-node2', netns: lab.nodes[1]!.ns });
  } finally {
    lab.destroy();
  }
  return [
    'Two node namespaces joined by a bridge in its own namespace; underlay MTU 1500, overlay 1450; iperf3 3 s per run.',
    '',
    '| measure | value | notes |',
    '|---|---|---|',
    ...rows,
  ].join('\n');
}
