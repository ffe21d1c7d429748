// The kube lab end to end: `lab up --kube` (its own etcd + kube-apiserver, RBAC on), the seed's
// files applied unchanged with the real kubectl, pods run by the lab's kubelets through the real
// CNI chain, `lab check` over real packets, `kubectl delete pod`, the API server refusing a bad
// Network itself, a kill -9 of kube-apiserver survived, and `lab down` leaving nothing. Needs root
// and the Kubernetes binaries (scripts/k8s-bins.sh); without the binaries it fails in CI.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { Lab } from './lab.js';
import { labKubectl, labSkip, SEED_DIR, sourcePath, until } from './test-support.js';
import { expectations, mismatches, runChecks } from './check.js';
import { listNetns } from './topology.js';
import { kubectlArgs } from './kube-apply.js';
import { nodeKubeconfig } from './layout.js';
import { repoRoot } from '../store/kube-bins.js';
import { join } from 'node:path';
import { kubeTestsBlocked } from '../store/kube-test-server.js';
import { routingNsPrefix } from '../dataplane/naming.js';
import { ProcessRunner } from '../util/exec.js';
import { NETWORK_STATUS_ANNOTATION } from './pods.js';
import { isAlive } from './daemons.js';
import { CLI, stopAgent } from './agents.js';
import { readCluster } from './cluster.js';
import { podRows } from './views.js';

const run = promisify(execFile);
const quiet = (): void => undefined;

interface KPod {
  metadata: { name: string; uid: string; annotations?: Record<string, string> };
  spec: { nodeName?: string };
  status: { phase?: string; reason?: string; message?: string; podIP?: string; podIPs?: { ip: string }[] };
}

const blocked = labSkip ? undefined : kubeTestsBlocked('kube lab', test);

