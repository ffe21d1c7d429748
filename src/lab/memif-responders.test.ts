// lab check's memif responders, with a fake forwarder list and a fake responder: which memifs get
// one, why the others do not, and how the check's pairs change when a memif answers.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startMemifResponders, type MemifEntry } from './memif-responders.js';
import { expectations, type Endpoint } from './check.js';

const ep = (pod: string, ifName: string, network: string, ip: string): Endpoint => ({
  pod,
  ifName,
  netns: `ns-${pod}`,
  network,
  ip,
});
const m1 = ep('pm', 'memif1', 'blue', '10.1.0.9');
const m2 = ep('pc', 'memif1', 'blue', '10.1.0.10');
const m3 = ep('pi', 'memif2', 'blue', '10.1.0.11');
const m4 = ep('pn', 'memif1', 'blue', '10.1.0.12');
const k1 = ep('k', 'eth1', 'blue', '10.1.0.2');
const r1 = ep('r', 'eth2', 'red', '10.2.0.2');
const entries: MemifEntry[] = [
  { id: 'a', sock: 'memif1', podns: '/var/run/netns/ns-pm', state: 'listening', mode: 'ethernet' },
  { id: 'b', sock: 'memif1', podns: '/var/run/netns/ns-pc', state: 'connected', mode: 'ethernet' },
  { id: 'c', sock: 'memif2', podns: '/var/run/netns/ns-pi', state: 'listening', mode: 'ip' },
];

describe('memif responders for lab check', () => {
  test('an idle Ethernet memif gets a responder; connected, IP-mode and unserved ones say why not', async () => {
    const started: string[] = [];
    let stopped = 0;
    const probes = await startMemifResponders([m1, m2, m3, m4, k1, r1], {
      list: async () => entries,
      start: async (netns, socket) => {
        started.push(`${netns}/${socket}`);
        return { stop: async () => void stopped++ };
      },
    });
    assert.deepEqual(started, ['ns-pm/memif1']);
    assert.equal(probes.probed(m1), true);
    assert.equal(probes.probed(m2), false);
    assert.deepEqual(Object.fromEntries(probes.skipped), {
      'pc/memif1': 'its own application is connected',
      'pi/memif2': 'IP mode (the responder speaks Ethernet)',
      'pn/memif1': 'no memif forwarder serves it',
    });
    await probes.stop();
    assert.equal(stopped, 1);
  });

  test('a responder that fails to start is a reason, not an error; no testpmd: every memif says so', async () => {
    const failed = await startMemifResponders([m1], {
      list: async () => entries,
      start: async () => 'the responder did not connect within 5 s',
    });
    assert.equal(failed.probed(m1), false);
    assert.equal(failed.skipped.get('pm/memif1'), 'the responder did not connect within 5 s');
    const none = await startMemifResponders(
      [m1, k1],
      {
        list: async () => assert.fail('not listed without testpmd'),
        start: async () => assert.fail('not started'),
      },
      'dpdk-testpmd not found',
    );
    assert.equal(none.skipped.get('pm/memif1'), 'dpdk-testpmd not found');
    assert.equal(none.skipped.size, 1);
  });

  test('pairs: to an answered memif are probed (isolation and policy as for any target); from a memif never', () => {
    const deny = (from: Endpoint): boolean => from !== r1 && from.pod !== 'denied';
    const d = ep('denied', 'eth1', 'blue', '10.1.0.3');
    const pairs = expectations([m1, k1, r1, d], deny, (e) => e === m1);
    const pair = (a: Endpoint, b: Endpoint) => pairs.find((p) => p.from === a && p.to === b)!;
    assert.deepEqual([pair(k1, m1).note, pair(k1, m1).expected], [undefined, 'reach']);
    assert.deepEqual([pair(r1, m1).note, pair(r1, m1).expected], [undefined, 'block']);
    assert.equal(pair(d, m1).byPolicy, true);
    assert.equal(pair(m1, k1).note, 'memif');
    // Without a responder, every pair with a memif is shown, not probed.
    const plain = expectations([m1, k1]);
    assert.equal(plain.find((p) => p.from === k1 && p.to === m1)!.note, 'memif');
  });

  test('an ambiguous memif target (its address also in the source network) is not probed', () => {
    const twin = ep('t', 'eth1', 'red', '10.1.0.9'); // red holds blue memif's address
    const src = ep('s', 'eth1', 'red', '10.2.0.5');
    const pairs = expectations([m1, twin, src], undefined, (e) => e === m1);
    assert.equal(pairs.find((p) => p.from === src && p.to === m1)!.note, 'memif');
  });
});
