// The pure conversions between the lab's pod record and a Kubernetes Pod: the status the kube lab's
// kubelet writes, and what the lab commands read back from a Pod of the API server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kubePodView, kubeletPodStatus, SANDBOX_FAILED, type KubePod } from './kube-pod-status.js';
import { containerIdFor, makeLabConfig, podNetns } from './layout.js';
import {
  DEFAULT_NETCONF_NAME,
  NETWORK_STATUS_ANNOTATION,
  type NetworkStatusEntry,
  type PodStatus,
} from './pods.js';

const lab = makeLabConfig('t', 2, 'memory://');
const node = lab.nodes[1]!;
const NOW = '2024-05-01T10:00:00.000Z';
const uid = '7b0c1a9e-0000-4000-8000-000000000001';

const pod: KubePod = {
  metadata: { name: 'web', namespace: 'default', uid },
  spec: {
    nodeName: node.name,
    containers: [{ name: 'app', image: 'nginx:1' }, { name: 'side' }],
  },
};

const entry = (name: string, iface: string, ips: string[], isDefault = false): NetworkStatusEntry => ({
  name,
  interface: iface,
  ips,
  mac: '02:00:00:00:00:01',
  ...(isDefault ? { default: true as const } : {}),
  dns: {},
});

function status(over: Partial<PodStatus> = {}): PodStatus {
  return {
    phase: 'Running',
    nodeName: node.name,
    netns: podNetns(lab.name, 'default', 'web', uid),
    uid,
    containerId: containerIdFor('default', 'web', uid),
    attachments: [],
    // The secondary comes first: podIP must still be the default network's eth0.
    networkStatus: [
      entry('default/blue-conf', 'net1', ['10.9.0.9']),
      entry(DEFAULT_NETCONF_NAME, 'eth0', ['10.244.1.5', 'fd00::5'], true),
    ],
    ...over,
  };
}

type Cond = { type: string; status: string; reason?: string; message?: string };
const cond = (s: Record<string, unknown>, type: string): Cond | undefined =>
  (s.conditions as Cond[]).find((c) => c.type === type);

test('kubeletPodStatus: a Running pod gets its eth0 IPs, the node as host, Ready and running containers', () => {
  const s = kubeletPodStatus(pod, status(), node, NOW);
  assert.equal(s.phase, 'Running');
  assert.equal(s.reason, undefined);
  assert.equal(s.message, undefined);
  assert.equal(s.podIP, '10.244.1.5');
  assert.deepEqual(s.podIPs, [{ ip: '10.244.1.5' }, { ip: 'fd00::5' }]);
  assert.equal(s.hostIP, node.underlay);
  assert.deepEqual(s.hostIPs, [{ ip: node.underlay }]);
  assert.equal(s.startTime, NOW);
  for (const t of ['Ready', 'ContainersReady', 'PodReadyToStartContainers', 'Initialized', 'PodScheduled']) {
    assert.equal(cond(s, t)?.status, 'True', t);
  }
  assert.equal(cond(s, 'Ready')?.reason, undefined);
  const cs = s.containerStatuses as Record<string, unknown>[];
  assert.deepEqual(
    cs.map((c) => c.name),
    ['app', 'side'],
  );
  assert.equal(cs[0]!.image, 'nginx:1');
  assert.equal(cs[1]!.image, '');
  for (const c of cs) {
    assert.equal(c.ready, true);
    assert.equal(c.started, true);
    assert.equal(c.containerID, `multinet-lab://${containerIdFor('default', 'web', uid)}`);
    assert.deepEqual(c.state, { running: { startedAt: NOW } });
  }
});

test('kubeletPodStatus keeps a startTime already in the pod status', () => {
  const started = '2024-04-30T00:00:00.000Z';
  const s = kubeletPodStatus({ ...pod, status: { startTime: started } }, status(), node, NOW);
  assert.equal(s.startTime, started);
});

test('kubeletPodStatus: a Failed pod says FailedCreatePodSandBox with the lab reason, not Ready, waiting', () => {
  const reason = 'NetworkAttachmentDefinition default/blue-conf not found';
  const s = kubeletPodStatus(pod, status({ phase: 'Failed', reason, networkStatus: [] }), node, NOW);
  assert.equal(s.phase, 'Failed');
  assert.equal(s.reason, SANDBOX_FAILED);
  assert.equal(SANDBOX_FAILED, 'FailedCreatePodSandBox');
  assert.equal(s.message, reason);
  assert.equal(s.podIP, undefined);
  assert.equal(s.podIPs, undefined);
  assert.equal(s.hostIP, node.underlay);
  for (const t of ['Ready', 'ContainersReady']) {
    const c = cond(s, t);
    assert.equal(c?.status, 'False', t);
    assert.equal(c?.reason, 'ContainersNotReady');
    assert.equal(c?.message, 'containers with unready status: [app side]');
  }
  assert.equal(cond(s, 'PodScheduled')?.status, 'True');
  const cs = s.containerStatuses as Record<string, unknown>[];
  assert.equal(cs.length, 2);
  for (const c of cs) {
    assert.equal(c.ready, false);
    assert.equal(c.started, false);
    assert.deepEqual(c.state, { waiting: { reason: SANDBOX_FAILED, message: reason } });
  }
});

