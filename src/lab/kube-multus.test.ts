// The kube lab with the real Multus thin plugin (scripts/multus-bin.sh): each node's kubelet role
// calls Multus as the pod's only CNI network; Multus reads the seed's annotation and NADs from the
// API server, calls our plugin per attachment and writes network-status itself. The seed applied
// with kubectl, `lab check` green, and `kubectl delete pod` (DEL through Multus and its cache)
// cleaning up. Needs root, the Kubernetes binaries and the Multus binary: without the binaries it
// is skipped with the reason, and fails in CI (where .ci/install builds them).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Lab } from './lab.js';
import { labKubectl, labSkip, SEED_DIR, until } from './test-support.js';
import { expectations, mismatches, runChecks } from './check.js';
import { listNetns } from './topology.js';
import { kubectlArgs } from './kube-apply.js';
import { kubeTestsBlocked } from '../store/kube-test-server.js';
import { NETWORK_STATUS_ANNOTATION, type NetworkStatusEntry } from './pods.js';
import { findMultus, multusDir } from './multus.js';
import { nodeKubeconfig } from './layout.js';
import {
  addedInterfaceMessage,
  delegateAddFailed,
  nadConfigNotJson,
  nadNotFound,
  pluginAddFailed,
  sandboxAddFailed,
} from './multus-messages.js';

const run = promisify(execFile);
const quiet = (): void => undefined;

interface KPod {
  metadata: {
    name: string;
    uid: string;
    annotations?: Record<string, string>;
    managedFields?: { manager?: string; subresource?: string; fieldsV1?: unknown }[];
  };
  spec: { nodeName?: string };
  status: { phase?: string; message?: string; podIP?: string };
}

function multusBlocked(): string | undefined {
  const m = findMultus();
  if (m.kind === 'thin') return undefined;
  const name = 'kube lab with the real Multus';
  if (process.env.CI) {
    test(name, () => {
      throw new Error(m.why);
    });
  } else {
    console.log(`# ${name}: skipped: ${m.why} (in CI this fails)`);
    test(name, (t) => t.skip(m.why));
  }
  return m.why;
}

const blocked = labSkip ? undefined : (kubeTestsBlocked('kube lab (Multus)', test) ?? multusBlocked());

