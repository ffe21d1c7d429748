// The cache the Reconciler trusts between full syncs must equal what a re-read would find: after
// any sequence of quick syncs, a second driver that re-reads everything finds nothing to change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FakeDataplane, FakeKernel } from './fake.js';
import type { DesiredNode } from './types.js';

const NETS = [
  { name: 'blue', vni: 56 },
  { name: 'red', vni: 88 },
];

function desired(step: {
  nets: boolean[];
  pods: number[];
  remotePods: number[];
  remoteAt: number;
}): DesiredNode {
  const nets = NETS.filter((_, i) => step.nets[i]);
  return {
    name: 'n1',
    netns: 'node1',
    underlay: { address: '10.99.0.1', mtu: 1500 },
    networks: nets.map((n) => ({ ...n, ranges: ['10.50.0.0/16'] })),
    // pod i lives in pod namespace i%6, on network i%2 when present
    pods: step.pods
      .filter((i) => nets.some((n) => n.name === NETS[i % 2]!.name))
      .map((i) => ({
        network: NETS[i % 2]!.name,
        netns: `pod${i % 6}`,
        ifname: `eth${i}`,
        addresses: [`10.50.0.${i + 1}`],
        routes: ['10.50.0.0/16'],
        defaultRoute: i % 3 === 0,
      })),
    remotes: [
      {
        name: 'n2',
        underlay: `10.99.0.${step.remoteAt}`,
        pods: Object.fromEntries(nets.map((n) => [n.name, step.remotePods.map((j) => `10.50.1.${j + 1}`)])),
      },
    ],
  };
}

const stepArb = fc.record({
  nets: fc.tuple(fc.boolean(), fc.boolean()).map((t) => [...t]),
  pods: fc.uniqueArray(fc.integer({ min: 0, max: 11 }), { maxLength: 8 }),
  remotePods: fc.uniqueArray(fc.integer({ min: 0, max: 5 }), { maxLength: 4 }),
  remoteAt: fc.integer({ min: 2, max: 3 }),
});

test('after any sequence of quick syncs, a full re-read finds nothing to change', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 6 }), async (steps) => {
      const kernel = new FakeKernel();
      kernel.addNamespace('node1');
      for (let i = 0; i < 6; i++) kernel.addNamespace(`pod${i}`);
      const quick = new FakeDataplane(kernel);
      for (const s of steps) {
        const r = await quick.sync(desired(s));
        assert.deepEqual(r.errors, []);
        const check = await new FakeDataplane(kernel).sync(desired(s), { full: true });
        assert.equal(check.changes, 0, JSON.stringify(s));
        assert.equal((await quick.sync(desired(s))).changes, 0);
      }
    }),
    { numRuns: 150 },
  );
});

test('a failed sync drops the cache: the next quick sync re-reads and repairs', async () => {
  const kernel = new FakeKernel();
  kernel.addNamespace('node1');
  for (let i = 0; i < 6; i++) kernel.addNamespace(`pod${i}`);
  const dp = new FakeDataplane(kernel);
  const s = { nets: [true, false], pods: [0, 2], remotePods: [1], remoteAt: 2 };
  kernel.failWhen = (op) => op.kind === 'route-replace' && op.route.dst === '10.50.1.2/32';
  assert.ok((await dp.sync(desired(s))).failed > 0);
  kernel.failWhen = undefined;
  const p0 = kernel.processes;
  const r = await dp.sync(desired(s));
  assert.deepEqual(r.errors, []);
  assert.equal(r.changes, 1);
  assert.ok(kernel.processes - p0 > 2, 'it read the kernel again');
  assert.equal((await new FakeDataplane(kernel).sync(desired(s), { full: true })).changes, 0);
});