describe('kube lab: the seed through kubectl on a real control plane', { skip: labSkip || !!blocked }, () => {
  let lab: Lab;
  let netnsBefore: string[];
  const kubectl = (...args: string[]): Promise<string> => labKubectl(lab, ...args);
  const pods = async (): Promise<KPod[]> =>
    (JSON.parse(await kubectl('get', 'pods', '-o', 'json')) as { items: KPod[] }).items;
  const pod = async (name: string): Promise<KPod | undefined> =>
    (await pods()).find((p) => p.metadata.name === name);
  const check = async (): Promise<{ probed: number; bad: string[] }> => {
    const results = await runChecks(
      lab.runner,
      expectations(await lab.endpoints(), await lab.policyOracle()),
    );
    return {
      probed: results.filter((r) => r.seen !== undefined).length,
      bad: mismatches(results).map((b) => `${b.from.pod}/${b.from.ifName} -> ${b.to.pod}/${b.to.ifName}`),
    };
  };
  const settled = (names: string[]) =>
    until(`pods ${names.join(', ')} Running or Failed`, async () => {
      const ps = await pods();
      const got = names.map((n) => ps.find((p) => p.metadata.name === n));
      return got.every((p) => p?.status.phase === 'Running' || p?.status.phase === 'Failed')
        ? got
        : undefined;
    });

  before(async () => {
    netnsBefore = await listNetns(new ProcessRunner());
    lab = await Lab.up('kb', { nodes: 2, kube: true, resyncSeconds: 3 }, quiet);
  });
  after(async () => {
    await lab?.down(quiet);
  });

  test('kubectl apply -f examples/seed/: pods run on both nodes, network-status as Multus writes it', async () => {
    const out = await kubectl('apply', '-f', SEED_DIR);
    assert.match(out, /network\.projectcalico\.org\/blue created/);
    assert.match(out, /networkattachmentdefinition\.k8s\.cni\.cncf\.io\/network-red-conf created/);
    const [p1, p2, p3, memif] = await settled(['samplepod', 'samplepod2', 'samplepod3', 'samplepod-memif']);
    for (const p of [p1, p2, p3]) {
      assert.equal(p!.status.phase, 'Running', p!.metadata.name);
      assert.match(p!.status.podIP ?? '', /^10\.244\./);
    }
    assert.notEqual(p2!.spec.nodeName, p3!.spec.nodeName, 'the scheduler spreads the pods');
    assert.equal(memif!.status.phase, 'Running', memif!.status.message);
    const ns = JSON.parse(p1!.metadata.annotations?.[NETWORK_STATUS_ANNOTATION] ?? '[]') as {
      name: string;
      interface: string;
      ips: string[];
      default?: true;
    }[];
    assert.deepEqual(
      ns.map((e) => [e.name, e.interface, e.default]),
      [
        ['multinet-default', 'eth0', true],
        // `default` only on the cluster network: Multus' Go type omits false.
        ['default/network-blue-conf', 'eth1', undefined],
        ['default/network-red-conf', 'eth2', undefined],
      ],
    );
    assert.equal(ns[0]!.ips[0], p1!.status.podIP);
    assert.match(ns[1]!.ips[0] ?? '', /^172\.19\./);
    const nets = await kubectl('get', 'networks');
    assert.match(nets, /blue\s+56\s+172\.19\.0\.0\/16/);
    assert.match(nets, /red\s+88\s+172\.21\.0\.0\/16/);
    const wide = await kubectl('get', 'pods', '-o', 'wide');
    assert.match(wide, /samplepod2\s+1\/1\s+Running/);
  });

  test('lab check is green on the kube lab (real packets, policies from the API server)', async () => {
    const r = await check();
    assert.deepEqual(r.bad, []);
    assert.equal(r.probed, 72);
    const netns = await lab.podNetns('samplepod');
    const { stdout } = await run('ip', ['-n', netns, '-j', 'addr', 'show', 'eth1']);
    assert.match(stdout, /172\.19\./);
    // lab get pods reads the same API objects.
    const rows = podRows(await readCluster(await lab.store()), [], lab.config.name);
    const row = (n: string) => rows.find((x) => x.name === n);
    assert.equal(row('samplepod2')?.phase, 'Running');
    assert.match(row('samplepod2')?.node ?? '', /^kb-node\d$/);
    assert.match(
      row('samplepod2')?.interfaces.join(' ') ?? '',
      /^eth0=default:10\.244\.\S+ eth1=blue:172\.19\.\S+ eth2=red:172\.21\./,
    );
    assert.equal(row('samplepod-memif')?.phase, 'Running');
    assert.match(row('samplepod-memif')?.interfaces.join(' ') ?? '', /memif1=blue:172\.19\./);
  });

  test('a Network that breaks its schema (vni 0) is refused by the API server itself', async () => {
    const k = kubectlArgs(lab.config, ['apply', '-f', sourcePath('./testdata/kube/bad-vni.yaml')]);
    await assert.rejects(run(k.cmd, k.args), (e: { stderr?: string }) => {
      assert.match(e.stderr ?? '', /spec\.vni/);
      return true;
    });
    // lab apply validates first, as on the embedded lab: nothing reaches kubectl.
    const r = await lab.apply([sourcePath('./testdata/kube/bad-vni.yaml')], quiet);
    assert.ok(r.errorCount > 0);
    assert.match(r.issues.map((i) => `${i.path} ${i.reason}`).join('\n'), /vni/);
    assert.doesNotMatch(await kubectl('get', 'networks'), /zero-vni/);
  });

  test('kubectl delete pod: DEL in reverse order, netns gone, addresses released, pod gone', async () => {
    const p3 = (await pod('samplepod3'))!;
    const view = (await lab.endpoints()).filter((e) => e.pod === 'samplepod3');
    assert.equal(view.length, 3);
    const store = await lab.store();
    const reservations = async (): Promise<number> => (await store.list('IPReservation')).items.length;
    const before = await reservations();
    await kubectl('delete', 'pod', 'samplepod3', '--wait=true', '--timeout=60s');
    assert.equal(await pod('samplepod3'), undefined);
    assert.ok(!(await listNetns(lab.runner)).includes(view[0]!.netns), 'pod netns removed');
    assert.equal(await reservations(), before - 3, 'its 3 addresses are released');
    const atts = (await store.list('Attachment')).items.filter((a) =>
      JSON.stringify(a.value).includes(p3.metadata.uid),
    );
    assert.deepEqual(atts, []);
  });

  test('kill -9 of kube-apiserver: agents, kubelets and scheduler catch up by themselves', async () => {
    await lab.killApiServer();
    // Readiness follows the store: not ready while the API server is away (liveness is not asked to).
    const down = await until(
      'agents not ready during the outage',
      async () => {
        const st = await lab.nodeStatus();
        return st.every((n) => n.ready?.startsWith('not ready')) ? st : undefined;
      },
      30_000,
    );
    assert.ok(down.every((n) => n.agent === 'alive'));
    await lab.startApiServer();
    // A pod created after the restart is scheduled, started and reachable: every watcher came back.
    // (lab apply: our validation, then kubectl, then it waits for the pods.)
    const applied = await lab.apply([`${SEED_DIR}/pods.yaml`], quiet);
    assert.equal(applied.errorCount, 0);
    assert.deepEqual(applied.changed, ['pod/samplepod3']);
    const [p3] = await settled(['samplepod3']);
    assert.equal(p3!.status.phase, 'Running');
    await until('agents watching again', async () =>
      (await lab.nodeStatus()).every((n) => n.watch?.connected) ? true : undefined,
    );
    // And ready by their own health endpoint (in sync, CNI socket answering), as a probe sees it.
    await until('agents /readyz ok', async () =>
      (await lab.nodeStatus()).every((n) => n.ready === 'ok') ? true : undefined,
    );
    const r = await until('lab check green after the restart', async () => {
      const c = await check();
      return c.bad.length === 0 && c.probed === 72 ? c : undefined;
    });
    assert.equal(r.probed, 72);
    assert.ok(lab.kubeProcesses().every((p) => p.alive));
  });

  test('deploy/: kubectl apply --dry-run=server -R, then a real apply, succeed on the API server', async () => {
    const deploy = join(repoRoot(), 'deploy');
    const dry = await kubectl('apply', '--dry-run=server', '-R', '-f', deploy);
    assert.match(dry, /daemonset\.apps\/multinet-agent created \(server dry run\)/);
    const out = await kubectl('apply', '-R', '-f', deploy);
    assert.match(out, /daemonset\.apps\/multinet-agent created/);
    assert.match(out, /configmap\/multinet-config created/);
    // The lab applied the namespace, ServiceAccount and RBAC itself: unchanged by the operator's apply.
    assert.match(out, /clusterrole\.rbac\.authorization\.k8s\.io\/multinet-agent (unchanged|configured)/);
    const ds = JSON.parse(
      await kubectl('get', 'daemonset', '-n', 'multinet-system', 'multinet-agent', '-o', 'json'),
    ) as {
      spec: { template: { spec: { serviceAccountName: string } } };
    };
    assert.equal(ds.spec.template.spec.serviceAccountName, 'multinet-agent');
  });

  test('the agents run as the ServiceAccount, with least privilege (kubectl auth can-i)', async () => {
    const node = lab.config.nodes[0]!.name;
    const agentKc = nodeKubeconfig(lab.config.kube!, node, 'agent');
    const k = kubectlArgs(lab.config, []);
    const asAgent = async (...args: string[]): Promise<{ code: number; out: string }> => {
      try {
        const r = await run(k.cmd, ['--kubeconfig', agentKc, ...args]);
        return { code: 0, out: r.stdout.trim() };
      } catch (e) {
        const x = e as { code?: number; stdout?: string };
        return { code: x.code ?? -1, out: (x.stdout ?? '').trim() };
      }
    };
    const who = JSON.parse((await asAgent('auth', 'whoami', '-o', 'json')).out) as {
      status: { userInfo: { username: string } };
    };
    assert.equal(who.status.userInfo.username, 'system:serviceaccount:multinet-system:multinet-agent');
    const denied = [
      ['get', 'secrets', '-A'],
      ['list', 'secrets', '-n', 'multinet-system'],
      ['create', 'pods'],
      ['delete', 'pods'],
      ['patch', 'pods'],
      ['update', 'networks.projectcalico.org'],
      ['create', 'networks.projectcalico.org'],
      ['delete', 'networks.projectcalico.org'],
      ['update', 'network-attachment-definitions.k8s.cni.cncf.io'],
      ['create', 'networkpolicies.crd.projectcalico.org'],
      ['create', 'services'],
      ['update', 'nodes'],
      ['create', 'clusterroles.rbac.authorization.k8s.io'],
    ];
    for (const a of denied) {
      const r = await asAgent('auth', 'can-i', ...a);
      assert.deepEqual([a.join(' '), r.out], [a.join(' '), 'no']);
    }
    const allowed = [
      ['watch', 'pods', '-A'],
      ['list', 'networks.projectcalico.org'],
      ['list', 'network-attachment-definitions.k8s.cni.cncf.io', '-A'],
      ['watch', 'networkpolicies.crd.projectcalico.org', '-A'],
      ['create', 'ipreservations.multinet.projectcalico.org'],
      ['delete', 'attachments.multinet.projectcalico.org'],
    ];
    for (const a of allowed) {
      const r = await asAgent('auth', 'can-i', ...a);
      assert.deepEqual([a.join(' '), r.out], [a.join(' '), 'yes']);
    }
  });

  test('uninstall: with its agent stopped, dataplane teardown removes what a node had', async () => {
    const n2 = lab.config.nodes[1]!;
    const mine = async (): Promise<string[]> =>
      (await listNetns(lab.runner)).filter((n) => n.startsWith(routingNsPrefix(n2.name)));
    assert.ok((await mine()).length >= 3, 'default, blue and red routing domains on the node');
    await stopAgent(n2);
    assert.ok((await mine()).length >= 3, 'a stopped agent leaves its dataplane in place');
    const { stdout } = await run(process.execPath, [
      CLI,
      'dataplane',
      'teardown',
      '--node',
      n2.name,
      '--netns',
      n2.netns,
    ]);
    assert.match(stdout, /routing namespace\(s\) removed/);
    assert.deepEqual(await mine(), []);
  });

  test('lab down stops the control plane and removes everything', async () => {
    const procs = lab.kubeProcesses();
    assert.equal(procs.length, 5); // etcd, kube-apiserver, scheduler, 2 kubelets
    const dir = lab.config.dir;
    await lab.down(quiet);
    assert.deepEqual(
      procs.filter((p) => isAlive(p.pid)).map((p) => p.name),
      [],
    );
    const ours = [`mn-${lab.config.name}-`, ...lab.config.nodes.map((n) => routingNsPrefix(n.name))];
    const left = (await listNetns(new ProcessRunner())).filter(
      (n) => ours.some((p) => n.startsWith(p)) && !netnsBefore.includes(n),
    );
    assert.deepEqual(left, []);
    assert.ok(!existsSync(dir));
    lab = undefined as unknown as Lab;
  });
});
