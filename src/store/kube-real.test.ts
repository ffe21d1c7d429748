// The kubernetes:// store against a real kube-apiserver and etcd started on loopback
// (kube-test-server.ts; binaries from scripts/k8s-bins.sh). Without the binaries this fails in CI
// and skips, saying why, elsewhere.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { storeContract } from './contract.js';
import { KubeClient } from './kube-client.js';
import { KubeStore } from './kube.js';
import { kubeBinDir, kubeTestsBlocked, startTestKube, type TestKube } from './kube-test-server.js';
import { openStore } from './open.js';
import { isStoreError } from './types.js';

if (!kubeTestsBlocked('kubernetes store on a real kube-apiserver', test)) {
  let kube: TestKube;
  before(async () => {
    kube = await startTestKube();
  });
  after(async () => {
    await kube?.stop();
  });
  let n = 0;
  const connect = () => KubeStore.connect({ credentials: kube.credentials, scope: `t${process.pid}-${n++}` });
  storeContract('kubernetes (real kube-apiserver)', connect, { compacts: false });

  describe('kubernetes store on a real kube-apiserver', () => {
    test('records are objects of our CRDs; users objects are read, never written', async () => {
      const s = await connect();
      const client = new KubeClient(kube.credentials);
      try {
        await s.create(
          { kind: 'IPReservation', namespace: 'net1', name: 'fd00::a' },
          {
            address: 'fd00::a',
            prefixLength: 64,
            containerId: 'c1',
            ifName: 'net1',
            podNamespace: 'default',
            podName: 'p',
            podUid: 'u-1',
            createdAt: Date.now(),
          },
        );
        const l = await client.request<{ items: { metadata: { name: string }; spec: { name: string } }[] }>({
          method: 'GET',
          path: '/apis/multinet.projectcalico.org/v1alpha1/ipreservations',
        });
        assert.ok(l.items.some((i) => i.spec.name === 'fd00::a' && /^net1\.fd00-a\./.test(i.metadata.name)));
        await client.request({
          method: 'POST',
          path: '/api/v1/namespaces',
          body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'mn-real' } },
        });
        await client.request({
          method: 'POST',
          path: '/api/v1/namespaces/mn-real/pods',
          body: {
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: { name: 'p1', namespace: 'mn-real' },
            spec: { containers: [{ name: 'c', image: 'busybox' }] },
          },
        });
        const p = await s.get<{ kind: string; metadata: { uid: string } }>({
          kind: 'Pod',
          namespace: 'mn-real',
          name: 'p1',
        });
        assert.equal(p?.value.kind, 'Pod');
        assert.ok(p?.value.metadata.uid);
        assert.ok((await s.list('Namespace')).items.some((o) => o.name === 'mn-real'));
        await assert.rejects(s.delete({ kind: 'Pod', namespace: 'mn-real', name: 'p1' }), /read-only/);
        // Not served here (no Multus CRD): an empty list.
        assert.equal((await s.list('NetworkAttachmentDefinition')).items.length, 0);
      } finally {
        client.close();
        await s.close();
      }
    });

    test('a watch outlives the server ending it at timeoutSeconds; kubectl lists our records', async () => {
      const s = await KubeStore.connect({
        credentials: kube.credentials,
        scope: `t${process.pid}-timeout`,
        watchTimeoutSeconds: [1, 1],
      });
      try {
        const from = (await s.list('IPAllocation')).revision;
        const w = s.watch({ kind: 'IPAllocation', fromRevision: from });
        await s.create(
          { kind: 'IPAllocation', namespace: 'net9', name: 'c1@eth1' },
          { addresses: ['10.0.0.9'] },
        );
        assert.equal((await w.next()).value?.object.name, 'c1@eth1');
        await new Promise((r) => setTimeout(r, 2500));
        await s.create(
          { kind: 'IPAllocation', namespace: 'net9', name: 'c2@eth1' },
          { addresses: ['10.0.0.10'] },
        );
        assert.equal((await w.next()).value?.object.name, 'c2@eth1');
        await w.return?.();
        const out = execFileSync(
          join(kubeBinDir()!, 'kubectl'),
          ['--kubeconfig', kube.kubeconfig, 'get', 'ipallocations', '--no-headers'],
          { encoding: 'utf8' },
        );
        assert.match(out, /net9\.c1-eth1\.[0-9a-f]{16}\s+net9\s+c1@eth1/);
      } finally {
        await s.close();
      }
    });

    test('openStore("kubernetes://") with $KUBECONFIG', async () => {
      const saved = process.env.KUBECONFIG;
      process.env.KUBECONFIG = kube.kubeconfig;
      try {
        const s = await openStore('kubernetes://');
        assert.equal(await s.get({ kind: 'Thing', namespace: '', name: 'none' }), undefined);
        await s.close();
      } finally {
        if (saved === undefined) delete process.env.KUBECONFIG;
        else process.env.KUBECONFIG = saved;
      }
    });

    test('a watch from revision 1, older than the watch cache window, gets Gone (410)', async () => {
      const s = await connect();
      try {
        const w = s.watch({ kind: 'Thing', fromRevision: '1' });
        await assert.rejects(w.next(), (e) => isStoreError(e, 'Gone'));
      } finally {
        await s.close();
      }
    });
  });
}
