// The agent on a real Kubernetes API server (etcd + kube-apiserver from kube-test-server.ts): the
// seed (examples/seed/) applied unchanged with the real kubectl, an Agent on kubernetes:// with a
// FakeDataplane and the store-backed IPAM, a CNI ADD, then kill -9 of kube-apiserver and a restart
// on the same etcd and port. Without the binaries this fails in CI and skips elsewhere.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FakeDataplane } from '../dataplane/fake.js';
import type { DesiredNode } from '../dataplane/types.js';
import { routingNs } from '../dataplane/naming.js';
import { kubeBinDir, kubeTestsBlocked, startTestKube, type TestKube } from '../store/kube-test-server.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/types.js';
import { silentLogger } from '../util/log.js';
import type { CniRequest } from '../cni/protocol.js';
import { Agent } from './agent.js';
import { StoreAllocator } from './store-allocator.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/dist\/$/, '/');
const NODE = 'kube-n1';
const ctx = { signal: new AbortController().signal };

// What Multus hands the plugin for network-blue-conf: the conflist's name and its calico plugin.
const blueConf = {
  cniVersion: '0.3.1',
  name: 'network-blue',
  type: 'calico',
  ipam: { type: 'whereabouts' },
  dataplane_options: { network_name: 'blue' },
};

function add(pod: string, ifName: string, netns: string): CniRequest {
  return {
    protocol: 1,
    command: 'ADD',
    containerId: `cid-${pod}`,
    netns,
    ifName,
    args: { K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: pod },
    netConf: blueConf,
    ipam: 'agent',
  };
}

