// The store contract against a real etcd started on loopback (or $MULTINET_TEST_ETCD).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { storeContract } from './contract.js';
import { EtcdStore } from './etcd.js';
import { etcdUnavailableReason, freePort, startTestEtcd, type TestEtcd } from './etcd-test-server.js';
import { openStore } from './open.js';

const skip = etcdUnavailableReason();
if (skip) {
  test('etcd store contract', (t) => t.skip(skip));
} else {
  let etcd: TestEtcd;
  before(async () => {
    etcd = await startTestEtcd();
  });
  after(async () => {
    await etcd?.stop();
  });
  let n = 0;
  // Each test gets its own key prefix on the one etcd, so tests start from an empty store.
  storeContract('etcd', () =>
    EtcdStore.connect([etcd.endpoint], { prefix: `/mn-test-${process.pid}-${n++}/` }),
  );

  describe('etcd specifics', () => {
    test('createAll: all keys created in one write, or none when one exists', async () => {
      const s = await EtcdStore.connect([etcd.endpoint], { prefix: `/mn-test-${process.pid}-all/` });
      try {
        const k = (name: string) => ({ kind: 'Thing', namespace: 'ns', name });
        const ok = await s.createAll([
          { key: k('a'), value: { v: 1 } },
          { key: k('b'), value: { v: 2 } },
        ]);
        assert.equal(ok.ok, true);
        assert.equal((await s.get(k('b')))?.resourceVersion, ok.ok ? ok.objects[1]!.resourceVersion : '');
        const no = await s.createAll([
          { key: k('c'), value: { v: 3 } },
          { key: k('b'), value: { v: 9 } },
        ]);
        assert.equal(no.ok, false);
        assert.deepEqual(no.ok ? [] : no.existing.map((o) => [o.name, o.value]), [['b', { v: 2 }]]);
        assert.equal(await s.get(k('c')), undefined, 'nothing written when one key exists');
        await assert.rejects(
          s.createAll([
            { key: k('d'), value: 1 },
            { key: k('d'), value: 2 },
          ]),
          /same key/,
        );
      } finally {
        await s.close();
      }
    });

    test('keys are /multinet/<kind>/<ns>/<name> with the default prefix', async () => {
      const s = await openStore(etcd.url);
      try {
        await s.create({ kind: 'Thing', namespace: 'ns', name: 'fd00::1' }, { a: 1 });
        const l = await s.list('Thing', 'ns');
        assert.deepEqual(
          l.items.map((o) => o.name),
          ['fd00::1'],
        );
        assert.equal(await s.delete({ kind: 'Thing', namespace: 'ns', name: 'fd00::1' }), true);
      } finally {
        await s.close();
      }
    });
  });
}

test('etcd down: openStore fails fast with an error naming the endpoint', async () => {
  const port = await freePort(); // nothing listens here
  const t0 = Date.now();
  await assert.rejects(
    openStore(`etcd://127.0.0.1:${port}`, { etcd: { callTimeoutMs: 1000 } }),
    (e: Error) => e.message.includes(`127.0.0.1:${port}`) && /unavailable/.test(e.message),
  );
  assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
});
