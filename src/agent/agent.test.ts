import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../store/memory.js';
import { FakeDataplane } from '../dataplane/fake.js';
import { silentLogger } from '../util/log.js';
import { CniError } from '../cni/spec.js';
import { Agent } from './agent.js';
import type { AddressAllocator, AllocateRequest } from './allocator.js';
import type { CniRequest } from '../cni/protocol.js';
import { KIND_ATTACHMENT } from '../calc/records.js';
import { ALLOCATION_KIND, RESERVATION_KIND } from '../ipam/records.js';
import { StoreAllocator } from './store-allocator.js';
import { FakeMemifForwarder } from './memif.js';
import { BLUE_NETCONF, blueNetwork } from '../testing/agent-fixtures.js';

class FakeAllocator implements AddressAllocator {
  next = 2;
  held = new Map<string, string>();
  released: string[] = [];
  requests: AllocateRequest[] = [];
  async allocate(req: AllocateRequest): Promise<string[]> {
    this.requests.push(req);
    const k = `${req.network}/${req.containerId}/${req.ifName}`;
    const have = this.held.get(k);
    if (have) return [have];
    const base = req.ranges[0]!.range.split('.').slice(0, 3).join('.');
    const ip = `${base}.${this.next++}`;
    this.held.set(k, ip);
    return [ip];
  }
  async release(req: { network: string; containerId: string; ifName: string }): Promise<void> {
    const k = `${req.network}/${req.containerId}/${req.ifName}`;
    if (this.held.delete(k)) this.released.push(k);
  }
}

const blueConf = BLUE_NETCONF;

function req(
  command: CniRequest['command'],
  pod: string,
  ifName: string,
  netns: string,
  conf = blueConf,
): CniRequest {
  return {
    protocol: 1,
    command,
    containerId: `cid-${pod}`,
    netns,
    ifName,
    args: { K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: pod },
    netConf: conf,
    ipam: 'agent',
  };
}

const ctx = { signal: new AbortController().signal };

async function setup(
  store = new MemoryStore(),
  dp = new FakeDataplane(),
  node = 'n1',
  underlay = '10.99.0.1',
  ipam = new FakeAllocator(),
) {
  await store.create({ kind: 'Network', namespace: '', name: 'blue' }, blueNetwork()).catch(() => undefined);
  if (!dp.kernel.namespaces.has(`mn-${node}`)) dp.kernel.addNamespace(`mn-${node}`);
  const agent = new Agent({
    node,
    netns: `mn-${node}`,
    underlay,
    mtu: 1500,
    store,
    dataplane: dp,
    ipam,
    log: silentLogger,
    resyncMs: 0,
  });
  await agent.start();
  return { store, dp, ipam, agent };
}