test('kubeletPodStatus: a Failed pod without a reason still has a message', () => {
  const s = kubeletPodStatus(pod, status({ phase: 'Failed', networkStatus: [] }), node, NOW);
  assert.equal(s.message, 'the pod network could not be set up');
});

test('kubePodView: phase, node, netns and container id of a Pod read from the API server', () => {
  const networkStatus = [
    entry(DEFAULT_NETCONF_NAME, 'eth0', ['10.244.1.5'], true),
    entry('default/blue-conf', 'net1', ['10.9.0.9']),
  ];
  const p: KubePod = {
    ...pod,
    metadata: {
      ...pod.metadata,
      annotations: { [NETWORK_STATUS_ANNOTATION]: JSON.stringify(networkStatus, null, 2) },
    },
    status: { phase: 'Running' },
  };
  assert.deepEqual(kubePodView(lab.name, p), {
    phase: 'Running',
    nodeName: node.name,
    netns: podNetns(lab.name, 'default', 'web', uid),
    uid,
    containerId: containerIdFor('default', 'web', uid),
    attachments: [
      { nad: '', ifName: 'eth0' },
      { nad: 'default/blue-conf', ifName: 'net1' },
    ],
  });
  // The pod's UID is part of its netns: a pod recreated under the same name gets another one.
  assert.notEqual(kubePodView(lab.name, p).netns, podNetns(lab.name, 'default', 'web'));
});

test('kubePodView: Pending without a status, Terminating once deletionTimestamp is set, reason from the status', () => {
  const pending = kubePodView(lab.name, { metadata: { name: 'a', namespace: 'ns1', uid: 'u1' } });
  assert.equal(pending.phase, 'Pending');
  assert.equal(pending.nodeName, '');
  assert.deepEqual(pending.attachments, []);
  assert.equal(pending.reason, undefined);
  assert.equal(pending.netns, podNetns(lab.name, 'ns1', 'a', 'u1'));
  assert.equal(pending.containerId, containerIdFor('ns1', 'a', 'u1'));

  const failed = kubePodView(lab.name, {
    ...pod,
    status: { phase: 'Failed', reason: SANDBOX_FAILED, message: 'no NAD' },
  });
  assert.equal(failed.phase, 'Failed');
  assert.equal(failed.reason, 'no NAD');
  assert.equal(
    kubePodView(lab.name, { ...pod, status: { phase: 'Failed', reason: SANDBOX_FAILED } }).reason,
    SANDBOX_FAILED,
  );

  const terminating = kubePodView(lab.name, {
    ...pod,
    metadata: { ...pod.metadata, deletionTimestamp: NOW },
    status: { phase: 'Running' },
  });
  assert.equal(terminating.phase, 'Terminating');
});

test('kubePodView: the namespace defaults to "default"', () => {
  const v = kubePodView(lab.name, { metadata: { name: 'a', uid: 'u1' } });
  assert.equal(v.netns, podNetns(lab.name, 'default', 'a', 'u1'));
  assert.equal(v.containerId, containerIdFor('default', 'a', 'u1'));
});

test('kubePodView is robust to a malformed network-status annotation', () => {
  const view = (text: string) =>
    kubePodView(lab.name, {
      ...pod,
      metadata: { ...pod.metadata, annotations: { [NETWORK_STATUS_ANNOTATION]: text } },
    });
  for (const bad of ['', '{not json', '{"name": "x"}', '"eth0"', 'null', '42']) {
    assert.deepEqual(view(bad).attachments, [], bad);
  }
  // Entries that are not objects with an interface are skipped; the others are kept.
  assert.deepEqual(
    view(
      JSON.stringify([
        null,
        3,
        'x',
        { name: 'default/blue-conf' },
        { name: DEFAULT_NETCONF_NAME, interface: 'eth0' },
      ]),
    ).attachments,
    [{ nad: '', ifName: 'eth0' }],
  );
});
