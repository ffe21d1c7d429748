// Services end to end in a lab (real agents, real nft tables, real TCP/UDP through DNAT). Needs root
// and the built tree. Servers are small node processes in pod namespaces answering with the pod name.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { Lab } from './lab.js';
import { labSkip, sourcePath } from './test-support.js';
import { podStatusOf, readCluster } from './cluster.js';
import type { ClusterCache } from '../agent/cache.js';
import { runChecked } from '../util/exec.js';

const skip = labSkip;
const src = sourcePath;
const SEED = src('../../examples/seed');
// Re-applied next to later files: the lab's cross-check does not yet see NADs and Networks that
// are only in the store (a lab/api issue, reported), so their definitions come along.
const SEED_DEFS = [`${SEED}/networks.yaml`, `${SEED}/netdefinitions.yaml`];
const DATA = src('./testdata/services/');
const quiet = (): void => undefined;

const SERVER = `
const [name, tcp, udp] = [process.argv[1], process.argv[2].split(','), process.argv[3]];
const net = require('node:net'), dgram = require('node:dgram');
for (const p of tcp) net.createServer((s) => s.end(name)).listen(Number(p));
if (udp) { const u = dgram.createSocket('udp4'); u.on('message', (m, r) => u.send(name, r.port, r.address)); u.bind(Number(udp)); }`;

// Sends n requests (TCP connects or UDP datagrams) and prints the answers counted by pod name.
const CLIENT = `
const [ip, port, proto, n, bindDev] = [process.argv[1], Number(process.argv[2]), process.argv[3], Number(process.argv[4]), process.argv[5]];
const net = require('node:net'), dgram = require('node:dgram');
const one = () => new Promise((res) => {
  const t = setTimeout(() => res('timeout'), 1000);
  if (proto === 'udp') {
    const u = dgram.createSocket('udp4');
    u.on('message', (m) => { clearTimeout(t); u.close(); res(String(m)); });
    u.on('error', (e) => { clearTimeout(t); res(e.code); });
    u.send('hi', port, ip);
    return;
  }
  let data = '';
  const s = net.connect({ host: ip, port });
  s.on('data', (d) => (data += d)); s.on('end', () => { clearTimeout(t); res(data); });
  s.on('error', (e) => { clearTimeout(t); res(e.code); });
});
(async () => {
  const counts = {};
  for (let i = 0; i < n; i += 20) {
    const rs = await Promise.all(Array.from({ length: Math.min(20, n - i) }, one));
    for (const r of rs) counts[r] = (counts[r] ?? 0) + 1;
  }
  process.stdout.write(JSON.stringify(counts), () => process.exit(0));
})();`;

function netnsOf(cluster: ClusterCache, pod: string): boolean {
  return podStatusOf(cluster.list('Pod').find((x) => x.name === pod))?.phase === 'Running';
}

// Connects back to back for \`ms\` and prints [time, answer] pairs: when did a pod stop answering.
const WATCH = `
const [ip, port, ms] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])];
const net = require('node:net');
const out = [];
const end = Date.now() + ms;
const one = () => new Promise((res) => {
  let data = '';
  const s = net.connect({ host: ip, port });
  const t = setTimeout(() => { s.destroy(); res('timeout'); }, 500);
  s.on('data', (d) => (data += d)); s.on('end', () => { clearTimeout(t); res(data); });
  s.on('error', (e) => { clearTimeout(t); res(e.code); });
});
(async () => {
  while (Date.now() < end) out.push([Date.now(), await one()]);
  process.stdout.write(JSON.stringify(out), () => process.exit(0));
})();`;

