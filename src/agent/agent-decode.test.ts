// Stored objects the agent cannot decode (an older version wrote them, or a hand-made write): the
// agent logs them by name, keeps running, and its dataplane keeps what it had.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { MemoryStore } from '../store/memory.js';
import { FakeDataplane } from '../dataplane/fake.js';
import { Agent } from './agent.js';
import type { AddressAllocator } from './allocator.js';
import { blueNetwork, blueRequest } from '../testing/agent-fixtures.js';

const ipam: AddressAllocator = {
  allocate: async () => ['172.19.0.2'],
  release: async () => undefined,
};
const blue = blueNetwork;
const add = blueRequest('ADD', 'pa');

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), 'timed out');
}

test('undecodable stored objects are logged by name, skipped, and tear nothing down', async () => {
  const store = new MemoryStore();
  const dp = new FakeDataplane();
  dp.kernel.addNamespace('mn-n1');
  dp.kernel.addNamespace('/run/netns/pa');
  const warnings: { object?: string; msg: string }[] = [];
  const log = pino({ level: 'warn' }, { write: (s: string) => void warnings.push(JSON.parse(s)) });
  const netKey = { kind: 'Network', namespace: '', name: 'blue' };
  await store.create(netKey, blue({ vni: 56, range: '172.19.0.0/16' }));
  // Present from the start: a pod manifest and an attachment record no version of ours writes.
  await store.create({ kind: 'Pod', namespace: 'default', name: 'odd' }, { kind: 'Pod', spec: 1 });
  await store.create({ kind: 'Attachment', namespace: 'default', name: 'x.eth1' }, { ips: 'none' });
  const agent = new Agent({
    node: 'n1',
    netns: 'mn-n1',
    underlay: '10.99.0.1',
    mtu: 1500,
    store,
    dataplane: dp,
    ipam,
    log,
    resyncMs: 0,
  });
  await agent.start();
  assert.deepEqual(warnings.map((w) => w.object).sort(), ['Attachment/default/x.eth1', 'Pod/default/odd']);
  await agent.handler.add(add, { signal: new AbortController().signal });
  const pod = dp.kernel.ns('/run/netns/pa');
  assert.ok(pod.routes.some((r) => r.dst === '172.19.0.0/16' && r.dev === 'eth1'));

  // The Network's next revision does not decode: logged, and the pod keeps its network.
  const cur = (await store.get(netKey))!;
  await store.update(netKey, blue({ vni: 56, range: '172.19.0.0/16', colour: 'red' }), cur.resourceVersion);
  await until(() => warnings.some((w) => w.object === 'Network/blue'));
  const report = await agent.sync();
  assert.equal(report.changes, 0, 'nothing changed in the kernel');
  assert.ok(pod.routes.some((r) => r.dst === '172.19.0.0/16' && r.dev === 'eth1'));
  assert.equal(agent.desired().networks[0]?.vni, 56);

  // A valid revision is applied as usual.
  const now = (await store.get(netKey))!;
  await store.update(netKey, blue({ vni: 57, range: '172.19.0.0/16' }), now.resourceVersion);
  await until(() => agent.desired().networks[0]?.vni === 57);
  await agent.sync();
  assert.ok([...dp.kernel.namespaces.values()].flatMap((n) => n.links).some((l) => l.vxlan?.vni === 57));
  await agent.stop();
});
