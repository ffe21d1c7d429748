// ADD step by step against fakes that journal every side effect: a failure at each step undoes
// exactly the steps before it, latest first.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KIND_ATTACHMENT } from '../calc/records.js';
import { PROTOCOL_VERSION, type CniRequest } from '../cni/protocol.js';
import { CniError } from '../cni/spec.js';
import { podKey } from '../dataplane/naming.js';
import type { SyncError, SyncReport } from '../dataplane/types.js';
import { MemoryStore } from '../store/memory.js';
import { silentLogger } from '../util/log.js';
import type { AddressAllocator, AllocateRequest } from './allocator.js';
import { AttachmentService } from './attach.js';
import { ClusterCache, KIND_NETWORK } from './cache.js';

const NETNS = '/run/netns/p';
const blue = {
  apiVersion: 'projectcalico.org/v3',
  kind: 'Network',
  metadata: { name: 'blue' },
  spec: { vni: 56, range: '172.19.0.0/16' },
};
const mine = podKey({ network: 'blue', netns: NETNS, ifname: 'eth1' });

function addReq(extra: Partial<CniRequest> = {}): CniRequest {
  return {
    protocol: PROTOCOL_VERSION,
    command: 'ADD',
    containerId: 'cid',
    netns: NETNS,
    ifName: 'eth1',
    args: { K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: 'p' },
    netConf: {
      cniVersion: '1.0.0',
      name: 'network-blue',
      type: 'calico',
      ipam: { type: 'whereabouts' },
      dataplane_options: { network_name: 'blue' },
    },
    ipam: 'agent',
    ...extra,
  };
}

function report(errors: SyncError[] = []): SyncReport {
  return { changes: 0, failed: errors.length, errors, processes: 0, batches: 0, durationMs: 0 };
}

type Fail = 'allocate' | 'create' | 'sync' | 'race' | undefined;

/** An AttachmentService whose store, IPAM and sync journal what they do; `fail` breaks one step. */
async function setup(
  fail: Fail,
  syncErrors: SyncError[] = [{ netns: NETNS, op: 'x', message: 'boom', podKey: mine }],
) {
  const journal: string[] = [];
  const store = new MemoryStore();
  await store.create({ kind: KIND_NETWORK, namespace: '', name: 'blue' }, blue);
  const cache = new ClusterCache();
  cache.replace(KIND_NETWORK, (await store.list(KIND_NETWORK)).items);
  const create = store.create.bind(store);
  const del = store.delete.bind(store);
  store.create = async (key, value) => {
    if (key.kind !== KIND_ATTACHMENT) return create(key, value);
    journal.push('create record');
    if (fail === 'create') throw new Error('store down');
    if (fail === 'race') {
      // a concurrent ADD of the same interface records first
      await create(key, value);
      return create(key, value);
    }
    return create(key, value);
  };
  store.delete = async (key, opts) => {
    if (key.kind === KIND_ATTACHMENT) journal.push('delete record');
    return del(key, opts);
  };
  const ipam: AddressAllocator = {
    async allocate(_r: AllocateRequest) {
      journal.push('allocate');
      if (fail === 'allocate') throw new Error('pool exhausted');
      return ['172.19.0.2'];
    },
    async release() {
      journal.push('release');
    },
  };
  let syncs = 0;
  const svc = new AttachmentService({
    node: 'n1',
    store,
    cache,
    ipam,
    // Only the first sync (the one programming the ADD) fails; the undo's sync succeeds.
    sync: async () => {
      journal.push(`sync (${cache.attachments.size} attachment)`);
      return report(fail === 'sync' && syncs++ === 0 ? syncErrors : []);
    },
    inspectPod: async () => undefined,
    log: silentLogger,
  });
  return { svc, store, cache, journal };
}

const ctx = { signal: new AbortController().signal };