describe('kube lab with the real Multus thin plugin', { skip: labSkip || !!blocked }, () => {
  let lab: Lab;
  const kubectl = (...args: string[]): Promise<string> => labKubectl(lab, ...args);
  const pods = async (): Promise<KPod[]> =>
    (JSON.parse(await kubectl('get', 'pods', '-o', 'json', '--show-managed-fields')) as { items: KPod[] })
      .items;

  before(async () => {
    lab = await Lab.up('mm', { nodes: 2, kube: true, resyncSeconds: 3 }, quiet);
  });
  after(async () => {
    await lab?.down(quiet);
  });

  test('kubectl apply -f examples/seed/: Multus attaches the pods and writes network-status', async () => {
    const m = lab.config.kube?.multus;
    assert.equal(m?.kind, 'thin');
    const out = await kubectl('apply', '-f', SEED_DIR);
    assert.match(out, /pod\/samplepod created/);
    const names = ['samplepod', 'samplepod2', 'samplepod3', 'samplepod-memif'];
    const got = await until('seed pods Running or Failed', async () => {
      const ps = await pods();
      const g = names.map((n) => ps.find((p) => p.metadata.name === n));
      return g.every((p) => p?.status.phase === 'Running' || p?.status.phase === 'Failed') ? g : undefined;
    });
    for (const p of got)
      assert.equal(p!.status.phase, 'Running', `${p!.metadata.name}: ${p!.status.message}`);
    const p1 = got[0]!;
    const ns = JSON.parse(
      p1.metadata.annotations?.[NETWORK_STATUS_ANNOTATION] ?? '[]',
    ) as NetworkStatusEntry[];
    assert.deepEqual(
      ns.map((e) => [e.name, e.interface, e.default]),
      [
        ['multinet-default', 'eth0', true],
        ['default/network-blue-conf', 'eth1', undefined],
        ['default/network-red-conf', 'eth2', undefined],
      ],
    );
    assert.equal(ns[0]!.ips?.[0], p1.status.podIP);
    assert.deepEqual(ns[0]!.gateway, ['169.254.1.1']);
    assert.match(ns[1]!.ips?.[0] ?? '', /^172\.19\./);
    assert.match(ns[1]!.mac ?? '', /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    // Written by Multus (its client's field manager, through pods/status), not by the kubelet role.
    const byMultus = p1.metadata.managedFields?.find(
      (f) => f.manager === 'multus' && JSON.stringify(f.fieldsV1).includes(NETWORK_STATUS_ANNOTATION),
    );
    assert.equal(byMultus?.subresource, 'status', JSON.stringify(p1.metadata.managedFields));
    // The pod's status by the kubelet role, under the kubelet's manager name.
    assert.ok(
      p1.metadata.managedFields?.some((f) => f.manager === 'kubelet' && f.subresource === 'status'),
      JSON.stringify(p1.metadata.managedFields),
    );
    // Multus' AddedInterface events, in the words the emulation uses (addedInterfaceMessage).
    const events = JSON.parse(
      await kubectl(
        'get',
        'events',
        '--field-selector',
        `involvedObject.name=${p1.metadata.name}`,
        '-o',
        'json',
      ),
    ) as { items: { reason: string; message: string; source?: { component?: string } }[] };
    const added = events.items.filter((e) => e.reason === 'AddedInterface');
    assert.deepEqual(
      added.map((e) => [e.source?.component, e.message]).sort(),
      ns
        .map((e) => [
          'multus',
          addedInterfaceMessage(
            e.interface!,
            { ips: (e.ips ?? []).map((a) => ({ address: `${a}/32` })) },
            e.name,
          ),
        ])
        .sort(),
    );
    const log = readFileSync(join(multusDir(lab.config, { name: p1.spec.nodeName! }), 'multus.log'), 'utf8');
    assert.match(log, /samplepod/);
  });

  test("Multus' identity may do what the thin plugin does and no more (kubectl auth can-i)", async () => {
    const kc = nodeKubeconfig(lab.config.kube!, lab.config.nodes[0]!.name, 'multus');
    const can = async (...a: string[]): Promise<string> => {
      const k = kubectlArgs(lab.config, []);
      try {
        return (await run(k.cmd, ['--kubeconfig', kc, 'auth', 'can-i', ...a])).stdout.trim();
      } catch (e) {
        return ((e as { stdout?: string }).stdout ?? '').trim();
      }
    };
    const asked = [
      ['get', 'pods'],
      ['update', 'pods', '--subresource=status'],
      ['get', 'network-attachment-definitions.k8s.cni.cncf.io'],
      ['create', 'events'],
      ['list', 'pods'],
      ['patch', 'pods'],
      ['delete', 'pods'],
      ['list', 'network-attachment-definitions.k8s.cni.cncf.io'],
      ['get', 'secrets'],
    ];
    const got = [];
    for (const a of asked) got.push(`${a.join(' ')}: ${await can(...a)}`);
    assert.deepEqual(got, [
      'get pods: yes',
      'update pods --subresource=status: yes',
      'get network-attachment-definitions.k8s.cni.cncf.io: yes',
      'create events: yes',
      'list pods: no',
      'patch pods: no',
      'delete pods: no',
      'list network-attachment-definitions.k8s.cni.cncf.io: no',
      'get secrets: no',
    ]);
  });

  test('lab check is green with Multus attaching the pods', async () => {
    const results = await runChecks(
      lab.runner,
      expectations(await lab.endpoints(), await lab.policyOracle()),
    );
    const bad = mismatches(results).map(
      (b) => `${b.from.pod}/${b.from.ifName} -> ${b.to.pod}/${b.to.ifName}`,
    );
    assert.deepEqual(bad, []);
    assert.equal(results.filter((r) => r.seen !== undefined).length, 72);
  });

  test("failures: Multus' message is the emulation's, word for word (missing NAD, bad JSON, a delegate refusing)", async () => {
    const nad = (name: string, config: string): string =>
      `apiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\nmetadata: {name: ${name}}\nspec:\n  config: '${config}'\n`;
    const plugins =
      '"plugins": [{"type": "calico", "ipam": {"type": "whereabouts"}, "dataplane_options": {"network_name": "blue"}}]';
    const pod = (name: string, networks: string): string =>
      `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\n  annotations: {k8s.v1.cni.cncf.io/networks: ${networks}}\nspec: {containers: [{name: c, image: busybox}]}\n`;
    const file = join(lab.config.dir, 'failing.yaml');
    writeFileSync(
      file,
      [
        nad('comma', `{"cniVersion": "0.3.1", "name": "net-comma", ${plugins.replace('}}]', '}},]')}}`),
        nad('noversion', `{"name": "net-nov", ${plugins}}`),
        pod('f-missing', 'nope'),
        pod('f-comma', 'comma'),
        pod('f-nov', 'noversion'),
      ].join('---\n'),
    );
    await kubectl('apply', '-f', file);
    const names = ['f-missing', 'f-comma', 'f-nov'];
    const failed = await until(
      "the failing pods Failed (after the kubelet role's retries)",
      async () => {
        const ps = await pods();
        const g = names.map((n) => ps.find((p) => p.metadata.name === n));
        return g.every((p) => p?.status.phase === 'Failed') ? g : undefined;
      },
      90_000,
    );
    const [missing, comma, nov] = failed.map((p) => ({
      who: { namespace: 'default', name: p!.metadata.name, uid: p!.metadata.uid },
      message: p!.status.message ?? '',
    }));
    assert.equal(
      missing!.message,
      sandboxAddFailed(nadNotFound(missing!.who, { namespace: 'default', name: 'nope' })),
    );
    // Go's JSON error text is Go's; everything before it is the emulation's.
    assert.ok(comma!.message.startsWith(sandboxAddFailed(nadConfigNotJson(comma!.who, ''))), comma!.message);
    const cause = pluginAddFailed({ plugin: 'calico', msg: 'incompatible CNI versions', details: '' });
    assert.ok(
      nov!.message.startsWith(sandboxAddFailed(delegateAddFailed(nov!.who, 'net-nov', cause))),
      nov!.message,
    );
    await kubectl('delete', '-f', file, '--wait=true', '--timeout=60s');
  });

  test('kubectl delete pod: DEL through Multus (its cache), netns gone, addresses released', async () => {
    const p3 = (await pods()).find((p) => p.metadata.name === 'samplepod3')!;
    const netns = await lab.podNetns('samplepod3');
    const cache = join(multusDir(lab.config, { name: p3.spec.nodeName! }), 'cache');
    // One file per container (its delegates); libcni's results/ folder beside them.
    const cached = (): string[] =>
      existsSync(cache) ? readdirSync(cache).filter((f) => f !== 'results') : [];
    const before = cached().length;
    assert.ok(before > 0, 'Multus cached the delegates of its pods');
    const store = await lab.store();
    const reservations = async (): Promise<number> => (await store.list('IPReservation')).items.length;
    const n0 = await reservations();
    await kubectl('delete', 'pod', 'samplepod3', '--wait=true', '--timeout=60s');
    assert.ok(!(await listNetns(lab.runner)).includes(netns), 'pod netns removed');
    assert.equal(await reservations(), n0 - 3, 'its 3 addresses are released');
    const atts = (await store.list('Attachment')).items.filter((a) =>
      JSON.stringify(a.value).includes(p3.metadata.uid),
    );
    assert.deepEqual(atts, []);
    assert.equal(cached().length, before - 1, 'Multus removed its cache entry');
  });
});
