// What `kubectl apply -R -f deploy/` installs, checked against the code: the ClusterRole grants
// exactly what the kubernetes:// store reads and writes (derived from its mapping), nothing on
// Secrets and no write on users' objects; the DaemonSet runs under that ServiceAccount with the
// probes, mounts and configuration the agent expects; and every path the Containerfile copies
// exists after `npm run build` (the image cannot be built on these machines).
import { DEFAULT_MEMIF_CONTROL } from './cli/agent-options.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from './store/kube-bins.js';
import { KIND_RESOURCES, PREFERRED_RESOURCES, STORE_OBJECT } from './store/kube-mapping.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ROOT = repoRoot();

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((f) => {
      const p = join(dir, f);
      if (statSync(p).isDirectory()) return yamlFiles(p);
      return /\.(ya?ml|json)$/.test(f) ? [p] : [];
    });
}

/** Every object of deploy/, as kubectl apply -R walks it (lexical order). */
function deployObjects(): { file: string; obj: Obj }[] {
  return yamlFiles(join(ROOT, 'deploy')).flatMap((file) =>
    parseAllDocuments(readFileSync(file, 'utf8'))
      .map((d) => d.toJS() as Obj | null)
      .filter((o): o is Obj => !!o)
      .map((obj) => ({ file, obj })),
  );
}

const find = (kind: string, name: string): Obj => {
  const o = deployObjects().find((x) => x.obj.kind === kind && x.obj.metadata?.name === name)?.obj;
  assert.ok(o, `${kind}/${name} in deploy/`);
  return o;
};

test('deploy/: every document is a named Kubernetes object; the namespace comes first', () => {
  const all = deployObjects();
  assert.ok(all.length >= 12);
  for (const { file, obj } of all) {
    assert.ok(obj.apiVersion && obj.kind && obj.metadata?.name, `${file}: apiVersion, kind, metadata.name`);
    if (['ConfigMap', 'DaemonSet', 'ServiceAccount'].includes(obj.kind))
      assert.equal(obj.metadata.namespace, 'multinet-system', `${file}: in multinet-system`);
  }
  assert.equal(all[0]!.obj.kind, 'Namespace', 'kubectl apply -R creates the namespace before what is in it');
  // Other projects' CRDs never ship in deploy/ (a cluster has Multus's and Calico's own).
  const groups = all.filter((x) => x.obj.kind === 'CustomResourceDefinition').map((x) => x.obj.spec.group);
  assert.deepEqual([...new Set(groups)].sort(), ['multinet.projectcalico.org', 'projectcalico.org']);
});

test('the agent ClusterRole: exactly the store mapping, read-only on users, nothing on Secrets', () => {
  const role = find('ClusterRole', 'multinet-agent');
  const granted = new Map<string, Set<string>>();
  for (const r of role.rules as Obj[])
    for (const g of r.apiGroups as string[])
      for (const res of r.resources as string[]) granted.set(`${g}/${res}`, new Set(r.verbs as string[]));
  const want = new Map<string, string[]>();
  const read = ['get', 'list', 'watch'];
  for (const r of [...Object.values(KIND_RESOURCES), ...Object.values(PREFERRED_RESOURCES), STORE_OBJECT])
    want.set(`${r.group}/${r.plural}`, r.own ? [...read, 'create', 'update', 'delete'] : read);
  assert.deepEqual(
    [...granted.keys()].sort(),
    [...want.keys()].sort(),
    'one rule entry per resource the store touches, no more',
  );
  for (const [res, verbs] of want) assert.deepEqual([...granted.get(res)!].sort(), [...verbs].sort(), res);
  assert.ok(![...granted.keys()].some((k) => /secrets|\*/.test(k)));
  const binding = find('ClusterRoleBinding', 'multinet-agent');
  assert.deepEqual(binding.roleRef, {
    apiGroup: 'rbac.authorization.k8s.io',
    kind: 'ClusterRole',
    name: 'multinet-agent',
  });
  assert.deepEqual(binding.subjects, [
    { kind: 'ServiceAccount', name: 'multinet-agent', namespace: 'multinet-system' },
  ]);
  find('ServiceAccount', 'multinet-agent');
});

