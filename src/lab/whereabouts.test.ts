// Whereabouts as a peer: a NAD with our plugin as the main type and the real Whereabouts (v0.9,
// scripts/whereabouts-bin.sh) as its delegated IPAM (`"delegateIpam": true`), on the kube lab.
// Pods in two namespaces, on two nodes, get addresses from Whereabouts' range, recorded in its
// IPPool CR; they ping each other over our network; deleting a pod releases its address in
// Whereabouts. Needs root and the Kubernetes binaries (CI fails without them); skips with the
// reason when the Whereabouts binary is not built.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Lab } from './lab.js';
import { labKubectl, labSkip, until } from './test-support.js';
import { whereaboutsConfig, whereaboutsKubeconfig } from './kube-control.js';
import { NETWORK_STATUS_ANNOTATION } from './pods.js';
import { kubeBinDir, kubeTestsBlocked } from '../store/kube-test-server.js';
import { whereaboutsUnavailableReason } from '../store/whereabouts-bin.js';

const run = promisify(execFile);
const quiet = (): void => undefined;
const RANGE = '10.93.7.0/24';

const wbMissing = labSkip ? undefined : whereaboutsUnavailableReason();
if (wbMissing) console.log(`# whereabouts interop: skipped: ${wbMissing}`);
const blocked = labSkip || wbMissing ? undefined : kubeTestsBlocked('whereabouts interop', test);

interface KPod {
  metadata: { name: string; namespace: string; annotations?: Record<string, string> };
  spec: { nodeName?: string };
  status: { phase?: string; message?: string };
}
interface IpPool {
  metadata: { name: string };
  spec: { range: string; allocations: Record<string, { id: string; podref: string; ifname: string }> };
}

