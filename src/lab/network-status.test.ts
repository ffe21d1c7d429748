// The emulation's network-status against the real Multus': the golden text is what Multus 4.2.4
// wrote for the seed's samplepod in the kube lab (from the same CNI results, kept in its cache),
// and the rules of its CreateNetworkStatuses on other result shapes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatNetworkStatus, networkStatus, statusEntries, type PodAttachmentState } from './pods.js';

const netns = '/var/run/netns/mn-mm-pod-53b9342f6006';
const result = (ifName: string, mac: string, ip: string, routes: { dst: string; gw: string }[]) => ({
  cniVersion: '1.0.0',
  interfaces: [{ mac, name: ifName, sandbox: netns }],
  ips: [{ address: `${ip}/32`, gateway: '169.254.1.1', interface: 0 }],
  routes,
});
const made = (nad: string, ifName: string, r: Record<string, unknown>): PodAttachmentState => ({
  nad,
  ifName,
  chain: { cniVersion: '1.0.0', name: 'x', plugins: [] },
  result: r,
  defaultRoute: nad === '',
});

/** Written by Multus 4.2.4 (thin plugin) in `lab up --kube`, byte for byte. */
const MULTUS_TEXT = `[{
    "name": "multinet-default",
    "interface": "eth0",
    "ips": [
        "10.244.137.234"
    ],
    "mac": "e2:25:5b:46:fa:94",
    "default": true,
    "dns": {},
    "gateway": [
        "169.254.1.1"
    ]
},{
    "name": "default/network-blue-conf",
    "interface": "eth1",
    "ips": [
        "172.19.49.41"
    ],
    "mac": "fe:b1:02:64:cb:7d",
    "dns": {}
},{
    "name": "default/network-red-conf",
    "interface": "eth2",
    "ips": [
        "172.21.150.40"
    ],
    "mac": "72:33:57:14:67:12",
    "dns": {}
}]`;

test("the seed pod's network-status is Multus' text exactly (4-space entries, default only on eth0)", () => {
  const gw = '169.254.1.1';
  const pod = [
    made(
      '',
      'eth0',
      result('eth0', 'e2:25:5b:46:fa:94', '10.244.137.234', [
        { dst: '10.244.0.0/16', gw },
        { dst: '0.0.0.0/0', gw },
      ]),
    ),
    made(
      'default/network-blue-conf',
      'eth1',
      result('eth1', 'fe:b1:02:64:cb:7d', '172.19.49.41', [{ dst: '172.19.0.0/16', gw }]),
    ),
    made(
      'default/network-red-conf',
      'eth2',
      result('eth2', '72:33:57:14:67:12', '172.21.150.40', [{ dst: '172.21.0.0/16', gw }]),
    ),
  ];
  assert.equal(formatNetworkStatus(networkStatus(pod)), MULTUS_TEXT);
});

test('a result with a host interface too: one entry per sandbox interface, addresses by index', () => {
  const r = {
    interfaces: [
      { name: 'cali1', mac: '02:00:00:00:ff:ff' },
      { name: 'net1', mac: '02:00:00:00:00:01', sandbox: netns, mtu: 1450 },
    ],
    ips: [
      { address: '10.9.0.1/16', interface: 1 },
      { address: 'fd00::1/64', interface: 1 },
    ],
    routes: [{ dst: '0.0.0.0/0', gw: '10.9.0.254' }],
    dns: { nameservers: ['10.96.0.10'], search: [], domain: '' },
  };
  // An attachment: its default route's gateway is reported, `default` is not (cluster network only).
  assert.deepEqual(statusEntries('default/blue', r, false), [
    {
      name: 'default/blue',
      interface: 'net1',
      ips: ['10.9.0.1', 'fd00::1'],
      mac: '02:00:00:00:00:01',
      mtu: 1450,
      dns: { nameservers: ['10.96.0.10'] },
      gateway: ['10.9.0.254'],
    },
  ]);
  assert.equal(statusEntries('c', r, true)[0]!.default, true);
});

test('single interface: every address on it; no sandbox: no interface or mac; no interface: no entry', () => {
  const ips = [{ address: '10.1.0.5/24' }, { address: '10.1.0.6/24', interface: 3 }];
  assert.deepEqual(statusEntries('n', { interfaces: [{ name: 'x', mac: 'm' }], ips }, false), [
    { name: 'n', ips: ['10.1.0.5', '10.1.0.6'], dns: {} },
  ]);
  assert.deepEqual(statusEntries('n', { ips }, true), []);
});
