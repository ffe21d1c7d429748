// The kubernetes:// store against the fake API server (kube-fake-server.ts): the contract suite and
// what is specific to the backend (names, read-only users' objects, watches, kubeconfig). The same
// contract against a real kube-apiserver is in kube-real.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storeContract } from './contract.js';
import { FakeKubeApiServer } from './kube-fake-server.js';
import {
  KubeClient,
  credentialsFromKubeconfig,
  defaultCredentials,
  inClusterCredentials,
} from './kube-client.js';
import { storeCrdFiles } from './kube-crds.js';
import { KIND_RESOURCES, PREFERRED_RESOURCES, STORE_OBJECT, objectName } from './kube-mapping.js';
import { makeCerts } from './kube-test-server.js';
import { KubeStore } from './kube.js';
import { listThenWatch } from './list-watch.js';
import { openStore } from './open.js';
import { isStoreError, type WatchEvent } from './types.js';

const fake = new FakeKubeApiServer({ bookmarkMs: 50 });
before(async () => {
  await fake.start();
});
after(async () => {
  await fake.stop();
});

let n = 0;
const connect = (scope = `t${n++}`) =>
  KubeStore.connect({
    credentials: { server: fake.url, source: 'test' },
    scope,
    compact: async (rev) => fake.compact(rev),
    watchTimeoutSeconds: [1, 2],
  });

storeContract('kubernetes (fake API server)', () => connect());

async function next<T>(it: AsyncIterator<T>, ms = 3000): Promise<IteratorResult<T>> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    it.next(),
    new Promise<never>((_, rej) => (t = setTimeout(() => rej(new Error('timed out')), ms))),
  ]).finally(() => clearTimeout(t));
}

