import { LinuxDataplane, LinuxKernel } from './linux.js';
import { Underlay, sh } from './testlab.js';
import { expandDesired } from './desired.js';
import { diff } from './diff.js';
import { routingNs } from './naming.js';
import { ProcessRunner } from '../util/exec.js';
import type { DesiredNode } from './types.js';
const N = Number(process.argv[2] ?? 1000);
const lab = new Underlay(`pf${process.pid}`).build(1);
try {
  const names = Array.from({ length: N }, (_, i) => `mn-${lab.tag}-m${i}`);
  sh('ip', ['-batch', '-'], names.map((n) => `netns add ${n}`).join('\n') + '\n');
  lab.made.push(...names);
  const d: DesiredNode = { name: 'pf', netns: lab.nodes[0]!.ns, underlay: { address: '10.99.0.1', mtu: 1500 }, networks: [{ name: 'blue', vni: 56, ranges: ['10.60.0.0/16'] }],
    pods: names.map((n, i) => ({ network: 'blue', netns: n, ifname: 'eth0', addresses: [`10.60.${4 + (i >> 8)}.${i & 255}`], routes: ['10.60.0.0/16'] })), remotes: [{ name: 'x', underlay: '10.99.0.2', pods: { blue: ['10.60.0.2'] } }] };
  const runner = new ProcessRunner();
  const dp = new LinuxDataplane(runner);
  const r1 = await dp.sync(d);
  console.log('program', N, (r1.durationMs / 1000).toFixed(2), 's', r1.processes, 'proc', r1.failed, 'failed');
  const r2 = await dp.sync(d, { full: false });
  console.log('quick resync', r2.durationMs.toFixed(0), 'ms', r2.processes);
  const r3 = await dp.sync(d, { full: true });
  console.log('full resync', r3.durationMs.toFixed(0), 'ms', r3.processes);
  // components of a routing-namespace read
  const ns = routingNs('pf', 'blue');
  let t = performance.now();
  const raw = await runner.run('ip', ['-n', ns, '-d', '-json', '-batch', '-'], { input: 'link show\naddr show\nroute show table all proto 77\nneigh show\nnetconf show\n' });
  console.log('ip -json batch process', (performance.now() - t).toFixed(0), 'ms', raw.stdout.length, 'bytes');
  t = performance.now();
  const br = await runner.run('bridge', ['-n', ns, '-json', 'fdb', 'show']);
  console.log('bridge fdb process', (performance.now() - t).toFixed(0), 'ms', br.stdout.length);
  t = performance.now();
  const docs = raw.stdout.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
  console.log('JSON.parse', (performance.now() - t).toFixed(1), 'ms', docs.length);
  const k = new LinuxKernel(runner);
  t = performance.now();
  const st = await k.readNetns(ns, true);
  console.log('readNetns total', (performance.now() - t).toFixed(0), 'ms');
  t = performance.now();
  for (let i = 0; i < 5; i++) expandDesired(d);
  console.log('expandDesired', ((performance.now() - t) / 5).toFixed(1), 'ms');
  const want = expandDesired(d);
  const nl = await k.readNodeLinks(d.netns);
  t = performance.now();
  for (let i = 0; i < 5; i++) diff(want, { nodeLinks: nl, routing: { [ns]: st as never }, pods: {} });
  console.log('diff', ((performance.now() - t) / 5).toFixed(1), 'ms');
  t = performance.now();
  await runner.run('ip', ['-n', ns, 'link', 'show', 'lo']);
  console.log('trivial ip process', (performance.now() - t).toFixed(0), 'ms');
  await dp.teardown({ name: 'pf', netns: d.netns });
} finally {
  lab.destroy();
}
