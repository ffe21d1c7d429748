import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { desiredNodeState, type NetworkInfo } from './node-state.js';
import type { AttachmentRecord, NodeRecord } from './records.js';

function att(node: string, pod: string, ifName: string, network: string, ip: string): AttachmentRecord {
  return {
    containerId: `c-${pod}`,
    ifName,
    podNamespace: 'default',
    podName: pod,
    node,
    netns: `/var/run/netns/${pod}`,
    network,
    netConfName: `network-${network}`,
    ips: [ip],
    mac: '02:00:00:00:00:01',
    delegatedIpam: false,
    defaultRoute: false,
    createdAt: '2026-01-01T00:00:00Z',
  };
}

const networks = new Map<string, NetworkInfo>([
  ['blue', { name: 'blue', vni: 56, ranges: ['172.19.0.0/16'] }],
  ['red', { name: 'red', vni: 88, ranges: ['172.19.0.0/16'] }],
]);
const nodes = new Map<string, NodeRecord>([
  ['n1', { name: 'n1', underlay: '10.99.0.1', mtu: 1500, netns: 'mn-lab-n1' }],
  ['n2', { name: 'n2', underlay: '10.99.0.2', mtu: 1500, netns: 'mn-lab-n2' }],
  ['n3', { name: 'n3', underlay: '10.99.0.3', mtu: 1500, netns: 'mn-lab-n3' }],
]);
const atts = [
  att('n1', 'a', 'eth1', 'blue', '172.19.0.1'),
  att('n1', 'a', 'eth2', 'red', '172.19.0.1'),
  att('n2', 'b', 'eth1', 'blue', '172.19.0.2'),
  att('n2', 'b', 'eth2', 'blue', '172.19.0.3'),
  att('n3', 'c', 'eth1', 'red', '172.19.0.9'),
  att('n3', 'd', 'eth1', 'green', '10.0.0.1'), // network unknown: ignored
];

describe('desiredNodeState', () => {
  test('local pods, networks and remote pods per network', () => {
    const d = desiredNodeState({ networks, nodes, attachments: atts }, 'n1');
    assert.deepEqual(
      d.networks.map((n) => [n.name, n.vni]),
      [
        ['blue', 56],
        ['red', 88],
      ],
    );
    assert.equal(d.pods.length, 2);
    assert.deepEqual(d.pods[0]?.routes, ['172.19.0.0/16']);
    assert.deepEqual(d.remotes, [
      { name: 'n2', underlay: '10.99.0.2', pods: { blue: ['172.19.0.2', '172.19.0.3'] } },
      { name: 'n3', underlay: '10.99.0.3', pods: { red: ['172.19.0.9'] } },
    ]);
  });

  test('a node without pods of a network gets no routing domain for it', () => {
    const d = desiredNodeState({ networks, nodes, attachments: atts }, 'n2');
    assert.deepEqual(
      d.networks.map((n) => n.name),
      ['blue'],
    );
    assert.deepEqual(d.remotes, [{ name: 'n1', underlay: '10.99.0.1', pods: { blue: ['172.19.0.1'] } }]);
  });

  test('extra routes (service IPs) are added to the pods of that network only', () => {
    const extraRoutes = new Map([['blue', ['10.96.0.10/32']]]);
    const d = desiredNodeState({ networks, nodes, attachments: atts, extraRoutes }, 'n1');
    assert.deepEqual(d.pods.find((p) => p.network === 'blue')?.routes, ['10.96.0.10/32', '172.19.0.0/16']);
    assert.deepEqual(d.pods.find((p) => p.network === 'red')?.routes, ['172.19.0.0/16']);
  });

  test('the result does not depend on the order of the events', () => {
    const expected = desiredNodeState({ networks, nodes, attachments: atts }, 'n1');
    fc.assert(
      fc.property(fc.shuffledSubarray(atts, { minLength: atts.length, maxLength: atts.length }), (order) => {
        const nets = new Map([...networks].reverse());
        assert.deepEqual(desiredNodeState({ networks: nets, nodes, attachments: order }, 'n1'), expected);
      }),
    );
  });
});