describe('agent', () => {
  test('ADD attaches, records and answers; DEL undoes and is idempotent', async () => {
    const { store, dp, ipam, agent } = await setup();
    dp.kernel.addNamespace('/run/netns/pa');
    const r = await agent.handler.add(req('ADD', 'pa', 'eth1', '/run/netns/pa'), ctx);
    assert.equal(r.ips?.[0]?.address, '172.19.0.2/32');
    assert.equal(r.ips?.[0]?.gateway, '169.254.1.1');
    assert.deepEqual(r.routes, [{ dst: '172.19.0.0/16', gw: '169.254.1.1' }]);
    const pod = dp.kernel.ns('/run/netns/pa');
    assert.ok(pod.links.some((l) => l.name === 'eth1'));
    assert.ok(pod.addrs.some((a) => a.cidr === '172.19.0.2/32'));
    const recs = await store.list(KIND_ATTACHMENT);
    assert.equal(recs.items.length, 1);
    // same ADD again: same answer, nothing new
    const r2 = await agent.handler.add(req('ADD', 'pa', 'eth1', '/run/netns/pa'), ctx);
    assert.deepEqual(r2, r);
    await agent.handler.check(req('CHECK', 'pa', 'eth1', '/run/netns/pa'), ctx);

    await agent.handler.del(req('DEL', 'pa', 'eth1', '/run/netns/pa'), ctx);
    assert.equal((await store.list(KIND_ATTACHMENT)).items.length, 0);
    assert.ok(!pod.links.some((l) => l.name === 'eth1'));
    assert.deepEqual(ipam.released, ['blue/cid-pa/eth1']);
    await agent.handler.del(req('DEL', 'pa', 'eth1', '/run/netns/pa'), ctx);
    await agent.handler.del(req('DEL', 'gone', 'eth1', ''), ctx);
    await agent.stop();
  });

  test("the pod's UID (CNI_ARGS K8S_POD_UID) reaches the allocator and the IPAM records; a repeated ADD keeps the address", async () => {
    const fake = new FakeAllocator();
    const withFake = await setup(new MemoryStore(), undefined, 'n1', '10.99.0.1', fake);
    const add = (pod: string, uid: string) => {
      const r = req('ADD', pod, 'eth1', `/run/netns/${pod}`);
      return { ...r, args: { ...r.args, K8S_POD_UID: uid } };
    };
    withFake.dp.kernel.addNamespace('/run/netns/pu');
    await withFake.agent.handler.add(add('pu', 'uid-7'), ctx);
    assert.equal(fake.requests[0]?.podUid, 'uid-7');
    await withFake.agent.stop();
    // The store-backed allocator records it on the reservation and the index.
    const store = new MemoryStore();
    const alloc = new StoreAllocator(store);
    const ranges = [{ range: '172.19.0.0/16', exclude: [] }];
    const base = {
      network: 'blue',
      ranges,
      containerId: 'cid-web-0',
      ifName: 'eth1',
      podNamespace: 'default',
      podName: 'web-0',
    };
    const ips = await alloc.allocate({ ...base, podUid: 'uid-1' });
    assert.deepEqual(await alloc.allocate({ ...base, podUid: 'uid-1' }), ips);
    const resv = (await store.list<{ podUid?: string }>(RESERVATION_KIND, 'blue')).items;
    assert.deepEqual(
      resv.map((r) => [r.name, r.value.podUid]),
      [[ips[0], 'uid-1']],
    );
    const idx = (await store.list<{ podUid?: string }>(ALLOCATION_KIND, 'blue')).items;
    assert.deepEqual(
      idx.map((r) => r.value.podUid),
      ['uid-1'],
    );
  });

  test("a pod's second interface never gets, nor may ask for, the address of its first", async () => {
    const { store, dp, ipam, agent } = await setup();
    dp.kernel.addNamespace('/run/netns/pz');
    const r1 = await agent.handler.add(req('ADD', 'pz', 'eth1', '/run/netns/pz'), ctx);
    const first = r1.ips![0]!.address.split('/')[0]!;
    await agent.handler.add(req('ADD', 'pz', 'eth2', '/run/netns/pz'), ctx);
    assert.deepEqual(ipam.requests.at(-1)?.avoidIps, [first], 'the allocator is told to avoid it');
    const asking = {
      ...req('ADD', 'pz', 'eth3', '/run/netns/pz'),
      args: { ...req('ADD', 'pz', 'eth3', '').args, IP: first },
    };
    await assert.rejects(
      agent.handler.add(asking, ctx),
      (e: unknown) =>
        e instanceof CniError && /already held by this pod/.test(e.msg) && /eth1/.test(e.details ?? ''),
    );
    assert.equal((await store.list(KIND_ATTACHMENT)).items.length, 2, 'nothing recorded for eth3');
    await agent.stop();
  });

  test('a failure while programming rolls everything back', async () => {
    const { store, dp, ipam, agent } = await setup();
    dp.kernel.addNamespace('/run/netns/pb');
    dp.kernel.failWhen = (_op, ns) => ns === '/run/netns/pb';
    await assert.rejects(
      agent.handler.add(req('ADD', 'pb', 'eth1', '/run/netns/pb'), ctx),
      (e: unknown) => e instanceof CniError && /dataplane/.test(e.msg),
    );
    dp.kernel.failWhen = undefined;
    await agent.sync();
    assert.equal((await store.list(KIND_ATTACHMENT)).items.length, 0);
    assert.equal(ipam.held.size, 0);
    assert.ok(!dp.kernel.ns('/run/netns/pb').links.some((l) => l.name === 'eth1'));
    const vrfs = [...dp.kernel.namespaces.keys()].filter((k) => k.startsWith('mn-vrf-'));
    assert.deepEqual(vrfs, [], 'no routing domain left for a network without pods');
    await agent.stop();
  });

  test('a modified Network (new range, new VNI) is applied to the pods already attached', async () => {
    const { store, dp, agent } = await setup();
    dp.kernel.addNamespace('/run/netns/pn');
    await agent.handler.add(req('ADD', 'pn', 'eth1', '/run/netns/pn'), ctx);
    const key = { kind: 'Network', namespace: '', name: 'blue' };
    const cur = (await store.get(key))!;
    await store.update(
      key,
      {
        apiVersion: 'projectcalico.org/v3',
        kind: 'Network',
        metadata: { name: 'blue' },
        spec: { vni: 57, range: '172.18.0.0/15' },
      },
      cur.resourceVersion,
    );
    for (let i = 0; i < 100 && agent.desired().networks[0]?.vni !== 57; i++)
      await new Promise((r) => setTimeout(r, 10));
    await agent.sync();
    const pod = dp.kernel.ns('/run/netns/pn');
    assert.ok(
      pod.routes.some((r) => r.dst === '172.18.0.0/15' && r.dev === 'eth1'),
      'the pod routes the new range',
    );
    assert.ok(!pod.routes.some((r) => r.dst === '172.19.0.0/16'), 'the old range is gone');
    const vxlans = [...dp.kernel.namespaces.values()]
      .flatMap((n) => n.links)
      .filter((l) => l.kind === 'vxlan');
    assert.deepEqual(
      vxlans.map((l) => l.vxlan?.vni),
      [57],
    );
    await agent.stop();
  });

  test('a failure at each step of ADD leaves no trace', async () => {
    // allocation fails: nothing recorded
    const { store, dp, ipam, agent } = await setup();
    dp.kernel.addNamespace('/run/netns/pf');
    const orig = ipam.allocate.bind(ipam);
    ipam.allocate = async () => {
      throw new Error('pool exhausted: network "blue"');
    };
    await assert.rejects(agent.handler.add(req('ADD', 'pf', 'eth1', '/run/netns/pf'), ctx), /pool exhausted/);
    assert.equal((await store.list(KIND_ATTACHMENT)).items.length, 0);
    ipam.allocate = orig;
    // the record cannot be written: the address is released, no link made
    const create = store.create.bind(store);
    store.create = async (key, value) => {
      if (key.kind === KIND_ATTACHMENT) throw new Error('store down');
      return create(key, value);
    };
    await assert.rejects(agent.handler.add(req('ADD', 'pf', 'eth1', '/run/netns/pf'), ctx), /store down/);
    store.create = create;
    assert.equal(ipam.held.size, 0);
    assert.ok(!dp.kernel.ns('/run/netns/pf').links.some((l) => l.name === 'eth1'));
    // and afterwards the same ADD works
    const r = await agent.handler.add(req('ADD', 'pf', 'eth1', '/run/netns/pf'), ctx);
    assert.equal(r.ips?.length, 1);
    await agent.stop();
  });

  test('memif interfaces and unknown networks are refused with nothing attached', async () => {
    const { store, dp, ipam, agent } = await setup();
    dp.kernel.addNamespace('/run/netns/pc');
    await assert.rejects(agent.handler.add(req('ADD', 'pc', 'memif1', '/run/netns/pc'), ctx), /memif/);
    const red = { ...blueConf, name: 'network-red', dataplane_options: { network_name: 'red' } };
    await assert.rejects(
      agent.handler.add(req('ADD', 'pc', 'eth2', '/run/netns/pc', red), ctx),
      (e: unknown) => e instanceof CniError && e.code === 7 && /red/.test(e.msg),
    );
    assert.equal((await store.list(KIND_ATTACHMENT)).items.length, 0);
    assert.equal(ipam.held.size, 0);
    await agent.stop();
  });

  test('a pod on another node becomes a remote route; a restarted agent changes nothing', async () => {
    const store = new MemoryStore();
    const dp = new FakeDataplane();
    const a1 = await setup(store, dp, 'n1', '10.99.0.1');
    const a2 = await setup(store, dp, 'n2', '10.99.0.2', a1.ipam);
    dp.kernel.addNamespace('/run/netns/p1');
    dp.kernel.addNamespace('/run/netns/p2');
    await a1.agent.handler.add(req('ADD', 'p1', 'eth1', '/run/netns/p1'), ctx);
    await a2.agent.handler.add(req('ADD', 'p2', 'eth1', '/run/netns/p2'), ctx);
    for (let i = 0; i < 50 && a1.agent.desired().remotes.length === 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    const remotes = a1.agent.desired().remotes;
    assert.equal(remotes.length, 1);
    assert.equal(remotes[0]?.underlay, '10.99.0.2');
    assert.equal(Object.values(remotes[0]!.pods).flat().length, 1);
    await a1.agent.sync();
    await a1.agent.stop();
    // restart on the same kernel and store: the first sync makes no change
    const again = new Agent({
      node: 'n1',
      netns: 'mn-n1',
      underlay: '10.99.0.1',
      mtu: 1500,
      store,
      dataplane: dp,
      ipam: a1.ipam,
      log: silentLogger,
      resyncMs: 0,
    });
    await again.start();
    const report = await again.sync();
    assert.equal(report.changes, 0);
    await again.stop();
    await a2.agent.stop();
  });
});

describe('agent with a memif forwarder', () => {
  test('ADD memif1: the forwarder gets the interface (IP mode from the annotation), the pod a bridge; DEL removes it', async () => {
    const store = new MemoryStore();
    const dp = new FakeDataplane();
    const forwarder = new FakeMemifForwarder({
      // What the real forwarder does: a TAP in the routing domain, named and addressed as asked.
      onPut: (s) => {
        const rns = s.routingNetns.replace('/var/run/netns/', '');
        dp.kernel.ns(rns).links.push({ name: s.tap, kind: 'tun', mtu: 1500, up: false, mac: s.mac });
      },
      onDel: (id) => {
        for (const n of dp.kernel.namespaces.values()) n.links = n.links.filter((l) => l.name !== id);
      },
    });
    await store.create({ kind: 'Network', namespace: '', name: 'blue' }, blueNetwork());
    await store.create(
      { kind: 'Pod', namespace: 'default', name: 'pm' },
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: 'pm',
          namespace: 'default',
          annotations: {
            'k8s.v1.cni.cncf.io/networks': 'network-blue-conf@memif1',
            'cni.projectcalico.org/vppInterfacesSpec': '{"memif1": {"isl3": true, "rx": 2}}',
          },
        },
        spec: { containers: [{ name: 'c', image: 'busybox' }] },
      },
    );
    dp.kernel.addNamespace('mn-n1');
    const agent = new Agent({
      node: 'n1',
      netns: 'mn-n1',
      underlay: '10.99.0.1',
      mtu: 1500,
      store,
      dataplane: dp,
      ipam: new FakeAllocator(),
      log: silentLogger,
      resyncMs: 0,
      memif: forwarder,
    });
    await agent.start();
    dp.kernel.addNamespace('/run/netns/pm');
    const r = await agent.handler.add(req('ADD', 'pm', 'memif1', '/run/netns/pm'), ctx);
    assert.equal(r.interfaces?.[0]?.name, 'memif1');
    const [held] = [...forwarder.held.values()];
    assert.equal(held?.socket, 'memif1');
    assert.equal(held?.mode, 'ip');
    assert.equal(held?.podNetns, '/run/netns/pm');
    const link = dp.kernel.ns('/run/netns/pm').links.find((l) => l.name === 'memif1');
    assert.equal(link?.kind, 'bridge');
    await agent.handler.del(req('DEL', 'pm', 'memif1', '/run/netns/pm'), ctx);
    assert.equal(forwarder.held.size, 0);
    assert.ok(
      !dp.kernel.ns('/run/netns/pm').links.some((l) => l.name === 'memif1'),
      'the pod side is gone too',
    );
    assert.equal((await store.list(KIND_ATTACHMENT)).items.length, 0);
    await agent.stop();
  });
});
