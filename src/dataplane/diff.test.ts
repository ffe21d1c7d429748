import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expandDesired, DesiredStateError } from './desired.js';
import { diff, Phase } from './diff.js';
import { routingNs, vtepMac, vtepNextHop } from './naming.js';
import type { DesiredNode } from './types.js';

const d: DesiredNode = {
  name: 'n1',
  netns: 'host',
  underlay: { address: '10.99.0.1', mtu: 1500 },
  networks: [{ name: 'blue', vni: 56, ranges: ['10.50.0.0/16'] }],
  pods: [
    {
      network: 'blue',
      netns: '/var/run/netns/pod1',
      ifname: 'eth0',
      addresses: ['10.50.0.1'],
      routes: ['10.50.0.0/16'],
    },
  ],
  remotes: [{ name: 'n2', underlay: '10.99.0.2', pods: { blue: ['10.50.0.2'] } }],
};

test('an empty kernel gets namespace, node, sysctl, pod, routing and fdb batches in that order', () => {
  const plan = diff(expandDesired(d), { nodeLinks: [], routing: {}, pods: {} });
  assert.deepEqual(
    plan.batches.map((b) => b.phase),
    [Phase.Namespaces, Phase.Node, Phase.Sysctl, Phase.Pods, Phase.Routing, Phase.Fdb],
  );
  const ns = routingNs('n1', 'blue');
  assert.deepEqual(plan.batches[0]!.ops, [{ kind: 'netns-add', name: ns }]);
  const routing = plan.batches.find((b) => b.phase === Phase.Routing)!;
  const nh = vtepNextHop(vtepMac('n2', 'blue'));
  assert.ok(
    routing.ops.some(
      (o) => o.kind === 'route-replace' && o.route.dst === '10.50.0.2/32' && o.route.via === nh,
    ),
  );
  assert.equal(plan.problems.length, 0);
});

test('objects without our marks are never in a plan', () => {
  const ns = routingNs('n1', 'blue');
  const plan = diff(expandDesired({ ...d, pods: [], remotes: [] }), {
    nodeLinks: [],
    routing: {
      [ns]: {
        links: [
          {
            name: 'mnvx56',
            kind: 'vxlan',
            mtu: 1450,
            up: true,
            mac: vtepMac('n1', 'blue'),
            alias: 'mn:n1/blue',
            vxlan: { vni: 56, port: 4789, local: '10.99.0.1', learning: false },
          },
          { name: 'other0', kind: 'veth', mtu: 1500, up: true, mac: '02:00:00:00:00:01' },
        ],
        addrs: [],
        routes: [{ dst: '10.1.0.0/16', dev: 'other0', proto: 3 }],
        neighs: [{ dev: 'other0', addr: '10.1.0.1', mac: '02:00:00:00:00:02', permanent: true }],
        fdb: [],
        rules: [],
        forwarding: { v4: true, v6: true },
      },
    },
    pods: {},
  });
  assert.deepEqual(plan.batches, []);
});

test('a VTEP next hop is the EUI-64 link-local address of the VTEP MAC', () => {
  assert.equal(vtepNextHop('02:00:00:00:00:01'), 'fe80::ff:fe00:1');
});

test('bad input names object, field and reason', () => {
  assert.throws(
    () => expandDesired({ ...d, networks: [{ name: 'blue', vni: 0, ranges: [] }] }),
    (e: unknown) => e instanceof DesiredStateError && e.field === 'vni',
  );
  assert.throws(
    () => expandDesired({ ...d, pods: [{ ...d.pods[0]!, netns: '../../etc' }] }),
    (e: unknown) => e instanceof DesiredStateError && e.field === 'netns',
  );
});

test('from BULK_VETHS new pods on, their veths are created by one batch in the routing namespace', async () => {
  const { BULK_VETHS } = await import('./diff.js');
  const pods = Array.from({ length: BULK_VETHS }, (_, i) => ({
    ...d.pods[0]!,
    netns: `/var/run/netns/pod${i}`,
    addresses: [`10.50.3.${i + 1}`],
  }));
  const plan = diff(expandDesired({ ...d, pods }), { nodeLinks: [], routing: {}, pods: {} });
  const veths = plan.batches.filter((b) => b.phase === Phase.Veths);
  assert.equal(veths.length, 1);
  assert.deepEqual(veths[0]!.target, { kind: 'netns', ref: routingNs('n1', 'blue') });
  assert.equal(veths[0]!.ops.length, BULK_VETHS);
  const podBatches = plan.batches.filter((b) => b.phase === Phase.Pods);
  assert.equal(podBatches.length, BULK_VETHS);
  assert.ok(podBatches.every((b) => !b.ops.some((o) => o.kind === 'veth-create')));
  // one new pod: created inside its own batch, no extra process
  const one = diff(expandDesired(d), { nodeLinks: [], routing: {}, pods: {} });
  assert.equal(one.batches.filter((b) => b.phase === Phase.Veths).length, 0);
});
