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

// samplepod and my-service as kube-apiserver 1.36 returns them after `kubectl apply -f
// examples/seed/` (managedFields dropped by the store; the last-applied annotation shortened).
const realPod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: 'samplepod',
    namespace: 'default',
    uid: '5d0c9a36-1f0e-4d2b-9a57-0f6b1c2d3e4f',
    resourceVersion: '243',
    creationTimestamp: '2026-12-02T00:25:30Z',
    labels: { app: 'MyApp', demo: 'demo' },
    annotations: {
      'k8s.v1.cni.cncf.io/networks': 'network-blue-conf@eth1, network-red-conf@eth2',
      'kubectl.kubernetes.io/last-applied-configuration': '{"apiVersion":"v1","kind":"Pod"}\n',
    },
  },
  spec: {
    containers: [
      {
        name: 'samplepod',
        image: 'busybox',
        command: ['/bin/sh', '-c', 'trap : TERM INT; sleep infinity & wait'],
        ports: [{ containerPort: 9376, protocol: 'TCP' }],
        resources: {},
        terminationMessagePath: '/dev/termination-log',
        terminationMessagePolicy: 'File',
        imagePullPolicy: 'Always',
      },
    ],
    restartPolicy: 'Always',
    terminationGracePeriodSeconds: 30,
    dnsPolicy: 'ClusterFirst',
    securityContext: {},
    schedulerName: 'default-scheduler',
    tolerations: [
      {
        key: 'node.kubernetes.io/not-ready',
        operator: 'Exists',
        effect: 'NoExecute',
        tolerationSeconds: 300,
      },
    ],
    priority: 0,
    enableServiceLinks: true,
    preemptionPolicy: 'PreemptLowerPriority',
  },
  status: { phase: 'Pending', qosClass: 'BestEffort' },
};
const realService = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: {
    name: 'my-service',
    namespace: 'default',
    uid: '3a858eca-ccbc-433a-8015-60e08e99ffc7',
    resourceVersion: '247',
    creationTimestamp: '2026-12-02T00:25:30Z',
    annotations: {
      'extensions.projectcalico.org/network': 'blue',
      'extensions.projectcalico.org/selector': 'app=MyApp',
    },
  },
  spec: {
    ports: [{ protocol: 'TCP', port: 80, targetPort: 9376 }],
    clusterIP: '10.0.0.79',
    clusterIPs: ['10.0.0.79'],
    type: 'ClusterIP',
    sessionAffinity: 'None',
    ipFamilies: ['IPv4'],
    ipFamilyPolicy: 'SingleStack',
    internalTrafficPolicy: 'Cluster',
  },
  status: { loadBalancer: {} },
};

test('objects as a real API server returns them decode; the server-assigned ClusterIP is kept', () => {
  const pod = decodeStored('Pod', { kind: 'Pod', namespace: 'default', name: 'samplepod', value: realPod });
  assert.ok(pod.ok, JSON.stringify(pod));
  assert.deepEqual(
    pod.value.attachments.map((a) => a.interface),
    ['eth1', 'eth2'],
  );
  const svc = decodeStored('Service', {
    kind: 'Service',
    namespace: 'default',
    name: 'my-service',
    value: realService,
  });
  assert.ok(svc.ok, JSON.stringify(svc));
  assert.equal(svc.value.spec.clusterIP, '10.0.0.79');
  // Still validated: what the user writes is checked as before.
  const bad = { ...realService, spec: { ...realService.spec, sessionAffinity: 'Sticky' } };
  assert.equal(
    decodeStored('Service', { kind: 'Service', namespace: 'default', name: 'my-service', value: bad }).ok,
    false,
  );
});

test('a Namespace decodes to its name and labels; spec, status and server metadata are ignored', () => {
  const ns = (labels: unknown, name = 'prod'): StoredValue => ({
    kind: 'Namespace',
    namespace: '',
    name,
    value: {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'prod', uid: 'u', resourceVersion: '24', labels },
      spec: { finalizers: ['kubernetes'] },
      status: { phase: 'Active' },
    },
  });
  const d = decodeStored('Namespace', ns({ 'kubernetes.io/metadata.name': 'prod', team: 'a' }));
  assert.ok(d.ok);
  assert.deepEqual(d.value, { name: 'prod', labels: { 'kubernetes.io/metadata.name': 'prod', team: 'a' } });
  assert.deepEqual(decodeStored('Namespace', ns(undefined)), {
    ok: true,
    value: { name: 'prod', labels: {} },
  });
  const bad = decodeStored('Namespace', ns({ 'a b': 'x' }));
  assert.ok(!bad.ok && bad.error.field === 'metadata.labels.a b');
  assert.ok(!decodeStored('Namespace', ns({}, 'other')).ok, 'key must match metadata.name');
});