describe('kubernetes store specifics (fake API server)', () => {
  test('object names are DNS subdomains, stable, distinct per scope and key', () => {
    const dns = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
    const names = [
      objectName('default', 'IPReservation', 'net1', 'fd00::1', false),
      objectName('default', 'IPReservation', 'net1', 'FD00::1', false),
      objectName('default', 'IPAllocation', 'net1', 'abc123@eth1', false),
      objectName('other', 'IPReservation', 'net1', 'fd00::1', false),
      objectName('default', 'Thing', '', '::', true),
      objectName('default', 'Thing', 'x'.repeat(253), 'y'.repeat(253), true),
    ];
    for (const nm of names) {
      assert.match(nm, dns);
      assert.ok(nm.length <= 253, nm);
    }
    assert.equal(new Set(names).size, names.length);
    assert.equal(names[0], objectName('default', 'IPReservation', 'net1', 'fd00::1', false));
    assert.match(names[0]!, /^net1\.fd00-1\.[0-9a-f]{16}$/);
  });

  test('IPv6 and containerId@ifName keys round-trip; records are objects of our CRDs', async () => {
    const s = await connect();
    try {
      const key = { kind: 'IPReservation', namespace: 'net-a', name: 'fd00::1' };
      await s.create(key, { address: 'fd00::1' });
      await s.create({ kind: 'IPAllocation', namespace: 'net-a', name: 'c0ffee@net1' }, { addresses: [] });
      assert.deepEqual((await s.get(key))?.value, { address: 'fd00::1' });
      assert.deepEqual(
        (await s.list('IPAllocation', 'net-a')).items.map((o) => o.name),
        ['c0ffee@net1'],
      );
      assert.ok(fake.requests.includes('POST /apis/multinet.projectcalico.org/v1alpha1/ipreservations'));
      assert.equal((await s.list('IPReservation', 'other')).items.length, 0);
    } finally {
      await s.close();
    }
  });

  test("users' objects are read in their API types and are read-only", async () => {
    const client = new KubeClient({ server: fake.url, source: 'test' });
    await client.request({
      method: 'POST',
      path: '/api/v1/namespaces/ns1/pods',
      body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p1', namespace: 'ns1' }, spec: {} },
    });
    client.close();
    const s = await connect();
    try {
      const p = await s.get<{ kind: string; metadata: { uid?: string } }>({
        kind: 'Pod',
        namespace: 'ns1',
        name: 'p1',
      });
      assert.equal(p?.value.kind, 'Pod');
      assert.ok(p?.value.metadata.uid);
      assert.deepEqual(
        (await s.list('Pod')).items.map((o) => `${o.namespace}/${o.name}`),
        ['ns1/p1'],
      );
      assert.equal((await s.list('Pod', 'ns2')).items.length, 0);
      await assert.rejects(s.create({ kind: 'Pod', namespace: 'ns1', name: 'p2' }, {}), /read-only/);
      await assert.rejects(s.delete({ kind: 'Pod', namespace: 'ns1', name: 'p1' }), /read-only/);
      // A resource the server does not serve (no Multus CRD here): empty, with a revision.
      const nads = await s.list('NetworkAttachmentDefinition');
      assert.equal(nads.items.length, 0);
      assert.ok(BigInt(nads.revision) > 0n);
    } finally {
      await s.close();
    }
  });

  test('watch resumes across server timeouts and bookmarks; a dropped connection is an error', async () => {
    const s = await connect();
    try {
      const from = (await s.list('Thing')).revision;
      const w = s.watch({ kind: 'Thing', fromRevision: from });
      await s.create({ kind: 'Thing', namespace: 'a', name: 'one' }, 1);
      assert.equal(((await next(w)).value as WatchEvent).object.name, 'one');
      await new Promise((r) => setTimeout(r, 2300)); // past timeoutSeconds: the store re-watched
      await s.create({ kind: 'Thing', namespace: 'a', name: 'two' }, 2);
      assert.equal(((await next(w)).value as WatchEvent).object.name, 'two');
      fake.dropWatches();
      await assert.rejects(next(w), (e) => isStoreError(e, 'Unavailable'));
    } finally {
      await s.close();
    }
  });

  test('listThenWatch on the store re-lists after 410 Gone', async () => {
    const s = await connect();
    const ac = new AbortController();
    try {
      await s.create({ kind: 'Thing', namespace: 'a', name: 'x' }, 1);
      const relists: Error[] = [];
      const it = listThenWatch(s, 'Thing', { signal: ac.signal, onRelist: (e) => relists.push(e) });
      assert.equal(((await next(it)).value as { type: string }).type, 'SYNCED');
      fake.expireWatches(); // the re-watch from the last revision gets 410, then a re-list
      const again = (await next(it, 3000)).value as { type: string };
      assert.equal(again.type, 'SYNCED');
      assert.equal(relists.length, 1);
      assert.ok(isStoreError(relists[0], 'Gone'));
    } finally {
      ac.abort();
      await s.close();
    }
  });

  test('openStore("kubernetes://") uses $KUBECONFIG; kubeconfig and in-cluster credentials', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mn-kc-'));
    try {
      writeFileSync(join(dir, 'ca.crt'), 'CA');
      writeFileSync(join(dir, 'token'), 'tok\n');
      const kc = join(dir, 'config');
      writeFileSync(
        kc,
        [
          'apiVersion: v1',
          'kind: Config',
          'current-context: c',
          'contexts: [{name: c, context: {cluster: k, user: u}}]',
          `clusters: [{name: k, cluster: {server: "${fake.url}/", certificate-authority: ca.crt}}]`,
          `users: [{name: u, user: {client-certificate-data: ${Buffer.from('CERT').toString('base64')}, token: abc}}]`,
        ].join('\n'),
      );
      const c = credentialsFromKubeconfig(kc);
      assert.equal(c.server, fake.url);
      assert.equal(c.ca?.toString(), 'CA');
      assert.equal(c.cert?.toString(), 'CERT');
      assert.equal(c.token, 'abc');
      assert.equal(defaultCredentials({ KUBECONFIG: `${kc}:/nope` }).server, fake.url);
      const ic = inClusterCredentials(
        { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' },
        dir,
      );
      assert.equal(ic?.server, 'https://[fd00::1]:443');
      assert.equal(ic?.tokenFile, join(dir, 'token'));
      assert.equal(inClusterCredentials({}, dir), undefined);
      const saved = process.env.KUBECONFIG;
      process.env.KUBECONFIG = kc;
      try {
        const s = await openStore('kubernetes://');
        assert.match(s.description, /^kubernetes:\/\/127\.0\.0\.1:\d+ \(kubeconfig /);
        await s.close();
      } finally {
        if (saved === undefined) delete process.env.KUBECONFIG;
        else process.env.KUBECONFIG = saved;
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('deploy/crds/multinet.projectcalico.org_*.yaml is what scripts/gen-crds.mjs generates', () => {
    const root = fileURLToPath(
      new URL(import.meta.url.includes('/dist/') ? '../../../' : '../../', import.meta.url),
    );
    for (const { file, yaml } of storeCrdFiles()) {
      assert.equal(
        readFileSync(join(root, 'deploy', 'crds', file), 'utf8'),
        yaml,
        `${file}: run node --import tsx scripts/gen-crds.mjs`,
      );
    }
  });

  test('TLS: CA and client certificate from a kubeconfig; a wrong CA is Unavailable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mn-kctls-'));
    const read = (f: string) => readFileSync(join(dir, f));
    makeCerts(dir);
    const tls = new FakeKubeApiServer({
      tls: { cert: read('apiserver.crt'), key: read('apiserver.key'), clientCa: read('ca.crt') },
    });
    await tls.start();
    try {
      const b64 = (f: string) => read(f).toString('base64');
      const kc = join(dir, 'config');
      writeFileSync(
        kc,
        [
          'current-context: c',
          'contexts: [{name: c, context: {cluster: k, user: u}}]',
          `clusters: [{name: k, cluster: {server: "${tls.url}", certificate-authority-data: ${b64('ca.crt')}}}]`,
          `users: [{name: u, user: {client-certificate-data: ${b64('admin.crt')}, client-key-data: ${b64('admin.key')}}}]`,
        ].join('\n'),
      );
      const s = await KubeStore.connect({ credentials: credentialsFromKubeconfig(kc) });
      await s.create({ kind: 'IPReservation', namespace: 'n', name: '10.0.0.1' }, { address: '10.0.0.1' });
      assert.equal((await s.list('IPReservation', 'n')).items.length, 1);
      await s.close();
      // No client certificate: the handshake is refused.
      await assert.rejects(
        KubeStore.connect({ credentials: { server: tls.url, ca: read('ca.crt'), source: 'no cert' } }),
        (e) => isStoreError(e, 'Unavailable'),
      );
      // A CA that did not sign the server's certificate.
      await assert.rejects(
        KubeStore.connect({ credentials: { server: tls.url, ca: read('admin.crt'), source: 'wrong CA' } }),
        (e) => isStoreError(e, 'Unavailable'),
      );
    } finally {
      await tls.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('Calico policies: projectcalico.org/v3 where served, else crd.projectcalico.org/v1', async () => {
    const srv = new FakeKubeApiServer({
      resources: [
        PREFERRED_RESOURCES.CalicoNetworkPolicy!,
        KIND_RESOURCES.CalicoNetworkPolicy!,
        STORE_OBJECT,
      ],
    });
    await srv.start();
    const client = new KubeClient({ server: srv.url, source: 'test' });
    const s = await KubeStore.connect({ credentials: { server: srv.url, source: 'test' } });
    try {
      const from = (await s.list('Thing')).revision;
      const w = s.watch({ fromRevision: from });
      const policy = (apiVersion: string, name: string) => ({
        apiVersion,
        kind: 'NetworkPolicy',
        metadata: { name, namespace: 'ns1' },
        spec: {},
      });
      await client.request({
        method: 'POST',
        path: '/apis/crd.projectcalico.org/v1/namespaces/ns1/networkpolicies',
        body: policy('crd.projectcalico.org/v1', 'default.old'),
      });
      await client.request({
        method: 'POST',
        path: '/apis/projectcalico.org/v3/namespaces/ns1/networkpolicies',
        body: policy('projectcalico.org/v3', 'p3'),
      });
      const l = await s.list<{ apiVersion: string }>('CalicoNetworkPolicy');
      assert.deepEqual(
        l.items.map((o) => [o.kind, o.name, o.value.apiVersion]),
        [['CalicoNetworkPolicy', 'p3', 'projectcalico.org/v3']],
      );
      const ev = (await next(w)).value as WatchEvent;
      assert.deepEqual([ev.type, ev.object.kind, ev.object.name], ['ADDED', 'CalicoNetworkPolicy', 'p3']);
      await w.return?.();
    } finally {
      client.close();
      await s.close();
      await srv.stop();
    }
  });

  test("lists follow continue tokens; the revision is the first page's", async () => {
    const s = await KubeStore.connect({
      credentials: { server: fake.url, source: 'test' },
      scope: 'pages',
      pageSize: 2,
    });
    try {
      for (let i = 0; i < 5; i++) await s.create({ kind: 'Paged', namespace: 'n', name: `p${i}` }, i);
      const before = fake.requests.length;
      const l = await s.list<number>('Paged', 'n');
      assert.deepEqual(l.items.map((o) => o.value).sort(), [0, 1, 2, 3, 4]);
      assert.equal(fake.requests.length - before, 3);
    } finally {
      await s.close();
    }
  });

  test('no createAll: the API has no multi-object transaction', async () => {
    const s = await connect();
    assert.equal(typeof (s as unknown as { createAll?: unknown }).createAll, 'undefined');
    await s.close();
  });
});