describe('lab: network-aware services', { skip }, () => {
  let lab: Lab;
  const servers: ChildProcess[] = [];
  const netns = new Map<string, string>();
  const vip = new Map<string, string>();

  const seedPods: string[] = [];
  async function refresh(): Promise<void> {
    const cluster = await readCluster(await lab.store());
    seedPods.length = 0;
    for (const r of cluster.resources('Pod'))
      if (r.metadata.labels.app === 'MyApp' && netnsOf(cluster, r.metadata.name))
        seedPods.push(r.metadata.name);
    seedPods.sort();
    for (const r of cluster.resources('Service')) vip.set(r.metadata.name, r.spec.clusterIP);
    for (const o of cluster.list('Pod')) {
      const st = podStatusOf(o);
      if (st?.phase === 'Running') netns.set(o.name, st.netns);
    }
  }

  function serve(pod: string, tcp: number[], udp?: number): void {
    const p = spawn(
      'ip',
      [
        'netns',
        'exec',
        netns.get(pod)!,
        process.execPath,
        '-e',
        SERVER,
        pod,
        tcp.join(','),
        String(udp ?? ''),
      ],
      { stdio: 'ignore' },
    );
    servers.push(p);
  }

  async function ask(
    from: string,
    ip: string,
    port: number,
    n = 1,
    proto: 'tcp' | 'udp' = 'tcp',
  ): Promise<Record<string, number>> {
    const r = await runChecked(
      lab.runner,
      'ip',
      ['netns', 'exec', netns.get(from)!, process.execPath, '-e', CLIENT, ip, String(port), proto, String(n)],
      { timeoutMs: 60_000 },
    );
    return JSON.parse(r.stdout) as Record<string, number>;
  }

  async function until(fn: () => Promise<boolean>, ms: number): Promise<number> {
    const t0 = Date.now();
    while (Date.now() - t0 < ms) {
      if (await fn()) return Date.now() - t0;
      await new Promise((r) => setTimeout(r, 50));
    }
    return Infinity;
  }

  before(async () => {
    // Long resync: the latency measured here is the event path (watch -> calc -> one nft write), not
    // a periodic full re-read of every namespace competing for the 2 cores.
    lab = await Lab.up('sv', { nodes: 2, resyncSeconds: 120 }, quiet);
    // The seed's policy (pol) is left out: it admits only ports 3434/7809 into the samplepods and
    // lets them talk only to red, which would hide what is tested here (issue 8 tests policies).
    const r = await lab.apply(
      [
        ...SEED_DEFS,
        `${SEED}/pods.yaml`,
        `${SEED}/service.yaml`,
        `${DATA}web.yaml`,
        `${DATA}web2.yaml`,
        `${DATA}web3.yaml`,
        `${DATA}redpod.yaml`,
        `${DATA}overlap.yaml`,
      ],
      quiet,
    );
    assert.equal(r.errorCount, 0, JSON.stringify(r.issues));
    await refresh();
    // Every seed pod labelled app=MyApp serves 9376 (the seed may grow more of them).
    for (const p of seedPods) serve(p, [9376]);
    for (const p of ['web1', 'web2', 'web3']) serve(p, [8080], 9000);
    serve('g1', [8080]);
    serve('y1', [8080]);
    await new Promise((r) => setTimeout(r, 700));
  });

  after(async () => {
    for (const s of servers) s.kill();
    await lab?.down(quiet);
  });

  test('ClusterIPs are allocated from the service range and kept on re-apply', async () => {
    for (const s of ['my-service', 'web', 'ov-green', 'ov-yellow'])
      assert.match(vip.get(s) ?? '', /^10\.96\.\d+\.\d+$/, s);
    assert.equal(new Set(vip.values()).size, vip.size);
    const before_ = vip.get('web');
    await lab.apply([`${DATA}web.yaml`, ...SEED_DEFS], quiet);
    await refresh();
    assert.equal(vip.get('web'), before_);
  });

  test("the seed's my-service: port 80 reaches both samplepods on 9376, from either node, pod to itself included", async () => {
    const ip = vip.get('my-service')!;
    const settled = async (from: string): Promise<boolean> =>
      Object.keys(await ask(from, ip, 80, 20))
        .sort()
        .join() === seedPods.join();
    await until(async () => (await settled('samplepod')) && (await settled('samplepod2')), 5000);
    for (const from of ['samplepod', 'samplepod2']) {
      const got = await ask(from, ip, 80, 40);
      assert.deepEqual(Object.keys(got).sort(), seedPods, `${from}: ${JSON.stringify(got)}`);
    }
  });

  test('1000 connections over 3 endpoints: each gets a fair share; named targetPort', async () => {
    const got = await ask('samplepod', vip.get('web')!, 80, 1000);
    assert.deepEqual(Object.keys(got).sort(), ['web1', 'web2', 'web3'], JSON.stringify(got));
    for (const n of Object.values(got)) assert.ok(n > 250 && n < 420, JSON.stringify(got));
  });

  test('UDP through the ClusterIP (named UDP port)', async () => {
    const got = await ask('samplepod2', vip.get('web')!, 53, 60, 'udp');
    assert.deepEqual(Object.keys(got).sort(), ['web1', 'web2', 'web3'], JSON.stringify(got));
  });

  test('a port without endpoints is refused, not blackholed', async () => {
    const got = await ask('samplepod', vip.get('web')!, 81, 3);
    assert.deepEqual(got, { ECONNREFUSED: 3 });
  });

  test('a red pod cannot reach the blue ClusterIP; a blue pod using its red interface cannot either', async () => {
    const ip = vip.get('web')!;
    const red = await ask('redpod', ip, 80, 3);
    assert.equal(red.web1 ?? 0 + (red.web2 ?? 0) + (red.web3 ?? 0), 0, JSON.stringify(red));
    // samplepod has blue eth1 and red eth2: bound to eth2, there is no route to blue's service.
    const r = await lab.runner.run('ip', [
      'netns',
      'exec',
      netns.get('samplepod')!,
      'python3',
      '-c',
      `import socket;s=socket.socket();s.setsockopt(socket.SOL_SOCKET,25,b"eth2");s.settimeout(1)\ntry:\n s.connect(("${ip}",80));print("connected")\nexcept Exception as e:print("failed",e)`,
    ]);
    assert.match(r.stdout, /failed/, r.stdout + r.stderr);
  });

  test('services in two networks with overlapping ranges answer only inside their own network', async () => {
    assert.deepEqual(await ask('gc', vip.get('ov-green')!, 80, 5), { g1: 5 });
    assert.deepEqual(await ask('yc', vip.get('ov-yellow')!, 80, 5), { y1: 5 });
    const cross = await ask('gc', vip.get('ov-yellow')!, 80, 2);
    assert.equal(cross.y1 ?? 0, 0, JSON.stringify(cross));
  });

  test('lab get services -o wide data: endpoints per port', async () => {
    const { serviceState } = await import('../calc/services.js');
    const st = serviceState((await readCluster(await lab.store())).view());
    assert.equal(st.services.get('default/web')!.endpoints.get('80/TCP')!.length, 3);
    assert.ok(
      st.services
        .get('default/web')!
        .endpoints.get('80/TCP')!
        .every((e) => e.endsWith(':8080')),
    );
  });

  /** Applies `change` while a client connects back to back; ms from the change being stored to the last answer from `pods`. */
  async function lastAnswerAfter(change: () => Promise<void>, pods: string[]): Promise<number> {
    const ip = vip.get('web')!;
    const watch = runChecked(
      lab.runner,
      'ip',
      ['netns', 'exec', netns.get('samplepod')!, process.execPath, '-e', WATCH, ip, '80', '9000'],
      { timeoutMs: 30_000 },
    );
    await new Promise((r) => setTimeout(r, 500));
    const t0 = Date.now();
    await change();
    const stored = Date.now();
    const seen = JSON.parse((await watch).stdout) as [number, string][];
    assert.ok(
      seen.filter(([t]) => t > stored + 1500).length > 10,
      `the client kept connecting after the change (change took ${stored - t0} ms; ${seen.length} answers, last at +${(seen.at(-1)?.[0] ?? 0) - stored} ms: ${JSON.stringify(seen.slice(-3))})`,
    );
    const last = Math.max(stored, ...seen.filter(([, a]) => pods.includes(a)).map(([t]) => t));
    return last - stored;
  }

  test('a relabelled pod, then a deleted one, stop receiving new connections within a second', async () => {
    const relabel = await lastAnswerAfter(async () => {
      const r = await lab.apply([`${DATA}relabel/web3.yaml`, ...SEED_DEFS], quiet);
      assert.equal(r.errorCount, 0, JSON.stringify(r.issues));
    }, ['web3']);
    assert.ok(relabel < 1000, `relabelled web3 answered ${relabel} ms after the change`);
    const deleted = await lastAnswerAfter(async () => {
      const r = await lab.delete([`${DATA}web2.yaml`], quiet);
      assert.equal(r.errorCount, 0);
    }, ['web2']);
    assert.ok(deleted < 1000, `deleted web2 answered ${deleted} ms after the change`);
  });
});
