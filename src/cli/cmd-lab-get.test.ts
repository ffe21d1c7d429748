// `lab get` over a store holding the seed (as `lab apply` leaves it): rows come from the decoded
// model, derived columns from calc; no lab (namespaces, agents) is needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadPaths } from '../api/load.js';
import { storeKey, validateDocuments } from '../api/index.js';
import { repoRoot } from '../api/test-root.js';
import { MemoryStore } from '../store/memory.js';
import { readCluster } from '../lab/cluster.js';
import type { AttachmentRecord } from '../calc/records.js';
import { formatGet } from './cmd-lab.js';

async function seededStore(): Promise<MemoryStore> {
  const store = new MemoryStore();
  const loaded = await loadPaths([join(repoRoot(import.meta.url), 'examples', 'seed')]);
  const report = validateDocuments(loaded.documents, loaded.issues);
  for (const [i, o] of report.objects.entries()) {
    if (!o.resource) continue;
    let value = loaded.documents[i]!.value as Record<string, unknown>;
    if (o.resource.type === 'Service')
      value = { ...value, spec: { ...(value.spec as object), clusterIP: '10.96.0.2' } };
    if (o.resource.type === 'Pod' && o.resource.metadata.name === 'samplepod')
      value = {
        ...value,
        status: {
          phase: 'Running',
          nodeName: 'node1',
          netns: 'mn-pod-s',
          containerId: 'cs',
          attachments: [],
        },
      };
    await store.create(storeKey(o.resource), value);
  }
  const att = (ifName: string, network: string, ip: string): AttachmentRecord => ({
    containerId: 'cs',
    ifName,
    podNamespace: 'default',
    podName: 'samplepod',
    node: 'node1',
    netns: '/var/run/netns/mn-pod-s',
    network,
    netConfName: `network-${network}`,
    ips: [ip],
    mac: '02:00:00:00:00:01',
    delegatedIpam: false,
    defaultRoute: false,
    createdAt: '',
  });
  for (const a of [att('eth1', 'blue', '172.19.0.2'), att('eth2', 'red', '172.21.0.2')])
    await store.create({ kind: 'Attachment', namespace: 'default', name: `cs.${a.ifName}` }, a);
  // Written by hand, not decodable: left out of every listing.
  await store.create({ kind: 'Network', namespace: '', name: 'broken' }, { spec: { vni: 'x' } });
  return store;
}

const lines = (s: string): string[][] => s.split('\n').map((l) => l.trim().split(/\s{2,}/));

test('lab get: networks, nads, pods from the decoded cluster', async () => {
  const c = await readCluster(await seededStore());
  assert.deepEqual(
    c.undecodable().map((e) => e.object),
    ['Network/broken'],
  );
  assert.deepEqual(lines(formatGet(c, 'networks', [], 'wide')), [
    ['NAME', 'VNI', 'RANGE', 'PODS', 'POD NAMES'],
    ['blue', '56', '172.19.0.0/16', '1', 'default/samplepod'],
    ['red', '88', '172.21.0.0/16', '1', 'default/samplepod'],
  ]);
  assert.deepEqual(lines(formatGet(c, 'network', ['red'], 'table')).slice(1), [
    ['red', '88', '172.21.0.0/16', '1'],
  ]);
  const nads = lines(formatGet(c, 'nads', [], 'table'));
  assert.deepEqual(nads[0], ['NAMESPACE', 'NAME', 'NETWORK', 'IPAM', 'RANGES']);
  assert.ok(nads.some((r) => r.join('|') === 'default|network-blue-conf|blue|whereabouts|(network range)'));
  const pods = lines(formatGet(c, 'pods', ['samplepod', 'samplepod2'], 'table'));
  assert.deepEqual(pods.slice(1), [
    ['default', 'samplepod', 'node1', 'Running', 'eth1=blue:172.19.0.2 eth2=red:172.21.0.2'],
    ['default', 'samplepod2', 'Pending'],
  ]);
  const json = JSON.parse(formatGet(c, 'networks', ['blue'], 'json')) as { spec: unknown }[];
  assert.deepEqual(json, [
    {
      apiVersion: 'projectcalico.org/v3',
      kind: 'Network',
      metadata: { name: 'blue' },
      spec: { vni: 56, range: '172.19.0.0/16' },
    },
  ]);
});

test('lab get: services with endpoints and policies with the interfaces they police', async () => {
  const c = await readCluster(await seededStore());
  const svc = lines(formatGet(c, 'svc', [], 'wide'));
  assert.deepEqual(svc, [
    ['NAMESPACE', 'NAME', 'NETWORK', 'CLUSTER-IP', 'PORTS', 'SELECTOR', 'ENDPOINTS'],
    ['default', 'my-service', 'blue', '10.96.0.2', '80->9376/TCP', 'app=MyApp', '80/TCP=172.19.0.2:9376'],
  ]);
  const pol = lines(formatGet(c, 'policies', [], 'wide'));
  assert.deepEqual(pol, [
    ['NAMESPACE', 'NAME', 'ORDER', 'SELECTOR', 'TYPES', 'NETWORKS', 'APPLIES TO'],
    [
      'default',
      'pol',
      "demo == 'demo'",
      'Ingress,Egress',
      '(default),blue,red',
      'blue: samplepod/eth1; red: samplepod/eth2',
    ],
  ]);
  assert.throws(() => formatGet(c, 'gizmos', [], 'table'), /unknown resource type "gizmos"/);
});
