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
