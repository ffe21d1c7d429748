// The kube lab's scheduler: the pure pick, and the list-watch loop binding unscheduled pods.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../store/memory.js';
import { silentLogger } from '../util/log.js';
import type { KubePod } from './kube-pod-status.js';
import { LabScheduler, pickLeastLoaded, type Bind } from './scheduler.js';

const on = (nodeName: string, deleting = false): KubePod => ({
  metadata: { name: 'p', ...(deleting ? { deletionTimestamp: '2024-05-01T00:00:00Z' } : {}) },
  spec: { nodeName },
});

test('pickLeastLoaded: the node with the fewest pods', () => {
  assert.equal(pickLeastLoaded(['n1', 'n2', 'n3'], [on('n1'), on('n1'), on('n2'), on('n3'), on('n3')]), 'n2');
  assert.equal(pickLeastLoaded(['n1', 'n2'], [on('n1')]), 'n2');
});

test('pickLeastLoaded: ties go to the first name', () => {
  assert.equal(pickLeastLoaded(['n2', 'n1', 'n3'], []), 'n1');
  assert.equal(pickLeastLoaded(['b', 'a'], [on('a'), on('b')]), 'a');
});

test('pickLeastLoaded: terminating pods, unscheduled pods and pods on unknown nodes do not count', () => {
  assert.equal(pickLeastLoaded(['n1', 'n2'], [on('n1', true), on('n1', true), on('n2')]), 'n1');
  assert.equal(pickLeastLoaded(['n1', 'n2'], [on('gone'), on('gone'), on('n1')]), 'n2');
  assert.equal(pickLeastLoaded(['n1', 'n2'], [{ metadata: { name: 'x' } }, {}, on('n1')]), 'n2');
});

/** A Pod as the API server holds it. */
function kubePod(
  name: string,
  extra: { nodeName?: string; deletionTimestamp?: string } = {},
): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'default',
      uid: `uid-${name}`,
      ...(extra.deletionTimestamp ? { deletionTimestamp: extra.deletionTimestamp } : {}),
    },
    spec: {
      containers: [{ name: 'c', image: 'busybox' }],
      ...(extra.nodeName ? { nodeName: extra.nodeName } : {}),
    },
  };
}

const addPod = (store: MemoryStore, value: Record<string, unknown>) =>
  store.create({ kind: 'Pod', namespace: 'default', name: (value.metadata as { name: string }).name }, value);

interface BindCall {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly node: string;
}

/** A binder that records its calls and, as the API server does, sets spec.nodeName in the store. */
function recordingBinder(store: MemoryStore, fail: (call: BindCall, n: number) => boolean = () => false) {
  const calls: BindCall[] = [];
  const bind: Bind = async (namespace, name, uid, node) => {
    const call = { namespace, name, uid, node };
    calls.push(call);
    if (fail(call, calls.filter((c) => c.name === name).length)) throw new Error('API server away');
    const cur = await store.get<{ spec: Record<string, unknown> }>({ kind: 'Pod', namespace, name });
    assert.ok(cur);
    await store.update(
      { kind: 'Pod', namespace, name },
      { ...cur.value, spec: { ...cur.value.spec, nodeName: node } },
      cur.resourceVersion,
    );
  };
  return { calls, bind };
}

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('LabScheduler binds unscheduled pods over the nodes and leaves bound and terminating ones alone', async () => {
  const store = new MemoryStore();
  await addPod(store, kubePod('fixed', { nodeName: 'n1' }));
  await addPod(store, kubePod('old', { nodeName: 'n2', deletionTimestamp: '2024-05-01T00:00:00Z' }));
  await addPod(store, kubePod('dying', { deletionTimestamp: '2024-05-01T00:00:00Z' }));
  for (const n of ['a', 'b', 'c', 'd']) await addPod(store, kubePod(n));
  const { calls, bind } = recordingBinder(store);
  const ac = new AbortController();
  const done = new LabScheduler({ nodes: ['n1', 'n2'], store, bind, log: silentLogger }).run(ac.signal);
  try {
    await until('four bindings', () => calls.length >= 4);
    // n1 holds `fixed`; `old` on n2 is terminating and does not count: a goes to n2, then alternately.
    assert.deepEqual(calls, [
      { namespace: 'default', name: 'a', uid: 'uid-a', node: 'n2' },
      { namespace: 'default', name: 'b', uid: 'uid-b', node: 'n1' },
      { namespace: 'default', name: 'c', uid: 'uid-c', node: 'n2' },
      { namespace: 'default', name: 'd', uid: 'uid-d', node: 'n1' },
    ]);
    // A pod created later is bound through the watch, to the node with fewer pods.
    await addPod(store, kubePod('e'));
    await until('the fifth binding', () => calls.length >= 5);
    assert.deepEqual(calls[4], { namespace: 'default', name: 'e', uid: 'uid-e', node: 'n2' });
    // The bindings' own events (spec.nodeName set) bind nothing again.
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(calls.length, 5);
    assert.ok(!calls.some((c) => ['fixed', 'old', 'dying'].includes(c.name)));
  } finally {
    ac.abort();
    await done;
  }
});

test('LabScheduler skips a pod without a UID', async () => {
  const store = new MemoryStore();
  const p = kubePod('nouid');
  await addPod(store, { ...p, metadata: { name: 'nouid', namespace: 'default' } });
  await addPod(store, kubePod('ok'));
  const { calls, bind } = recordingBinder(store);
  const ac = new AbortController();
  const done = new LabScheduler({ nodes: ['n1'], store, bind, log: silentLogger }).run(ac.signal);
  try {
    await until('a binding', () => calls.length >= 1);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(
      calls.map((c) => c.name),
      ['ok'],
    );
  } finally {
    ac.abort();
    await done;
  }
});

test('LabScheduler retries a failing binding without any further event, until it works', async () => {
  const store = new MemoryStore();
  await addPod(store, kubePod('a'));
  // Fails twice: the retry timer must be armed again after a retry that failed.
  const { calls, bind } = recordingBinder(store, (_c, n) => n <= 2);
  const ac = new AbortController();
  const done = new LabScheduler({ nodes: ['n1', 'n2'], store, bind, log: silentLogger, retryMs: 20 }).run(
    ac.signal,
  );
  try {
    let nodeName: string | undefined;
    const key = { kind: 'Pod', namespace: 'default', name: 'a' };
    const end = Date.now() + 5000;
    while (!nodeName && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 5));
      nodeName = (await store.get<{ spec: { nodeName?: string } }>(key))?.value.spec.nodeName;
    }
    assert.equal(nodeName, 'n1');
    assert.deepEqual(
      calls.map((c) => `${c.name}@${c.node}`),
      ['a@n1', 'a@n1', 'a@n1'],
    );
    // Bound: no more attempts.
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(calls.length, 3);
  } finally {
    ac.abort();
    await done;
  }
});
