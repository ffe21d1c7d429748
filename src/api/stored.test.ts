import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadPaths } from './load.js';
import { validateDocuments } from './index.js';
import {
  decodeStored,
  isStoredKind,
  MANIFEST_KINDS,
  STORED_KINDS,
  storeKey,
  type StoredValue,
} from './stored.js';
import { repoRoot } from './test-root.js';
import type { Resource } from './types.js';

const network = (spec: unknown, name = 'blue'): StoredValue => ({
  kind: 'Network',
  namespace: '',
  name,
  value: { apiVersion: 'projectcalico.org/v3', kind: 'Network', metadata: { name }, spec },
});

/** A resource without where it was read from (a decoded one says `<store>`). */
const bare = (r: Resource): unknown => ({ ...r, source: undefined });

test('every manifest kind and record kind has a decoder', () => {
  for (const k of MANIFEST_KINDS) assert.ok(isStoredKind(k), k);
  assert.ok(isStoredKind('Node') && isStoredKind('Attachment'));
  assert.ok(!isStoredKind('IPReservation') && !isStoredKind('toString'));
  assert.equal(new Set(STORED_KINDS).size, STORED_KINDS.length);
});

test('each seed manifest, stored under its key, decodes to what validation gave', async () => {
  const loaded = await loadPaths([join(repoRoot(import.meta.url), 'examples', 'seed')]);
  const report = validateDocuments(loaded.documents, loaded.issues);
  assert.ok(report.resources.length >= 10);
  report.objects.forEach((o, i) => {
    if (!o.resource) return;
    const key = storeKey(o.resource);
    const d = decodeStored(key.kind, { ...key, value: loaded.documents[i]!.value });
    assert.ok(d.ok, `${o.ref}: ${d.ok ? '' : JSON.stringify(d.error)}`);
    assert.deepEqual(bare(d.value as Resource), bare(o.resource));
  });
});

test('a Network that does not decode names the object, the field and the reason', () => {
  const d = decodeStored('Network', network({ vni: 0, range: '10.1.0.0/16' }));
  assert.deepEqual(d, {
    ok: false,
    error: { object: 'Network/blue', field: 'spec.vni', reason: '0 is out of range 1..16777215' },
  });
  const port = decodeStored('Network', network({ vni: 5, range: '10.1.0.0/16', vxlanPort: 70000 }));
  assert.equal(!port.ok && port.error.field, 'spec.vxlanPort');
});

test('vxlanPort is a Network field: absent stays absent, given is kept', () => {
  const a = decodeStored('Network', network({ vni: 5, range: '10.1.0.0/16' }));
  assert.ok(a.ok && a.value.spec.vxlanPort === undefined);
  const b = decodeStored('Network', network({ vni: 5, range: '10.1.0.0/16', vxlanPort: 8472 }));
  assert.ok(b.ok && b.value.spec.vxlanPort === 8472);
});

test('the stored key must be the manifest identity', () => {
  const other = decodeStored('Network', { ...network({ vni: 5, range: '10.1.0.0/16' }), name: 'red' });
  assert.deepEqual(!other.ok && other.error, {
    object: 'Network/red',
    field: 'metadata.name',
    reason: 'is blue, stored as red',
  });
  const kind = decodeStored('Service', network({ vni: 5, range: '10.1.0.0/16' }));
  assert.equal(!kind.ok && kind.error.field, 'kind');
  const notObject = decodeStored('Pod', { kind: 'Pod', namespace: 'default', name: 'p', value: 'x' });
  assert.equal(notObject.ok, false);
});

test("a stored Pod's status (the lab's) is not part of its manifest", () => {
  const d = decodeStored('Pod', {
    kind: 'Pod',
    namespace: 'default',
    name: 'p',
    value: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p' },
      spec: { containers: [{ name: 'c' }] },
      status: { phase: 'Running', anything: [1] },
    },
  });
  assert.ok(d.ok && d.value.metadata.name === 'p' && d.value.metadata.namespace === 'default');
});

const attachment = {
  containerId: 'c1',
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
  createdAt: '2026-01-01T00:00:00Z',
};
const att = (value: unknown): StoredValue => ({
  kind: 'Attachment',
  namespace: 'default',
  name: 'c1.eth1',
  value,
});

test('records written by an older agent still decode (unknown fields are dropped)', () => {
  const old = decodeStored('Attachment', att({ ...attachment, status: { name: 'default/blue' } }));
  assert.deepEqual(old, { ok: true, value: attachment });
  const node = decodeStored('Node', {
    kind: 'Node',
    namespace: '',
    name: 'n1',
    value: { name: 'n1', underlay: '10.99.0.1', mtu: 1500, netns: 'mn-n1', lastSync: 'then' },
  });
  assert.deepEqual(node, {
    ok: true,
    value: { name: 'n1', underlay: '10.99.0.1', mtu: 1500, netns: 'mn-n1' },
  });
});

test('a record missing what the dataplane needs does not decode', () => {
  const { ips: _ips, ...noIps } = attachment;
  assert.deepEqual(decodeStored('Attachment', att(noIps)), {
    ok: false,
    error: { object: 'Attachment/default/c1.eth1', field: 'ips', reason: 'is required' },
  });
  const bad = decodeStored('Attachment', att({ ...attachment, ips: [7] }));
  assert.equal(!bad.ok && bad.error.field, 'ips[0]');
  const renamed = decodeStored('Node', {
    kind: 'Node',
    namespace: '',
    name: 'n2',
    value: { name: 'n1', underlay: '10.99.0.1', mtu: 1500, netns: 'mn-n1' },
  });
  assert.equal(!renamed.ok && renamed.error.field, 'name');
});