test('the DaemonSet: host network, privileged, every taint, probes on the health address, the mounts', () => {
  const ds = find('DaemonSet', 'multinet-agent');
  const pod = ds.spec.template.spec;
  assert.equal(pod.serviceAccountName, 'multinet-agent');
  assert.equal(pod.hostNetwork, true);
  assert.equal(pod.priorityClassName, 'system-node-critical');
  assert.deepEqual(pod.tolerations, [{ operator: 'Exists' }]);
  assert.equal(ds.spec.updateStrategy.type, 'RollingUpdate');
  const agent = (pod.containers as Obj[]).find((c) => c.name === 'agent')!;
  assert.equal(agent.securityContext.privileged, true);
  assert.ok(agent.resources.requests.cpu && agent.resources.requests.memory);
  const cm = find('ConfigMap', 'multinet-config');
  assert.deepEqual(agent.envFrom, [{ configMapRef: { name: 'multinet-config' } }]);
  const port = Number(String(cm.data.MULTINET_HEALTH_ADDRESS).split(':').at(-1));
  assert.equal(agent.readinessProbe.httpGet.port, port);
  assert.equal(agent.readinessProbe.httpGet.path, '/readyz');
  assert.equal(agent.livenessProbe.httpGet.port, port);
  assert.equal(agent.livenessProbe.httpGet.path, '/livez');
  assert.equal(cm.data.MULTINET_STORE, 'kubernetes://');
  for (const k of Object.keys(cm.data)) assert.match(k, /^MULTINET_[A-Z_]+$/);
  const mounts = new Map((agent.volumeMounts as Obj[]).map((m) => [m.mountPath, m]));
  assert.equal(mounts.get('/run/netns')?.mountPropagation, 'Bidirectional');
  for (const p of ['/run/multinet', '/opt/cni/bin', '/etc/cni/net.d', '/run/k8s.cni.cncf.io'])
    assert.ok(mounts.has(p), p);
  assert.equal(mounts.get('/lib/modules')?.readOnly, true);
  // The memif forwarder runs beside the agent, which only connects to it.
  const memifd = (pod.containers as Obj[]).find((c) => c.name === 'memifd')!;
  assert.equal(cm.data.MULTINET_MEMIF_FORWARDER, 'external');
  assert.deepEqual(memifd.command, [
    '/opt/multinet/dist/multinet-memifd',
    '--control',
    DEFAULT_MEMIF_CONTROL,
  ]);
  assert.equal(memifd.securityContext.privileged, true);
  const fm = new Map((memifd.volumeMounts as Obj[]).map((m) => [m.mountPath, m]));
  assert.ok(fm.has('/run/netns') && fm.has('/run/multinet'));
  const init = (pod.initContainers as Obj[]).find((c) => c.name === 'install-cni')!;
  assert.deepEqual(init.command.slice(2), [
    'install-cni',
    '--dest',
    '/host/opt/cni/bin',
    '--names',
    'multinet,calico',
  ]);
  // Both containers run the image's CLI.
  for (const c of [agent, init]) assert.equal(c.command[1], '/opt/multinet/bin/multinet.js');
});

test('the Containerfile copies only what exists after npm run build', () => {
  const text = readFileSync(join(ROOT, 'Containerfile'), 'utf8');
  const copies = [...text.matchAll(/^COPY\s+(.+)$/gm)].map((m) => m[1]!.trim().split(/\s+/));
  assert.ok(copies.length >= 8);
  for (const parts of copies) {
    const fromBuild = parts[0] === '--from=build';
    const srcs = (fromBuild ? parts.slice(1) : parts).slice(0, -1);
    for (const s of srcs) {
      // The build stage's WORKDIR is /src: a copy from it names a path of the built tree.
      const rel = fromBuild ? s.replace(/^\/src\//, '') : s;
      if (rel === 'node_modules') continue; // made by npm ci in the image
      assert.ok(existsSync(join(ROOT, rel)), `Containerfile copies ${s}: ${rel} is missing`);
    }
  }
  // What the image runs.
  for (const p of ['bin/multinet.js', 'dist/src/cli/main.js', 'dist/multinet-cni', 'dist/multinet-cni.mjs'])
    assert.ok(existsSync(join(ROOT, p)), `${p} after npm run build`);
  assert.match(text, /apt-get install .*iproute2 nftables/);
  assert.match(text, /FROM docker\.io\/library\/node:20/);
});
