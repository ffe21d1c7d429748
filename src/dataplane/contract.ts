// The behaviour every Dataplane must show, run against the Linux driver (as root) and the fake.
import { describe, test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { DesiredStateError } from './desired.js';
import {
  hostVethMac,
  hostVethName,
  podKey,
  POD_LOCAL_RULE_PRIORITY,
  POD_TABLE_BASE,
  routingNs,
  vxlanName,
} from './naming.js';
import type { Dataplane, DesiredNode, PodInterfaceSpec } from './types.js';

export interface ContractEnv {
  readonly dp: Dataplane;
  /** the node namespace (exists) */
  readonly nodeNs: string;
  /** create an empty pod namespace, return its ref */
  makePod(i: number): Promise<string>;
  deleteRoute(ns: string, dst: string): Promise<void>;
  /** make the next write batch that touches routes stop halfway (a crash mid-batch) */
  breakNextRouteBatch(): void;
  addForeignLink(ns: string, name: string): Promise<void>;
  /** what the memif forwarder does for a memif interface: a TAP of this name and MAC in ns */
  makeTap(ns: string, name: string, mac: string): Promise<void>;
  hasLink(ns: string, name: string): Promise<boolean>;
  namespaceExists(ns: string): Promise<boolean>;
  cleanup(): Promise<void>;
}

export function dataplaneContract(name: string, makeEnv: () => Promise<ContractEnv | undefined>): void {
  describe(`Dataplane contract: ${name}`, () => {
    let env: ContractEnv | undefined;
    let pods: string[] = [];
    const node = `contract-${name}`;
    before(async () => {
      env = await makeEnv();
      if (env) pods = [await env.makePod(0), await env.makePod(1), await env.makePod(2)];
    });
    after(async () => {
      if (!env) return;
      await env.dp.teardown({ name: node, netns: env.nodeNs });
      await env.cleanup();
    });
    const desired = (nets: Array<'blue' | 'red'> = ['blue', 'red']): DesiredNode => ({
      name: node,
      netns: env!.nodeNs,
      underlay: { address: '10.99.0.1', mtu: 1500 },
      networks: nets.map((n) => ({ name: n, vni: n === 'blue' ? 56 : 88, ranges: ['10.50.0.0/16'] })),
      pods: [
        {
          network: 'blue',
          netns: pods[0]!,
          ifname: 'eth0',
          addresses: ['10.50.0.1'],
          routes: ['10.50.0.0/16'],
          defaultRoute: true,
        },
        {
          network: 'blue',
          netns: pods[1]!,
          ifname: 'eth0',
          addresses: ['10.50.0.2', 'fd00:50::2'],
          routes: ['10.50.0.0/16', 'fd00:50::/64'],
        },
        ...(nets.includes('red')
          ? [
              {
                network: 'red',
                netns: pods[2]!,
                ifname: 'eth1',
                addresses: ['10.50.0.1'],
                routes: ['10.50.0.0/16'],
              },
            ]
          : []),
      ],
      remotes: [
        {
          name: 'other',
          underlay: '10.99.0.2',
          pods: { blue: ['10.50.1.1'], ...(nets.includes('red') ? { red: ['10.50.1.1', '10.50.1.2'] } : {}) },
        },
      ],
    });
    const skip = (t: { skip: (m: string) => void }) => {
      if (!env) t.skip('needs root');
      return !env;
    };

    test('first sync programs everything, the second changes nothing', async (t) => {
      if (skip(t)) return;
      const r1 = await env!.dp.sync(desired());
      assert.deepEqual(r1.errors, []);
      assert.ok(r1.changes > 10);
      const r2 = await env!.dp.sync(desired());
      assert.deepEqual(r2.errors, []);
      assert.equal(r2.changes, 0);
      assert.equal(r2.batches, 0);
      const seen = await env!.dp.observe(desired());
      const blue = seen.routing[routingNs(node, 'blue')];
      assert.ok(blue, 'blue routing namespace exists');
      assert.ok(
        blue.links.some((l) => l.name === vxlanName(56) && l.vxlan?.vni === 56 && l.mtu === 1450 && l.up),
      );
      assert.ok(blue.routes.some((r) => r.dst === '10.50.1.1/32' && r.dev === vxlanName(56)));
      assert.ok(blue.routes.some((r) => r.dst === 'fd00:50::2/128'));
      assert.ok(blue.fdb.some((f) => f.dst === '10.99.0.2'));
      assert.equal(seen.nodeLinks.length, 0, 'no VXLAN device left in the node namespace');
    });

    test('a second sync after restart (new driver state) also changes nothing', async (t) => {
      if (skip(t)) return;
      const r = await env!.dp.sync(desired(), { full: true });
      assert.deepEqual(r.errors, []);
      assert.equal(r.changes, 0);
    });

    test('a change made by hand is not seen by a non-full sync (cache trusted), a full sync repairs it; objects not ours are kept', async (t) => {
      if (skip(t)) return;
      const ns = routingNs(node, 'red');
      assert.equal((await env!.dp.sync(desired())).changes, 0);
      await env!.addForeignLink(ns, 'zz0');
      await env!.deleteRoute(ns, '10.50.1.2/32');
      const quick = await env!.dp.sync(desired());
      assert.deepEqual(quick.errors, []);
      assert.equal(quick.changes, 0, 'a non-full sync trusts what the last clean sync left');
      assert.equal(quick.batches, 0);
      assert.ok(
        !(await env!.dp.observe(desired())).routing[ns]!.routes.some((r) => r.dst === '10.50.1.2/32'),
      );
      const r = await env!.dp.sync(desired(), { full: true });
      assert.deepEqual(r.errors, []);
      assert.equal(r.changes, 1);
      assert.ok(
        (await env!.dp.observe(desired())).routing[ns]!.routes.some((x) => x.dst === '10.50.1.2/32'),
        'route restored',
      );
      assert.ok(await env!.hasLink(ns, 'zz0'));
      assert.equal((await env!.dp.sync(desired())).changes, 0);
      assert.equal((await env!.dp.sync(desired(), { full: true })).changes, 0);
    });

    test('a crash in the middle of a batch is converged from by the next sync', async (t) => {
      if (skip(t)) return;
      await env!.dp.sync(desired(['blue']));
      env!.breakNextRouteBatch();
      const r1 = await env!.dp.sync(desired());
      assert.ok(r1.changes > 0);
      const r2 = await env!.dp.sync(desired());
      assert.deepEqual(r2.errors, []);
      const r3 = await env!.dp.sync(desired());
      assert.equal(r3.changes, 0);
      // and the kernel really holds it all (a full sync re-reads everything)
      assert.equal((await env!.dp.sync(desired(), { full: true })).changes, 0);
    });

    test('removing a network removes its namespace and nothing else', async (t) => {
      if (skip(t)) return;
      await env!.dp.sync(desired());
      const before = await env!.dp.observe(desired(['blue']));
      const r = await env!.dp.sync(desired(['blue']));
      assert.deepEqual(r.errors, []);
      assert.equal(await env!.namespaceExists(routingNs(node, 'red')), false);
      assert.equal(await env!.hasLink(pods[2]!, 'eth1'), false);
      const afterState = await env!.dp.observe(desired(['blue']));
      assert.deepEqual(afterState.routing[routingNs(node, 'blue')], before.routing[routingNs(node, 'blue')]);
    });

    test('bad input is refused with object, field and reason, and nothing changes', async (t) => {
      if (skip(t)) return;
      const bad = { ...desired(), pods: [{ ...desired().pods[0]!, addresses: ['10.50.0.999'] }] };
      await assert.rejects(
        env!.dp.sync(bad),
        (e: unknown) =>
          e instanceof DesiredStateError && e.field === 'addresses[0]' && /not an IP/.test(e.message),
      );
      const injected = { ...desired(), pods: [{ ...desired().pods[0]!, ifname: 'eth0; rm -rf /' }] };
      await assert.rejects(env!.dp.sync(injected), DesiredStateError);
      assert.equal((await env!.dp.sync(desired(['blue']))).changes, 0);
    });

    test('one more pod on a 50-pod node spawns as many processes as on an empty node', async (t) => {
      if (skip(t)) return;
      // Two more nodes in the same node namespace (own networks and VNIs, so nothing clashes).
      const big = Array.from({ length: 51 }, (_, i) => i);
      const podNs: string[] = [];
      for (const i of big) podNs.push(await env!.makePod(100 + i));
      const emptyExtra = await env!.makePod(99);
      const mk = (name: string, net: string, vni: number, ns: readonly string[]): DesiredNode => ({
        name,
        netns: env!.nodeNs,
        underlay: { address: '10.99.0.1', mtu: 1500 },
        networks: [{ name: net, vni, ranges: ['10.70.0.0/16'] }],
        pods: ns.map((n, i) => ({
          network: net,
          netns: n,
          ifname: 'eth0',
          addresses: [`10.70.${i >> 8}.${(i & 255) + 1}`],
          routes: ['10.70.0.0/16'],
        })),
        remotes: [{ name: 'other', underlay: '10.99.0.2', pods: { [net]: ['10.70.200.1'] } }],
      });
      const nodes = [`${node}-e`, `${node}-b`];
      try {
        assert.deepEqual((await env!.dp.sync(mk(nodes[0]!, 'green', 90, []))).errors, []);
        const e1 = await env!.dp.sync(mk(nodes[0]!, 'green', 90, [emptyExtra]));
        assert.deepEqual(e1.errors, []);
        const fifty = await env!.dp.sync(mk(nodes[1]!, 'yellow', 91, podNs.slice(0, 50)));
        assert.deepEqual(fifty.errors, []);
        assert.equal(
          (await env!.dp.sync(mk(nodes[1]!, 'yellow', 91, podNs.slice(0, 50)), { full: true })).changes,
          0,
          'bulk-created pods are complete',
        );
        const b1 = await env!.dp.sync(mk(nodes[1]!, 'yellow', 91, podNs));
        assert.deepEqual(b1.errors, []);
        assert.equal(
          b1.processes,
          e1.processes,
          `one more pod: ${b1.processes} processes on a 50-pod node, ${e1.processes} on an empty one`,
        );
        assert.equal(b1.batches, e1.batches);
        assert.equal(b1.changes, e1.changes);
        assert.ok(b1.processes <= 2, `one pod batch and one routing batch, no reads (got ${b1.processes})`);
        assert.ok(await env!.hasLink(podNs[50]!, 'eth0'));
      } finally {
        for (const n of nodes) await env!.dp.teardown({ name: n, netns: env!.nodeNs });
      }
    });

    test('a pod in two overlapping networks: a table and a rule per interface, both families; detaching and replacing interfaces leaves no rule behind', async (t) => {
      if (skip(t)) return;
      const pod = await env!.makePod(3);
      const node2 = `${node}-sbr`;
      const mk = (ifs: Array<['blue' | 'red', string, string[]]>): DesiredNode => ({
        name: node2,
        netns: env!.nodeNs,
        underlay: { address: '10.99.0.1', mtu: 1500 },
        networks: [
          { name: 'blue', vni: 57, ranges: ['10.50.0.0/16'] },
          { name: 'red', vni: 89, ranges: ['10.50.0.0/16'] },
        ],
        pods: ifs.map(([network, ifname, addresses]) => ({
          network,
          netns: pod,
          ifname,
          addresses,
          routes: ['10.50.0.0/16', ...(addresses.some((a) => a.includes(':')) ? ['fd00:50::/64'] : [])],
        })),
        remotes: [],
      });
      const rulesOf = async (d: DesiredNode) => {
        const seen = await env!.dp.observe(d, { full: true });
        const first = d.pods.map((p) => podKey(p)).sort()[0]!;
        const s = seen.pods[first];
        assert.ok(s && s !== 'missing');
        return s;
      };
      try {
        const two = mk([
          ['blue', 'eth1', ['10.50.0.7', 'fd00:50::7']],
          ['red', 'eth2', ['10.50.0.8']],
        ]);
        assert.deepEqual((await env!.dp.sync(two)).errors, []);
        const s = await rulesOf(two);
        const t1 = s.rules.find((r) => r.from === '10.50.0.7/32')?.table;
        const t2 = s.rules.find((r) => r.from === '10.50.0.8/32')?.table;
        assert.ok(t1 && t2 && t1 !== t2 && t1 >= POD_TABLE_BASE, JSON.stringify(s.rules));
        assert.ok(
          s.rules.some((r) => r.from === 'fd00:50::7/128' && r.table === t1),
          'IPv6 rule',
        );
        // the local table moved behind our rules, in both families; the kernel's own rule is gone
        for (const family of [4, 6] as const) {
          assert.ok(s.rules.some((r) => r.family === family && r.priority === POD_LOCAL_RULE_PRIORITY));
          assert.ok(!s.rules.some((r) => r.family === family && r.kernel), JSON.stringify(s.rules));
        }
        for (const [dev, table] of [
          ['eth1', t1],
          ['eth2', t2],
        ] as const)
          assert.ok(
            s.routes.some((r) => r.dst === '10.50.0.0/16' && r.dev === dev && r.table === table),
            `${dev} has its range in table ${table}`,
          );
        assert.ok(s.routes.some((r) => r.dst === 'fd00:50::/64' && r.table === t1));
        assert.equal((await env!.dp.sync(two, { full: true })).changes, 0, 'a restart changes nothing');
        // detach eth2: its rule goes
        const one = mk([['blue', 'eth1', ['10.50.0.7', 'fd00:50::7']]]);
        assert.deepEqual((await env!.dp.sync(one)).errors, []);
        assert.deepEqual((await rulesOf(one)).rules.flatMap((r) => r.from ?? []).sort(), [
          '10.50.0.7/32',
          'fd00:50::7/128',
        ]);
        // every interface replaced at once (nothing of the pod is read): no rule of eth1 survives
        const other = mk([['red', 'eth3', ['10.50.0.9', 'fd00:50::9']]]);
        assert.deepEqual((await env!.dp.sync(other)).errors, []);
        assert.deepEqual((await rulesOf(other)).rules.flatMap((r) => r.from ?? []).sort(), [
          '10.50.0.9/32',
          'fd00:50::9/128',
        ]);
        assert.equal((await env!.dp.sync(other, { full: true })).changes, 0);
      } finally {
        await env!.dp.teardown({ name: node2, netns: env!.nodeNs });
      }
    });

    test('a memif interface: nothing until the forwarder made its TAP, then a port-less bridge in the pod and routes to the TAP', async (t) => {
      if (skip(t)) return;
      const pod = await env!.makePod(7);
      const memif: PodInterfaceSpec = {
        network: 'blue',
        netns: pod,
        ifname: 'memif1',
        addresses: ['10.50.0.9'],
        routes: ['10.50.0.0/16'],
        kind: 'memif',
      };
      const base = desired(['blue']);
      const d: DesiredNode = { ...base, pods: [...base.pods, memif] };
      const rns = routingNs(node, 'blue');
      const r1 = await env!.dp.sync(d);
      assert.ok(r1.errors.some((e) => /memif forwarder/.test(e.message) && e.podKey === podKey(memif)));
      assert.equal(await env!.hasLink(pod, 'memif1'), false, 'no visible link before the TAP exists');
      await env!.makeTap(rns, hostVethName(memif), hostVethMac(memif));
      const r2 = await env!.dp.sync(d);
      assert.deepEqual(r2.errors, []);
      assert.ok(await env!.hasLink(pod, 'memif1'));
      const seen = await env!.dp.observe(d, { full: true });
      const podState = seen.pods[podKey(memif)];
      assert.ok(podState && podState !== 'missing');
      assert.equal(podState.links.find((l) => l.name === 'memif1')?.kind, 'bridge');
      assert.ok(podState.addrs.some((a) => a.dev === 'memif1' && a.cidr === '10.50.0.9/32'));
      assert.ok(
        podState.neighs.some(
          (n) => n.dev === 'memif1' && n.addr === '169.254.1.1' && n.mac === hostVethMac(memif),
        ),
        'the gateway with the TAP MAC, permanent: no ARP needed from the application',
      );
      const rs = seen.routing[rns];
      assert.ok(rs);
      assert.ok(rs.routes.some((r) => r.dst === '10.50.0.9/32' && r.dev === hostVethName(memif)));
      const r3 = await env!.dp.sync(d);
      assert.equal(r3.changes, 0);
      // Detached: the TAP goes (the forwarder closes it too); veth pods are untouched.
      const r4 = await env!.dp.sync(base);
      assert.deepEqual(r4.errors, []);
      assert.equal(await env!.hasLink(rns, hostVethName(memif)), false);
      // Its port-less bridge has no peer to take it along: removed explicitly (only if ours).
      await env!.addForeignLink(pod, 'memif2');
      assert.equal((await env!.dp.removeMemifLink(pod, 'memif2')).changes, 0, 'not ours: kept');
      assert.ok(await env!.hasLink(pod, 'memif2'));
      assert.equal((await env!.dp.removeMemifLink(pod, 'memif1')).changes, 1);
      assert.equal(await env!.hasLink(pod, 'memif1'), false);
    });

    test('a foreign interface with the pod interface name is reported and left alone', async (t) => {
      if (skip(t)) return;
      await env!.addForeignLink(pods[2]!, 'eth1');
      const r = await env!.dp.sync(desired());
      assert.ok(
        r.errors.some((e) => /not ours/.test(e.message)),
        JSON.stringify(r),
      );
      assert.ok(await env!.hasLink(pods[2]!, 'eth1'));
    });
  });
}