describe(
  'whereabouts interop: our plugin with the real Whereabouts IPAM',
  { skip: labSkip || wbMissing || !!blocked },
  () => {
    let lab: Lab;
    let dir: string;
    const kubectl = (...args: string[]): Promise<string> => labKubectl(lab, ...args);
    const pod = async (ns: string, name: string): Promise<KPod | undefined> =>
      (JSON.parse(await kubectl('get', 'pods', '-n', ns, '-o', 'json')) as { items: KPod[] }).items.find(
        (p) => p.metadata.name === name,
      );
    const pools = async (): Promise<IpPool[]> =>
      (
        JSON.parse(
          await kubectl('get', 'ippools.whereabouts.cni.cncf.io', '-n', 'kube-system', '-o', 'json'),
        ) as {
          items: IpPool[];
        }
      ).items;
    const eth1 = (p: KPod): string => {
      const st = JSON.parse(p.metadata.annotations?.[NETWORK_STATUS_ANNOTATION] ?? '[]') as {
        interface: string;
        ips: string[];
      }[];
      return st.find((e) => e.interface === 'eth1')?.ips[0] ?? '';
    };

    before(async () => {
      lab = await Lab.up('wb', { nodes: 2, kube: true, resyncSeconds: 3 }, quiet);
      dir = mkdtempSync(join(tmpdir(), 'mn-wb-'));
      // One Network; per namespace a NAD whose IPAM is the real Whereabouts (its flat config file,
      // with the kubeconfig of its own identity, made by the lab); a pod in each namespace.
      const nad = (ns: string) => ({
        apiVersion: 'k8s.cni.cncf.io/v1',
        kind: 'NetworkAttachmentDefinition',
        metadata: { name: 'wb-net', namespace: ns },
        spec: {
          config: JSON.stringify({
            cniVersion: '1.0.0',
            name: 'wb-net',
            plugins: [
              {
                type: 'multinet',
                network: 'wbnet',
                delegateIpam: true,
                ipam: {
                  type: 'whereabouts',
                  range: RANGE,
                  configuration_path: whereaboutsConfig(lab.config.kube!),
                },
              },
            ],
          }),
        },
      });
      const podOf = (ns: string, name: string) => ({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace: ns, annotations: { 'k8s.v1.cni.cncf.io/networks': 'wb-net@eth1' } },
        spec: { containers: [{ name: 'c', image: 'busybox', command: ['sleep', 'infinity'] }] },
      });
      const objects = [
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'wb-a' } },
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'wb-b' } },
        {
          apiVersion: 'projectcalico.org/v3',
          kind: 'Network',
          metadata: { name: 'wbnet' },
          spec: { vni: 4093, range: '10.93.0.0/16' },
        },
        nad('wb-a'),
        nad('wb-b'),
        podOf('wb-a', 'pod-a'),
        podOf('wb-b', 'pod-b'),
      ];
      writeFileSync(join(dir, 'wb.json'), JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
    });
    after(async () => {
      await lab?.down(quiet);
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test('pods attach with addresses from Whereabouts, recorded in its IPPool; they ping across namespaces', async () => {
      await kubectl('apply', '-f', join(dir, 'wb.json'));
      const [a, b] = await until('both pods Running', async () => {
        const got = [await pod('wb-a', 'pod-a'), await pod('wb-b', 'pod-b')];
        if (got.some((p) => p?.status.phase === 'Failed'))
          throw new Error(`pod failed: ${got.map((p) => p?.status.message).join('; ')}`);
        return got.every((p) => p?.status.phase === 'Running') ? (got as KPod[]) : undefined;
      }).catch(async (e: Error) => {
        const ps = [await pod('wb-a', 'pod-a'), await pod('wb-b', 'pod-b')];
        throw new Error(
          `${e.message}: ${ps.map((p) => `${p?.status.phase} ${p?.status.message}`).join('; ')}`,
        );
      });
      assert.notEqual(a!.spec.nodeName, b!.spec.nodeName, 'one pod per node');
      const ipA = eth1(a!);
      const ipB = eth1(b!);
      assert.match(ipA, /^10\.93\.7\.\d+$/);
      assert.match(ipB, /^10\.93\.7\.\d+$/);
      assert.notEqual(ipA, ipB);
      // Whereabouts' own record: pool 10.93.7.0-24 holds both, keyed by offset, with the pods' refs.
      const pool = (await pools()).find((p) => p.spec.range === RANGE);
      assert.ok(pool, `an IPPool for ${RANGE}`);
      const byRef = Object.fromEntries(
        Object.entries(pool.spec.allocations).map(([off, x]) => [x.podref, `10.93.7.${off}`]),
      );
      assert.deepEqual(byRef, { 'wb-a/pod-a': ipA, 'wb-b/pod-b': ipB });
      // Our IPAM allocated nothing in that network (eth0 comes from the default network's).
      const store = await lab.store();
      const reservations = (await store.list('IPReservation')).items;
      assert.deepEqual(
        reservations.filter((r) => r.namespace === 'wbnet'),
        [],
      );
      // Real packets between the namespaces (and nodes), over our network's VXLAN.
      const netnsA = await lab.podNetns('wb-a/pod-a');
      const netnsB = await lab.podNetns('wb-b/pod-b');
      for (const [ns, to] of [
        [netnsA, ipB],
        [netnsB, ipA],
      ] as const)
        await until(`ping ${to} from ${ns}`, async () => {
          await run('ip', ['netns', 'exec', ns, 'ping', '-c', '1', '-W', '1', '-I', 'eth1', to]);
          return true;
        });
    });

    test("Whereabouts' identity: its own records and Lease, nothing else", async () => {
      const kc = join(kubeBinDir()!, 'kubectl');
      const can = async (...a: string[]): Promise<string> => {
        const args = ['--kubeconfig', whereaboutsKubeconfig(lab.config.kube!), 'auth', 'can-i', ...a];
        return (
          await run(kc, args).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }))
        ).stdout.trim();
      };
      for (const a of [
        ['patch', 'ippools.whereabouts.cni.cncf.io', '-n', 'kube-system'],
        ['create', 'overlappingrangeipreservations.whereabouts.cni.cncf.io', '-n', 'kube-system'],
        ['update', 'leases.coordination.k8s.io', '-n', 'kube-system'],
      ])
        assert.deepEqual([a.join(' '), await can(...a)], [a.join(' '), 'yes']);
      for (const a of [
        ['get', 'secrets', '-A'],
        ['create', 'pods'],
        ['delete', 'leases.coordination.k8s.io', '-n', 'kube-system'],
        ['create', 'ipreservations.multinet.projectcalico.org'],
      ])
        assert.deepEqual([a.join(' '), await can(...a)], [a.join(' '), 'no']);
    });

    test('kubectl delete pod: its address is released in Whereabouts', async () => {
      await kubectl('delete', 'pod', '-n', 'wb-b', 'pod-b', '--wait=true', '--timeout=60s');
      assert.equal(await pod('wb-b', 'pod-b'), undefined);
      const pool = (await pools()).find((p) => p.spec.range === RANGE)!;
      assert.deepEqual(
        Object.values(pool.spec.allocations).map((x) => x.podref),
        ['wb-a/pod-a'],
      );
    });
  },
);