describe('ADD step by step', () => {
  test('success: allocate, record, program; nothing undone', async () => {
    const { svc, cache, journal } = await setup(undefined);
    const r = await svc.add(addReq(), ctx);
    assert.equal(r.ips?.[0]?.address, '172.19.0.2/32');
    assert.deepEqual(journal, ['allocate', 'create record', 'sync (1 attachment)']);
    assert.equal(cache.attachments.size, 1);
  });

  test('a concurrent ADD of the same interface that recorded first wins: its addresses are not released', async () => {
    const { svc, store, journal } = await setup('race');
    const r = await svc.add(addReq(), ctx);
    assert.equal(r.ips?.[0]?.address, '172.19.0.2/32');
    assert.deepEqual(journal, ['allocate', 'create record', 'sync (0 attachment)']);
    assert.equal((await store.list(KIND_ATTACHMENT)).items.length, 1);
  });

  const cases: { fail: Fail; code: number; msg: RegExp; journal: string[] }[] = [
    { fail: 'allocate', code: 102, msg: /allocation/, journal: ['allocate'] },
    {
      fail: 'create',
      code: 100,
      msg: /attachment failed/,
      journal: ['allocate', 'create record', 'release'],
    },
    {
      fail: 'sync',
      code: 100,
      msg: /dataplane programming failed/,
      journal: [
        'allocate',
        'create record',
        'sync (1 attachment)',
        // undo, latest first: the record (and the kernel re-synced without it), then the address
        'delete record',
        'sync (0 attachment)',
        'release',
      ],
    },
  ];
  for (const c of cases)
    test(`a failing ${c.fail} undoes exactly the steps before it`, async () => {
      const { svc, store, cache, journal } = await setup(c.fail);
      await assert.rejects(
        svc.add(addReq(), ctx),
        (e: unknown) => e instanceof CniError && e.code === c.code && c.msg.test(e.msg),
      );
      assert.deepEqual(journal, c.journal);
      assert.equal((await store.list(KIND_ATTACHMENT)).items.length, 0);
      assert.equal(cache.attachments.size, 0);
    });

  test('an unknown Network fails before any step', async () => {
    const { svc, journal } = await setup(undefined);
    const conf = { ...addReq().netConf, dataplane_options: { network_name: 'red' } };
    await assert.rejects(svc.add(addReq({ netConf: conf }), ctx), (e: CniError) => e.code === 7);
    assert.deepEqual(journal, []);
  });

  test('delegated addresses are not released by the agent (the plugin releases them)', async () => {
    const { svc, journal } = await setup('create');
    const ipamResult = { cniVersion: '1.1.0', ips: [{ address: '10.1.0.5/24' }] };
    await assert.rejects(svc.add(addReq({ ipam: 'delegated', ipamResult }), ctx), /attachment failed/);
    assert.deepEqual(journal, ['create record']);
  });

  test('a Network read from the store ahead of the watch is programmed with the record', async () => {
    const { svc, store, cache, journal } = await setup(undefined);
    cache.replace(KIND_NETWORK, []); // the watch has not delivered it yet
    const r = await svc.add(addReq(), ctx);
    assert.deepEqual(r.routes, [{ dst: '172.19.0.0/16', gw: '169.254.1.1' }]);
    assert.ok(cache.networks.has('blue'), 'the sync sees the Network of the record');
    assert.deepEqual(journal, ['allocate', 'create record', 'sync (1 attachment)']);
    assert.equal((await store.list(KIND_ATTACHMENT)).items.length, 1);
  });
});

describe('which sync failures fail the ADD', () => {
  const other = podKey({ network: 'blue', netns: '/run/netns/q', ifname: 'eth1' });
  const sibling = podKey({ network: 'blue', netns: NETNS, ifname: 'eth0' });
  const cases: { name: string; errors: SyncError[]; fails: string | undefined }[] = [
    {
      name: "another pod's failure does not",
      errors: [{ netns: '/run/netns/q', op: 'addr-add eth1', message: 'x', podKey: other }],
      fails: undefined,
    },
    {
      name: 'its own, reported even after another pod',
      errors: [
        { netns: '/run/netns/q', op: 'q', message: 'x', podKey: other },
        { netns: 'mn-vrf-a', op: 'veth-create-host', message: 'y', podKey: mine },
      ],
      fails: 'mn-vrf-a: veth-create-host: y',
    },
    {
      name: "a sibling interface's (its pod's rules) does",
      errors: [{ netns: NETNS, op: 'rule-add', message: 'z', podKey: sibling }],
      fails: `${NETNS}: rule-add: z`,
    },
    {
      name: 'shared state (no pod named) does',
      errors: [{ netns: '(root)', op: 'netns-add', message: 'w' }],
      fails: '(root): netns-add: w',
    },
  ];
  for (const c of cases)
    test(c.name, async () => {
      const { svc, journal } = await setup('sync', c.errors);
      const p = svc.add(addReq(), ctx);
      if (c.fails === undefined) {
        await p;
        assert.deepEqual(journal, ['allocate', 'create record', 'sync (1 attachment)']);
      } else await assert.rejects(p, (e: CniError) => e.details === c.fails);
    });
});
