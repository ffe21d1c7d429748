// Three nodes, two networks with the same range, real packets (root only).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { LinuxDataplane } from './linux.js';
import { routingNs, vxlanName } from './naming.js';
import { Underlay, sh } from './testlab.js';
import type { DesiredNode } from './types.js';

const isRoot = process.getuid?.() === 0;

function ping(ns: string, dst: string, extra: string[] = []): boolean {
  return spawnSync('ip', ['netns', 'exec', ns, 'ping', '-c', '1', '-W', '1', ...extra, dst]).status === 0;
}

/** A one-shot TCP server in `ns` that answers `reply`; returns a stop function. */
function serve(ns: string, port: number, reply: string): () => void {
  const child = spawn('ip', ['netns', 'exec', ns, 'nc', '-l', '-k', String(port)], {
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  child.stdin.write(reply + '\n');
  return () => child.kill();
}

function tcpGet(ns: string, dst: string, port: number): string {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'nc', '-N', '-w', '2', dst, String(port)], {
    encoding: 'utf8',
    input: '',
    timeout: 5000,
  });
  return r.stdout.trim();
}

describe(
  'linux dataplane: 3 nodes, overlapping networks, real traffic',
  { skip: isRoot ? false : 'needs root' },
  () => {
    const lab = new Underlay(`kt${process.pid}`);
    const dp = new LinuxDataplane();
    const pods: Record<string, string> = {};
    const place: Record<string, { node: number; net: 'blue' | 'red'; ip: string }> = {
      b1: { node: 1, net: 'blue', ip: '10.50.0.1' },
      b2: { node: 2, net: 'blue', ip: '10.50.0.2' },
      b3: { node: 3, net: 'blue', ip: '10.50.0.3' },
      r1: { node: 1, net: 'red', ip: '10.50.0.2' },
      r2: { node: 2, net: 'red', ip: '10.50.0.1' },
      r3: { node: 3, net: 'red', ip: '10.50.0.9' },
    };
    const stops: Array<() => void> = [];
    const desired = (i: number, nets: Array<'blue' | 'red'> = ['blue', 'red']): DesiredNode => ({
      name: `node${i}`,
      netns: lab.nodes[i - 1]!.ns,
      underlay: { address: lab.nodes[i - 1]!.address, mtu: 1500 },
      networks: nets.map((n) => ({ name: n, vni: n === 'blue' ? 56 : 88, ranges: ['10.50.0.0/16'] })),
      pods: Object.entries(place)
        .filter(([, p]) => p.node === i && nets.includes(p.net))
        .map(([k, p]) => ({
          network: p.net,
          netns: pods[k]!,
          ifname: 'eth0',
          addresses: [p.ip],
          routes: ['10.50.0.0/16'],
        })),
      remotes: [1, 2, 3]
        .filter((j) => j !== i)
        .map((j) => ({
          name: `node${j}`,
          underlay: lab.nodes[j - 1]!.address,
          pods: Object.fromEntries(
            nets.map((n) => [
              n,
              Object.values(place)
                .filter((p) => p.node === j && p.net === n)
                .map((p) => p.ip),
            ]),
          ),
        })),
    });

    before(async () => {
      lab.build(3);
      for (const k of Object.keys(place)) pods[k] = lab.pod(k);
      for (const i of [1, 2, 3]) {
        const r = await dp.sync(desired(i));
        assert.deepEqual(r.errors, [], `node${i}`);
      }
    });
    after(async () => {
      for (const s of stops) s();
      for (const i of [1, 2, 3])
        await dp.teardown({ name: `node${i}`, netns: lab.nodes[i - 1]?.ns ?? 'none' }).catch(() => undefined);
      lab.destroy();
    });

    test('same network reaches across nodes (ping and TCP), the other network does not', () => {
      assert.ok(ping(pods.b1!, '10.50.0.2'), 'blue node1 -> blue node2');
      assert.ok(ping(pods.b1!, '10.50.0.3'), 'blue node1 -> blue node3');
      assert.ok(ping(pods.r1!, '10.50.0.1'), 'red node1 -> red node2 (same address as blue b1)');
      assert.ok(!ping(pods.b1!, '10.50.0.9'), 'a red-only address is unreachable from blue');
      stops.push(serve(pods.b2!, 7000, 'blue-b2'), serve(pods.r1!, 7000, 'red-r1'));
      spawnSync('sleep', ['0.3']);
      assert.equal(tcpGet(pods.b3!, '10.50.0.2', 7000), 'blue-b2', 'blue reaches the blue pod at 10.50.0.2');
      assert.equal(
        tcpGet(pods.r3!, '10.50.0.2', 7000),
        'red-r1',
        'red reaches the red pod at the same address',
      );
    });

    test('a 1400-byte do-not-fragment packet crosses the overlay', () => {
      assert.ok(ping(pods.b1!, '10.50.0.3', ['-M', 'do', '-s', '1372']));
      assert.ok(
        !ping(pods.b1!, '10.50.0.3', ['-M', 'do', '-s', '1423']),
        'bigger than the overlay MTU is refused',
      );
    });

    test('a route deleted by hand is restored by the next full sync (a quick one trusts its cache)', async () => {
      sh('ip', ['-n', routingNs('node1', 'blue'), 'route', 'del', '10.50.0.2/32']);
      assert.ok(!ping(pods.b1!, '10.50.0.2'));
      assert.equal((await dp.sync(desired(1))).changes, 0);
      const r = await dp.sync(desired(1), { full: true });
      assert.equal(r.changes, 1);
      assert.ok(ping(pods.b1!, '10.50.0.2'));
      assert.equal((await dp.sync(desired(1))).changes, 0);
    });

    test('removing a network removes its namespace and VXLAN device and nothing else', async () => {
      const blueBefore = await dp.observe(desired(1, ['blue']));
      const r = await dp.sync(desired(1, ['blue']));
      assert.deepEqual(r.errors, []);
      assert.equal(existsSync(`/var/run/netns/${routingNs('node1', 'red')}`), false);
      assert.equal(
        spawnSync('ip', ['-n', pods.r1!, 'link', 'show', 'eth0']).status,
        1,
        'red pod interface gone',
      );
      const blueAfter = await dp.observe(desired(1, ['blue']));
      // Compare what is programmed (not dynamic neighbour states, which traffic changes).
      const programmed = (s: typeof blueAfter) =>
        Object.entries(s.routing)
          .filter(([k]) => k === routingNs('node1', 'blue'))
          .map(([k, v]) => [k, v.links, v.addrs, v.routes, v.neighs.filter((n) => n.permanent), v.fdb]);
      assert.deepEqual(programmed(blueAfter), programmed(blueBefore));
      assert.ok(blueAfter.routing[routingNs('node1', 'blue')]!.links.some((l) => l.name === vxlanName(56)));
      assert.ok(ping(pods.b1!, '10.50.0.2'), 'blue still works');
    });
  },
);
