import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedStore } from '../store/embedded.js';
import { EtcdStore } from '../store/etcd.js';
import { etcdUnavailableReason, startTestEtcd, type TestEtcd } from '../store/etcd-test-server.js';
import { MemoryStore } from '../store/memory.js';
import type { Store } from '../store/types.js';
import { Ipam } from './allocator.js';
import { hasAtomicCreate, withAtomicCreate } from './atomic-create.js';
import type { IpPool } from './pool.js';
import { reconcile, usage } from './reconcile.js';
import { ALLOCATION_KIND, ATTACHMENT_KIND, RESERVATION_KIND } from './records.js';
import { attachmentLiveness } from './reconcile.js';

const dir = mkdtempSync(join(tmpdir(), 'mn-ipam-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

const pod = (i: number, ifName = 'net1') => ({
  containerId: `c${i}`,
  ifName,
  podNamespace: 'default',
  podName: `pod${i}`,
});

function suite(name: string, make: () => Store | Promise<Store>): void {
  describe(`IPAM on ${name}`, () => {
    const blue: IpPool = { network: 'blue', ranges: [{ range: '10.1.0.0/29', exclude: ['10.1.0.2/32'] }] };

    test("a holder's avoided addresses are skipped, not taken: free for others, exhausted when nothing else is left", async () => {
      const s = await make();
      const ipam = new Ipam(s);
      const two: IpPool = { network: 'tiny', ranges: [{ range: '10.9.0.0/30' }] }; // .1 and .2
      for (let i = 0; i < 10; i++) {
        const a = await ipam.allocate({
          network: 'tiny',
          pool: two,
          ...pod(100 + i),
          avoidIps: ['10.9.0.1'],
        });
        assert.equal(a.ips[0]!.address, '10.9.0.2');
        await ipam.release({ network: 'tiny', containerId: `c${100 + i}`, ifName: 'net1' });
      }
      await ipam.allocate({ network: 'tiny', pool: two, ...pod(200), avoidIps: ['10.9.0.1'] });
      await assert.rejects(
        ipam.allocate({ network: 'tiny', pool: two, ...pod(201), avoidIps: ['10.9.0.1'] }),
        /exhausted/,
      );
      const other = await ipam.allocate({ network: 'tiny', pool: two, ...pod(202) });
      assert.equal(other.ips[0]!.address, '10.9.0.1', 'an avoided address stays free for every other holder');
    });

    test('allocates distinct addresses, never network/broadcast/excluded; pool exhausted names the network', async () => {
      const s = await make();
      const ipam = new Ipam(s);
      const got = new Set<string>();
      for (let i = 0; i < 5; i++) {
        const a = await ipam.allocate({ network: 'blue', pool: blue, ...pod(i) });
        assert.equal(a.ips.length, 1);
        assert.equal(a.ips[0]!.prefixLength, 29);
        got.add(a.ips[0]!.address);
      }
      assert.deepEqual([...got].sort(), ['10.1.0.1', '10.1.0.3', '10.1.0.4', '10.1.0.5', '10.1.0.6']);
      await assert.rejects(
        ipam.allocate({ network: 'blue', pool: blue, ...pod(9) }),
        /pool exhausted: network "blue"/,
      );
      // Nothing half-written by the failed call.
      assert.equal((await s.list(ALLOCATION_KIND, 'blue')).items.length, 5);
      assert.equal((await s.list(RESERVATION_KIND, 'blue')).items.length, 5);
      await s.close();
    });

    test('idempotent on (containerId, ifName); release frees; unknown release is success', async () => {
      const s = await make();
      const ipam = new Ipam(s);
      const a = await ipam.allocate({ network: 'blue', pool: blue, ...pod(1) });
      const b = await ipam.allocate({ network: 'blue', pool: blue, ...pod(1) });
      assert.deepEqual(a, b);
      const other = await new Ipam(s).allocate({ network: 'blue', pool: blue, ...pod(1) });
      assert.deepEqual(other, a, 'another process sees the same allocation');
      const c = await ipam.allocate({ network: 'blue', pool: blue, ...pod(1, 'net2') });
      assert.notEqual(c.ips[0]!.address, a.ips[0]!.address);
      assert.equal(await ipam.release({ network: 'blue', containerId: 'c1', ifName: 'net1' }), true);
      assert.equal(await ipam.release({ network: 'blue', containerId: 'c1', ifName: 'net1' }), false);
      assert.equal(await ipam.release({ network: 'blue', containerId: 'nope', ifName: 'eth9' }), false);
      assert.equal((await s.list(RESERVATION_KIND, 'blue')).items.length, 1);
      await s.close();
    });

    test('requested IPs are honoured or refused naming the holder', async () => {
      const s = await make();
      const ipam = new Ipam(s);
      const a = await ipam.allocate({
        network: 'blue',
        pool: blue,
        ...pod(1),
        requestedIps: ['10.1.0.5/29'],
      });
      assert.equal(a.ips[0]!.cidr, '10.1.0.5/29');
      await assert.rejects(
        ipam.allocate({ network: 'blue', pool: blue, ...pod(2), requestedIps: ['10.1.0.5'] }),
        /10.1.0.5.*already held by pod default\/pod1 \(container c1, interface net1\)/,
      );
      await assert.rejects(
        ipam.allocate({ network: 'blue', pool: blue, ...pod(3), requestedIps: ['10.1.0.2'] }),
        /not an assignable address/,
      );
      await assert.rejects(
        ipam.allocate({ network: 'blue', pool: blue, ...pod(3), requestedIps: ['10.1.0.7'] }),
        /not an assignable address/,
      );
      await assert.rejects(
        ipam.allocate({ network: 'blue', pool: blue, ...pod(3), requestedIps: ['nonsense'] }),
        /not an IP address/,
      );
      assert.equal((await s.list(RESERVATION_KIND, 'blue')).items.length, 1);
      await s.close();
    });

    test('dual stack, several ranges, overlapping ranges in different networks are independent', async () => {
      const s = await make();
      const ipam = new Ipam(s);
      const red: IpPool = {
        network: 'red',
        // Same exclusion as blue, so red's (random) IPv4 address is always assignable in blue too.
        ranges: [
          { range: '10.1.0.0/29', exclude: ['10.1.0.2/32'] },
          { range: 'fd00:1::/126', rangeStart: 'fd00:1::2' },
        ],
      };
      const r1 = await ipam.allocate({ network: 'red', pool: red, ...pod(1) });
      assert.deepEqual(
        r1.ips.map((i) => i.family),
        [4, 6],
      );
      const r2 = await ipam.allocate({ network: 'red', pool: red, ...pod(2) });
      assert.deepEqual(
        new Set([r1.ips[1]!.address, r2.ips[1]!.address]),
        new Set(['fd00:1::2', 'fd00:1::3']),
      );
      const b = await ipam.allocate({
        network: 'blue',
        pool: blue,
        ...pod(1),
        requestedIps: [r1.ips[0]!.address],
      });
      assert.equal(b.ips[0]!.address, r1.ips[0]!.address);
      await assert.rejects(
        ipam
          .allocate({ network: 'red', pool: red, ...pod(3) })
          .then(() => ipam.allocate({ network: 'red', pool: red, ...pod(4) })),
        /pool exhausted: network "red" has no free IPv6/,
      );
      const u = await usage(s);
      assert.deepEqual(
        u.map((x) => [x.network, x.size, x.used]),
        [
          ['blue', 5n, 1],
          ['red', 7n, 4],
        ],
      );
      await s.close();
    });

    test('bad requests are refused before anything is written', async () => {
      const s = await make();
      const ipam = new Ipam(s);
      await assert.rejects(
        ipam.allocate({ network: 'blue', pool: blue, ...pod(1), containerId: 'a/b' }),
        /containerId "a\/b"/,
      );
      await assert.rejects(
        ipam.allocate({ network: 'blue', pool: blue, ...pod(1), ifName: 'x'.repeat(16) }),
        /ifName/,
      );
      await assert.rejects(
        ipam.allocate({ network: 'green', pool: blue, ...pod(1) }),
        /pool is for network "blue"/,
      );
      await assert.rejects(
        ipam.allocate({
          network: 'blue',
          pool: { network: 'blue', ranges: [{ range: '10.0.0.0/40' }] },
          ...pod(1),
        }),
        /ranges\[0\]\.range/,
      );
      assert.equal((await s.list(RESERVATION_KIND)).items.length, 0);
      await s.close();
    });

    test('pod UID: recorded on the reservation and the index; a repeated ADD (same containerId/ifName) gets the same address', async () => {
      const s = await make();
      const ipam = new Ipam(s);
      const pool: IpPool = { network: 'blue', ranges: [{ range: '10.4.0.0/24' }] };
      const web = { ...pod(1), podName: 'web-0', podUid: 'uid-1' };
      const a = await ipam.allocate({ network: 'blue', pool, ...web });
      const again = await ipam.allocate({ network: 'blue', pool, ...web });
      assert.deepEqual(again, a);
      // A fresh process (no cache) repeating the ADD gets it too.
      assert.deepEqual(await new Ipam(s).allocate({ network: 'blue', pool, ...web }), a);
      const resv = (await s.list<{ podUid?: string }>(RESERVATION_KIND, 'blue')).items;
      assert.deepEqual(
        resv.map((r) => [r.name, r.value.podUid]),
        [[a.ips[0]!.address, 'uid-1']],
      );
      const idx = (await s.list<{ podUid?: string; addresses: string[] }>(ALLOCATION_KIND, 'blue')).items;
      assert.deepEqual(
        idx.map((r) => [r.name, r.value.podUid, r.value.addresses]),
        [['c1@net1', 'uid-1', [a.ips[0]!.address]]],
      );
      await s.close();
    });

    test('a repeated ADD in a full pool gets its own addresses, not PoolExhausted', async () => {
      const s = await make();
      const two: IpPool = { network: 'pair', ranges: [{ range: '10.7.0.0/30' }] }; // .1 and .2
      const a = await new Ipam(s).allocate({ network: 'pair', pool: two, ...pod(1) });
      await new Ipam(s).allocate({ network: 'pair', pool: two, ...pod(2) });
      assert.deepEqual(await new Ipam(s).allocate({ network: 'pair', pool: two, ...pod(1) }), a);
      assert.equal((await s.list(RESERVATION_KIND, 'pair')).items.length, 2);
      await s.close();
    });

    test('pod UID: a pod re-created under the same name is another holder; the dead one is reclaimed, the new one kept', async () => {
      const s = await make();
      let clock = 1_000_000;
      const ipam = new Ipam(s, { now: () => clock });
      const pool: IpPool = { network: 'blue', ranges: [{ range: '10.5.0.0/24' }] };
      // web-0 (uid-1) died without a CNI DEL; the StatefulSet re-created web-0 (uid-2).
      const old = await ipam.allocate({
        network: 'blue',
        pool,
        ...pod(1),
        podName: 'web-0',
        podUid: 'uid-1',
      });
      const cur = await ipam.allocate({
        network: 'blue',
        pool,
        ...pod(2),
        podName: 'web-0',
        podUid: 'uid-2',
      });
      clock += 20_000;
      // Liveness by pod name and UID (the pod as the API server has it now).
      const pods = new Map([['default/web-0', 'uid-2']]);
      const byName = (ns: string, name: string, _c: string, _i: string, _n: string, uid?: string) => {
        const live = pods.get(`${ns}/${name}`);
        return live !== undefined && (!uid || uid === live);
      };
      const r = await reconcile(s, { isLive: byName, graceMs: 10_000, now: () => clock });
      assert.deepEqual(
        r.freed.map((f) => f.address),
        [old.ips[0]!.address],
      );
      assert.deepEqual(r.droppedAllocations, ['blue/c1@net1']);
      const left = (await s.list<{ podUid?: string }>(RESERVATION_KIND, 'blue')).items;
      assert.deepEqual(
        left.map((x) => [x.name, x.value.podUid]),
        [[cur.ips[0]!.address, 'uid-2']],
      );
      // Without a UID on the holder (older records), name alone decides: kept.
      await s.create(
        { kind: RESERVATION_KIND, namespace: 'blue', name: '10.5.0.250' },
        { address: '10.5.0.250', prefixLength: 24, ...pod(3), podName: 'web-0', createdAt: 0 },
      );
      await s.create(
        { kind: ALLOCATION_KIND, namespace: 'blue', name: 'c3@net1' },
        { ...pod(3), podName: 'web-0', addresses: ['10.5.0.250'], createdAt: 0 },
      );
      const r2 = await reconcile(s, { isLive: byName, graceMs: 10_000, now: () => clock });
      assert.deepEqual(r2.freed, []);
      await s.close();
    });

    test('pod UID: an Attachment with another UID does not keep a holder live; one with the same UID, or none, does', async () => {
      const s = await make();
      let clock = 1_000_000;
      const ipam = new Ipam(s, { now: () => clock });
      const pool: IpPool = { network: 'blue', ranges: [{ range: '10.6.0.0/24' }] };
      const h = (i: number, uid?: string) => ({
        ...pod(i),
        podName: `web-${i}`,
        ...(uid ? { podUid: uid } : {}),
      });
      await ipam.allocate({ network: 'blue', pool, ...h(1, 'uid-1') }); // Attachment has uid-9: not live
      await ipam.allocate({ network: 'blue', pool, ...h(2, 'uid-2') }); // Attachment has uid-2: live
      await ipam.allocate({ network: 'blue', pool, ...h(3, 'uid-3') }); // Attachment has no UID: live
      const att = (i: number, uid?: string) =>
        s.create(
          { kind: ATTACHMENT_KIND, namespace: 'default', name: `web-${i}-net1` },
          { network: 'blue', ...h(i, uid) },
        );
      await att(1, 'uid-9');
      await att(2, 'uid-2');
      await att(3);
      clock += 20_000;
      const r = await reconcile(s, {
        isLive: await attachmentLiveness(s),
        graceMs: 10_000,
        now: () => clock,
      });
      assert.deepEqual(
        r.freed.map((f) => f.podName),
        ['web-1'],
      );
      assert.deepEqual(r.droppedAllocations, ['blue/c1@net1']);
      assert.equal(r.kept, 2);
      await s.close();
    });

    test('reconcile frees leaks after the grace period and never a live or young one', async () => {
      const s = await make();
      let clock = 1_000_000;
      const ipam = new Ipam(s, { now: () => clock });
      const pool: IpPool = { network: 'blue', ranges: [{ range: '10.2.0.0/24' }] };
      // Orphan reservation: an allocate that crashed before writing its IPAllocation (made first,
      // so no random allocation below can have taken its address).
      await s.create(
        { kind: RESERVATION_KIND, namespace: 'blue', name: '10.2.0.200' },
        { address: '10.2.0.200', prefixLength: 24, ...pod(1, 'net9'), createdAt: clock },
      );
      await ipam.allocate({ network: 'blue', pool, ...pod(1) }); // live
      await ipam.allocate({ network: 'blue', pool, ...pod(2) }); // pod gone
      await s.create(
        { kind: ATTACHMENT_KIND, namespace: 'default', name: 'pod1-net1' },
        { network: 'blue', ...pod(1) },
      );
      const isLive = await attachmentLiveness(s);
      clock += 5_000;
      const early = await reconcile(s, { isLive, graceMs: 10_000, now: () => clock });
      assert.equal(early.freed.length, 0, 'nothing younger than grace is freed');
      await ipam.allocate({ network: 'blue', pool, ...pod(3) }); // young, pod not yet visible
      clock += 6_000;
      const r = await reconcile(s, { isLive, graceMs: 10_000, now: () => clock });
      assert.deepEqual(r.freed.map((f) => f.podName).sort(), ['pod1', 'pod2']);
      assert.ok(r.freed.some((f) => f.address === '10.2.0.200'));
      const left = (await s.list<{ podName: string }>(RESERVATION_KIND, 'blue')).items
        .map((x) => x.value.podName)
        .sort();
      assert.deepEqual(left, ['pod1', 'pod3']);
      assert.deepEqual(r.droppedAllocations, ['blue/c2@net1']);
      await s.close();
    });
  });
}

suite('memory', () => new MemoryStore());
suite('embedded', () => new EmbeddedStore(join(dir, `ipam${n++}.db`)));
// The one-write path (reservations + index in one atomic create), on the fake and on real etcd.
suite('memory with atomic create', () => withAtomicCreate(new MemoryStore()));
const etcdSkip = etcdUnavailableReason();
if (etcdSkip) {
  test('IPAM on etcd', (t) => t.skip(etcdSkip));
} else {
  let etcd: TestEtcd | undefined;
  after(async () => {
    await etcd?.stop();
  });
  suite('etcd', async () => {
    etcd ??= await startTestEtcd();
    const s = await EtcdStore.connect([etcd.endpoint], { prefix: `/mn-ipam-${process.pid}-${n++}/` });
    assert.ok(hasAtomicCreate(s), 'the etcd store offers createAll');
    return s;
  });
}

test('one-write path: the reservation and the index are created together or not at all', async () => {
  const s = withAtomicCreate(new MemoryStore());
  const ipam = new Ipam(s);
  const pool: IpPool = { network: 'blue', ranges: [{ range: '10.3.0.0/30' }] };
  // Someone else holds one of the two addresses: the allocation gets the other in a retry.
  await s.create({ kind: RESERVATION_KIND, namespace: 'blue', name: '10.3.0.1' }, { address: '10.3.0.1' });
  const a = await ipam.allocate({ network: 'blue', pool, ...pod(1) });
  assert.equal(a.ips[0]!.address, '10.3.0.2');
  const idx = await s.get<{ addresses: string[] }>({
    kind: ALLOCATION_KIND,
    namespace: 'blue',
    name: 'c1@net1',
  });
  assert.deepEqual(idx?.value.addresses, ['10.3.0.2']);
  await assert.rejects(ipam.allocate({ network: 'blue', pool, ...pod(2) }), /pool exhausted: network "blue"/);
  assert.equal((await s.list(ALLOCATION_KIND, 'blue')).items.length, 1);
  assert.equal((await s.list(RESERVATION_KIND, 'blue')).items.length, 2);
});

test('a store failing mid-allocation leaves no reservation behind', async () => {
  const s = new MemoryStore();
  const ipam = new Ipam(s);
  const pool: IpPool = { network: 'blue', ranges: [{ range: '10.3.0.0/24' }] };
  await ipam.allocate({ network: 'blue', pool, ...pod(1) });
  const orig = s.create.bind(s);
  s.create = (async (key, value) => {
    if (key.kind === ALLOCATION_KIND) throw new Error('store went away');
    return orig(key, value);
  }) as Store['create'];
  await assert.rejects(ipam.allocate({ network: 'blue', pool, ...pod(2) }), /store went away/);
  assert.equal((await s.list(RESERVATION_KIND, 'blue')).items.length, 1);
});