const until = async (what: string, ok: () => boolean | Promise<boolean>, ms = 60_000): Promise<number> => {
  const t0 = Date.now();
  while (!(await ok())) {
    if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return Date.now() - t0;
};

if (!kubeTestsBlocked('agent on a real kube-apiserver', test)) {
  let kube: TestKube;
  let store: Store;
  let agent: Agent;
  const dp = new FakeDataplane();
  /** Every desired state the agent handed the dataplane, in order. */
  const synced: DesiredNode[] = [];
  const kubectl = (...args: string[]): string =>
    execFileSync(join(kubeBinDir()!, 'kubectl'), ['--kubeconfig', kube.kubeconfig, ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });

  before(async () => {
    kube = await startTestKube();
    // The CRDs of Multus and Calico the seed needs (ours, the Network CRD, are installed already).
    kubectl('apply', '-f', 'third_party/crds/');
    kubectl(
      'wait',
      '--for=condition=established',
      'crd/network-attachment-definitions.k8s.cni.cncf.io',
      'crd/networkpolicies.crd.projectcalico.org',
    );
    kubectl('apply', '-f', 'examples/seed/');
    for (const n of [NODE, 'kube-n2'])
      execFileSync(join(kubeBinDir()!, 'kubectl'), ['--kubeconfig', kube.kubeconfig, 'apply', '-f', '-'], {
        input: JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: n } }),
      });
    store = await openStore(`kubernetes://?kubeconfig=${kube.kubeconfig}`, {
      kubernetes: { failFast: false, callTimeoutMs: 3000 },
    });
    const sync = dp.sync.bind(dp);
    dp.sync = (desired, opts) => {
      synced.push(desired);
      return sync(desired, opts);
    };
    dp.kernel.addNamespace(`mn-${NODE}`);
    agent = new Agent({
      node: NODE,
      netns: `mn-${NODE}`,
      underlay: '10.99.0.1',
      mtu: 1500,
      store,
      dataplane: dp,
      ipam: new StoreAllocator(store),
      log: silentLogger,
      resyncMs: 0,
      backoff: { initialMs: 200, maxMs: 1000 },
    });
  });
  after(async () => {
    await agent?.stop();
    await store?.close();
    await kube?.stop();
  });

  describe('agent on a real kube-apiserver', () => {
    test('seed applied with kubectl: ready, ADD allocates and records, services and policies computed', async () => {
      let t0 = Date.now();
      await agent.start();
      await until('CNI open', () => agent.cni.ready);
      console.log(`# agent ready in ${Date.now() - t0} ms`);
      assert.deepEqual(
        agent.cache.undecodable(),
        [],
        'every object of the seed, as the API server returns it, decodes',
      );

      // Namespace objects: their labels (the server's kubernetes.io/metadata.name) are in the view.
      assert.equal(
        agent.cache.view().namespaceLabels?.get('default')?.['kubernetes.io/metadata.name'],
        'default',
      );

      dp.kernel.addNamespace('/run/netns/samplepod');
      t0 = Date.now();
      const r = await agent.handler.add(add('samplepod', 'eth1', '/run/netns/samplepod'), ctx);
      console.log(`# ADD in ${Date.now() - t0} ms`);
      const ip = r.ips?.[0]?.address.split('/')[0] ?? '';
      assert.match(ip, /^172\.19\./, 'from blue 172.19.0.0/16');

      // Our records are objects of our CRDs: kubectl sees them.
      const atts = JSON.parse(kubectl('get', 'attachments.multinet.projectcalico.org', '-o', 'json')) as {
        items: { spec: { value: { podName: string; ifName: string; ips: string[] } } }[];
      };
      assert.ok(
        atts.items.some((a) => a.spec.value.podName === 'samplepod' && a.spec.value.ips.includes(ip)),
        'Attachment of samplepod/eth1',
      );
      const resv = JSON.parse(kubectl('get', 'ipreservations.multinet.projectcalico.org', '-o', 'json')) as {
        items: { spec: { name: string; value: { podName: string } } }[];
      };
      assert.ok(
        resv.items.some((x) => x.spec.name === ip && x.spec.value.podName === 'samplepod'),
        'IPReservation of the address',
      );

      const { node, nft } = agent.compute();
      assert.ok(
        node.networks.some((n) => n.name === 'blue' && n.vni === 56),
        'blue is desired on the node',
      );
      const blue = JSON.stringify(nft.get(routingNs(NODE, 'blue')) ?? []);
      // my-service: the ClusterIP the API server assigned, endpoint samplepod's blue address.
      const svc = JSON.parse(kubectl('get', 'service', 'my-service', '-o', 'json')) as {
        spec: { clusterIP: string };
      };
      assert.match(svc.spec.clusterIP, /^10\.0\.0\./);
      assert.ok(blue.includes('"mnsvc"') && blue.includes(svc.spec.clusterIP), 'my-service in mnsvc');
      assert.ok(blue.includes(ip), 'samplepod is an endpoint');
      // pol (crd.projectcalico.org/v1, since projectcalico.org/v3 is not served): blue's rule, TCP 7809.
      assert.ok(blue.includes('"mnpol"') && blue.includes('7809'), 'pol in mnpol of blue');
    });

    test('kill -9 of kube-apiserver and a restart: the agent re-lists, a later ADD works, nothing removed', async () => {
      const before = synced.length;
      const desiredBlue = (d: DesiredNode): boolean =>
        d.networks.some((n) => n.name === 'blue') &&
        d.pods.some((p) => p.netns === '/run/netns/samplepod' && p.ifname === 'eth1');
      assert.ok(desiredBlue(agent.desired()));

      await kube.killApiServer();
      const down = Date.now();
      await until('watch lost', () => !agent.watchStatus().connected, 30_000);
      assert.equal(agent.cni.ready, false, 'CNI says "try again later" while the watch is lost');
      await kube.startApiServer();
      const up = Date.now();
      const relist = await until('watch re-listed', () => agent.watchStatus().connected && agent.cni.ready);
      console.log(`# API server down ${up - down} ms; agent re-listed ${relist} ms after the restart`);

      dp.kernel.addNamespace('/run/netns/samplepod2');
      const t0 = Date.now();
      const r = await agent.handler.add(add('samplepod2', 'eth1', '/run/netns/samplepod2'), ctx);
      console.log(`# ADD after the restart in ${Date.now() - t0} ms`);
      assert.match(r.ips?.[0]?.address ?? '', /^172\.19\./);
      await agent.sync();
      // Every dataplane sync since the first ADD kept blue and samplepod's interface.
      for (const d of synced.slice(before)) assert.ok(desiredBlue(d), 'nothing removed meanwhile');
      assert.ok(dp.kernel.ns('/run/netns/samplepod').links.some((l) => l.name === 'eth1'));
      assert.ok(dp.kernel.namespaces.has(routingNs(NODE, 'blue')));
      const atts = JSON.parse(kubectl('get', 'attachments.multinet.projectcalico.org', '-o', 'json')) as {
        items: unknown[];
      };
      assert.equal(atts.items.length, 2);
    });
  });
}
