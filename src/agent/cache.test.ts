import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { StoredObject, WatchEvent } from '../store/types.js';
import { ClusterCache } from './cache.js';

let rv = 0;
const net = (name: string, spec: Record<string, unknown>): StoredObject => ({
  kind: 'Network',
  namespace: '',
  name,
  resourceVersion: String(++rv),
  value: { apiVersion: 'projectcalico.org/v3', kind: 'Network', metadata: { name }, spec },
});
const ev = (type: WatchEvent['type'], object: StoredObject): WatchEvent => ({
  type,
  object,
  revision: object.resourceVersion,
});

/** A cache whose warnings are collected. */
function cache(): { c: ClusterCache; warnings: Record<string, unknown>[] } {
  const warnings: Record<string, unknown>[] = [];
  const log = pino({ level: 'warn' }, { write: (s: string) => void warnings.push(JSON.parse(s)) });
  return { c: new ClusterCache(log), warnings };
}

test('decoded networks feed the view and the lookups the CNI path uses', () => {
  const { c } = cache();
  c.replace('Network', [net('blue', { vni: 56, range: '172.19.0.0/16', vxlanPort: 8472 })]);
  assert.deepEqual(c.networks.get('blue'), {
    name: 'blue',
    vni: 56,
    ranges: ['172.19.0.0/16'],
    vxlanPort: 8472,
  });
  assert.deepEqual(c.view().networks.get('blue'), c.networks.get('blue'));
  assert.equal(c.resources('Network')[0]?.spec.vni, 56);
  c.apply('Network', ev('DELETED', net('blue', {})));
  assert.equal(c.networks.size, 0);
  assert.equal(c.view().networks.size, 0);
});

test('a new object that does not decode is logged by name and skipped', () => {
  const { c, warnings } = cache();
  c.replace('Network', [net('blue', { vni: 0, range: '172.19.0.0/16' })]);
  assert.equal(c.networks.size, 0);
  assert.equal(c.invalid.get('blue'), 'spec.vni: 0 is out of range 1..16777215');
  assert.deepEqual(c.undecodable(), [
    { object: 'Network/blue', field: 'spec.vni', reason: '0 is out of range 1..16777215' },
  ]);
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0]!.object, 'Network/blue');
  assert.equal(warnings[0]!.msg, 'stored object does not decode; skipped');
  // The same problem again (a re-list) is not logged again.
  c.replace('Network', [net('blue', { vni: 0, range: '172.19.0.0/16' })]);
  assert.equal(warnings.length, 1);
  // Fixed: decoded, no longer reported.
  c.apply('Network', ev('MODIFIED', net('blue', { vni: 5, range: '172.19.0.0/16' })));
  assert.equal(c.networks.get('blue')?.vni, 5);
  assert.equal(c.invalid.size, 0);
  assert.deepEqual(c.undecodable(), []);
});

test('a revision that does not decode keeps the last valid one (the dataplane stays)', () => {
  const { c, warnings } = cache();
  const good = net('blue', { vni: 56, range: '172.19.0.0/16' });
  c.apply('Network', ev('ADDED', good));
  c.apply('Network', ev('MODIFIED', net('blue', { vni: 56, range: 'nonsense' })));
  assert.equal(c.networks.get('blue')?.vni, 56, 'still the last valid revision');
  assert.equal(c.entries('Network')[0]?.stored.resourceVersion, good.resourceVersion);
  assert.equal(c.undecodable()[0]?.field, 'spec.range');
  assert.equal(warnings[0]!.msg, 'stored object does not decode; keeping its last valid revision');
  assert.equal(warnings[0]!.keptResourceVersion, good.resourceVersion);
  // A re-list with the bad revision still keeps it; one without the object drops it.
  c.replace('Network', [net('blue', { vni: 56, range: 'nonsense' })]);
  assert.equal(c.networks.size, 1);
  c.replace('Network', []);
  assert.equal(c.networks.size, 0);
  assert.deepEqual(c.undecodable(), []);
});

test('records and manifests of every watched kind go through their decoders', () => {
  const { c, warnings } = cache();
  const o = (kind: string, namespace: string, name: string, value: unknown): StoredObject => ({
    kind,
    namespace,
    name,
    value,
    resourceVersion: String(++rv),
  });
  c.replace('Node', [
    o('Node', '', 'n1', { name: 'n1', underlay: '10.99.0.1', mtu: 1500, netns: 'mn-n1', lastSync: 'x' }),
    o('Node', '', 'n2', { name: 'n2' }),
  ]);
  c.replace('Attachment', [o('Attachment', 'default', 'c.eth1', { containerId: 'c' })]);
  c.replace('Pod', [
    o('Pod', 'default', 'p', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', labels: { app: 'a' } },
      spec: { containers: [{ name: 'c' }] },
      status: { phase: 'Running' },
    }),
    o('Pod', 'default', 'q', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'q' }, spec: 7 }),
  ]);
  c.replace('AgentStatus', [o('AgentStatus', '', 'n1', { anything: true })]);
  const v = c.view();
  assert.deepEqual([...v.nodes.keys()], ['n1']);
  assert.deepEqual(v.nodes.get('n1'), { name: 'n1', underlay: '10.99.0.1', mtu: 1500, netns: 'mn-n1' });
  assert.equal(v.attachments.length, 0);
  assert.deepEqual(
    v.pods?.map((p) => p.metadata.name),
    ['p'],
  );
  assert.deepEqual(
    c.undecodable().map((e) => e.object),
    ['Attachment/default/c.eth1', 'Node/n2', 'Pod/default/q'],
  );
  assert.equal(warnings.length, 3);
  assert.equal(c.list('AgentStatus').length, 1, 'kinds without a decoder are kept as stored');
  assert.equal(c.list('Pod').length, 2, 'list() is what the store holds');
});

test('our own attachment writes show before their watch event', () => {
  const { c } = cache();
  const rec = {
    containerId: 'c',
    ifName: 'eth1',
    podNamespace: 'default',
    podName: 'p',
    node: 'n1',
    netns: '/run/netns/p',
    network: 'blue',
    netConfName: 'network-blue',
    ips: ['172.19.0.2'],
    mac: '02:00:00:00:00:01',
    delegatedIpam: false,
    defaultRoute: false,
    createdAt: '',
  };
  c.putAttachment('default', 'c.eth1', rec);
  assert.deepEqual(c.view().attachments, [rec]);
  c.putAttachment('default', 'c.eth1', undefined);
  assert.deepEqual(c.view().attachments, []);
});
