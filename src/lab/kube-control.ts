// The kube lab's control plane: its own etcd and kube-apiserver on loopback (lab daemons, data
// and certificates in <lab>/kube/), the identities of its parts (the admin: a client certificate
// in system:masters; each node's agent: a token of deploy/'s multinet-agent ServiceAccount, with
// deploy/rbac's ClusterRole; each node's kubelet role: a certificate in multinet:lab-kubelets; the
// Multus each kubelet role calls: a certificate in multinet:lab-multus, allowed what the thin plugin
// does and no more; the scheduler: system:kube-scheduler, whose role the API server bootstraps; the
// real Whereabouts IPAM plugin, for NADs that ask for it: a certificate of its own with a ClusterRole
// of what the plugin does), and the objects a
// cluster has before users apply anything: CRDs, RBAC, one Node per lab node, the default Network.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { credentialsFromKubeconfig, KubeApiError, KubeClient } from '../store/kube-client.js';
import { repoObjects, installCrds, kubeBinDir, kubeUnavailableReason } from '../store/kube-bins.js';
import { storeCrds } from '../store/kube-crds.js';
import {
  kubeconfigYaml,
  makeClientCert,
  makeControlPlanePki,
  writeCertKubeconfig,
} from '../store/kube-pki.js';
import {
  apiServerArgs,
  etcdArgs,
  waitApiServerReady,
  type ControlPlaneSpec,
} from '../store/kube-control-plane.js';
import { adminKubeconfig, nodeKubeconfig, type KubeLabConfig, type LabConfig } from './layout.js';
import { isAlive, logTail, pidOf, startDaemon, stopDaemon } from './daemons.js';

/** The agents' identity, as in a cluster: deploy/'s ServiceAccount, bound to deploy/rbac. */
export const AGENT_SA = { namespace: 'multinet-system', name: 'multinet-agent' } as const;
export const KUBELETS_GROUP = 'multinet:lab-kubelets';
export const MULTUS_GROUP = 'multinet:lab-multus';
const SCHEDULER_USER = 'system:kube-scheduler';
export const WHEREABOUTS_USER = 'multinet:lab-whereabouts';

type Obj = Record<string, unknown>;

export function kubeSpec(lab: LabConfig): ControlPlaneSpec {
  const k = lab.kube!;
  return {
    pkiDir: k.dir,
    etcdDataDir: join(k.dir, 'etcd'),
    etcdPort: k.etcdPort,
    etcdPeerPort: k.etcdPeerPort,
    apiPort: k.apiPort,
    serviceRange: lab.serviceRange,
    name: 'mn-lab',
  };
}

const daemonFiles = (k: KubeLabConfig, what: string) => ({
  logFile: join(k.dir, `${what}.log`),
  pidFile: join(k.dir, `${what}.pid`),
});

export const schedulerKubeconfig = (k: KubeLabConfig): string => join(k.dir, 'scheduler.kubeconfig');
export const whereaboutsKubeconfig = (k: KubeLabConfig): string => join(k.dir, 'whereabouts.kubeconfig');
/**
 * The real Whereabouts' flat config file (datastore kubernetes, its kubeconfig), what a NAD's ipam
 * `"configuration_path"` names: v0.9 refuses to run without one ("config file not found"); its
 * installer writes it to /etc/cni/net.d/whereabouts.d/ on a node, which the lab leaves alone.
 */
export const whereaboutsConfig = (k: KubeLabConfig): string => join(k.dir, 'whereabouts.conf');

/** Certificates and kubeconfigs, made once per lab (kept across `lab up` of a running lab). */
export function makeLabPki(lab: LabConfig): void {
  const k = lab.kube!;
  mkdirSync(k.dir, { recursive: true, mode: 0o700 });
  if (existsSync(join(k.dir, 'ca.crt'))) return makeWhereaboutsCert(lab);
  makeControlPlanePki(k.dir);
  makeClientCert(k.dir, 'admin', 'admin', ['system:masters']);
  writeCertKubeconfig(k.dir, 'admin', k.server, adminKubeconfig(k), `multinet-${lab.name}`);
  makeClientCert(k.dir, 'scheduler', SCHEDULER_USER);
  writeCertKubeconfig(k.dir, 'scheduler', k.server, schedulerKubeconfig(k));
  for (const n of lab.nodes) {
    makeClientCert(k.dir, `${n.name}-kubelet`, `multinet:lab-kubelet:${n.name}`, [KUBELETS_GROUP]);
    writeCertKubeconfig(k.dir, `${n.name}-kubelet`, k.server, nodeKubeconfig(k, n.name, 'kubelet'));
    makeClientCert(k.dir, `${n.name}-multus`, `multinet:lab-multus:${n.name}`, [MULTUS_GROUP]);
    writeCertKubeconfig(k.dir, `${n.name}-multus`, k.server, nodeKubeconfig(k, n.name, 'multus'));
  }
  makeWhereaboutsCert(lab);
}

/** Whereabouts' identity (also for a lab made before it existed). */
function makeWhereaboutsCert(lab: LabConfig): void {
  const k = lab.kube!;
  if (existsSync(whereaboutsConfig(k))) return;
  makeClientCert(k.dir, 'whereabouts', WHEREABOUTS_USER);
  writeCertKubeconfig(k.dir, 'whereabouts', k.server, whereaboutsKubeconfig(k));
  const conf = { datastore: 'kubernetes', kubernetes: { kubeconfig: whereaboutsKubeconfig(k) } };
  writeFileSync(whereaboutsConfig(k), JSON.stringify(conf, null, 2) + '\n', { mode: 0o600 });
}

export function adminClient(lab: LabConfig): KubeClient {
  return new KubeClient(credentialsFromKubeconfig(adminKubeconfig(lab.kube!)), 10_000);
}

type Proc = { name: string; pid: number | undefined };

export function controlPlaneAlive(k: KubeLabConfig): { etcd: Proc; apiserver: Proc } {
  return {
    etcd: { name: 'etcd', pid: pidOf(daemonFiles(k, 'etcd').pidFile) },
    apiserver: { name: 'kube-apiserver', pid: pidOf(daemonFiles(k, 'kube-apiserver').pidFile) },
  };
}

/** Starts etcd and kube-apiserver if they are not running; resolves once the API server is ready. */
export async function startControlPlane(lab: LabConfig, progress: (s: string) => void): Promise<void> {
  const why = kubeUnavailableReason();
  if (why) throw new Error(`lab up --kube: ${why}`);
  const k = lab.kube!;
  const bin = kubeBinDir()!;
  const spec = kubeSpec(lab);
  const cp = controlPlaneAlive(k);
  if (!isAlive(cp.etcd.pid)) {
    progress(`etcd: starting on 127.0.0.1:${k.etcdPort}`);
    startDaemon({ what: 'etcd', exe: join(bin, 'etcd'), args: etcdArgs(spec), ...daemonFiles(k, 'etcd') });
  }
  if (!isAlive(cp.apiserver.pid)) await startApiServer(lab, progress);
}

export async function startApiServer(
  lab: LabConfig,
  progress: (s: string) => void = () => {},
): Promise<void> {
  const k = lab.kube!;
  const files = daemonFiles(k, 'kube-apiserver');
  progress(`kube-apiserver: starting on ${k.server}`);
  startDaemon({
    what: 'kube-apiserver',
    exe: join(kubeBinDir()!, 'kube-apiserver'),
    args: apiServerArgs(kubeSpec(lab)),
    ...files,
  });
  const client = adminClient(lab);
  try {
    await waitApiServerReady(client, () =>
      isAlive(pidOf(files.pidFile))
        ? undefined
        : `exited (log ${files.logFile}):\n${logTail(files.logFile, 15)}`,
    );
  } finally {
    client.close();
  }
  progress('kube-apiserver: ready');
}

/** kill -9 of the lab's kube-apiserver (etcd keeps running); for outage tests. */
export async function killApiServer(lab: LabConfig): Promise<void> {
  await stopDaemon(daemonFiles(lab.kube!, 'kube-apiserver').pidFile, 'SIGKILL');
}

export async function stopControlPlane(lab: LabConfig): Promise<void> {
  const k = lab.kube!;
  await stopDaemon(daemonFiles(k, 'kube-apiserver').pidFile);
  await stopDaemon(daemonFiles(k, 'etcd').pidFile);
}

/** The API path of an object of the kinds the lab creates. */
function pathOf(o: Obj): { collection: string; name: string } {
  const kind = o.kind as string;
  const { name, namespace } = o.metadata as { name: string; namespace?: string };
  const paths: Record<string, string> = {
    ClusterRole: '/apis/rbac.authorization.k8s.io/v1/clusterroles',
    ClusterRoleBinding: '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings',
    Node: '/api/v1/nodes',
    Namespace: '/api/v1/namespaces',
    ServiceAccount: `/api/v1/namespaces/${encodeURIComponent(namespace ?? 'default')}/serviceaccounts`,
    Network: '/apis/projectcalico.org/v3/networks',
  };
  const collection = paths[kind];
  if (!collection) throw new Error(`the lab does not create ${kind} objects`);
  return { collection, name };
}

/** Create, or replace what is there (kubectl apply's outcome for objects only the lab writes). */
async function put(client: KubeClient, o: Obj, replace = true): Promise<void> {
  const { collection, name } = pathOf(o);
  try {
    await client.request({ method: 'POST', path: collection, body: o });
  } catch (err) {
    if (!(err instanceof KubeApiError) || err.status !== 409 || !replace) {
      if (err instanceof KubeApiError && err.status === 409) return;
      throw err;
    }
    const cur = await client.request<{ metadata: Obj }>({ method: 'GET', path: `${collection}/${name}` });
    const metadata = { ...(o.metadata as Obj), resourceVersion: cur.metadata.resourceVersion };
    await client.request({ method: 'PUT', path: `${collection}/${name}`, body: { ...o, metadata } });
  }
}

const clusterRole = (name: string, rules: Obj[]): Obj => ({
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'ClusterRole',
  metadata: { name, labels: { 'app.kubernetes.io/name': 'multinet' } },
  rules,
});

const bind = (name: string, role: string, subjects: Obj[]): Obj => ({
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'ClusterRoleBinding',
  metadata: { name, labels: { 'app.kubernetes.io/name': 'multinet' } },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
  subjects,
});

const group = (name: string): Obj => ({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name });
const user = (name: string): Obj => ({ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name });

/** The lab's own roles: what its kubelet + Multus role writes, and the watch probe of every lab client. */
export function labRbac(): Obj[] {
  const r = (apiGroups: string[], resources: string[], verbs: string[]): Obj => ({
    apiGroups,
    resources,
    verbs,
  });
  return [
    clusterRole('multinet-lab-kubelet', [
      r([''], ['pods'], ['get', 'list', 'watch', 'patch', 'delete']),
      r([''], ['pods/status'], ['get', 'patch', 'update']),
      r([''], ['nodes'], ['get', 'list', 'watch']),
      r(['k8s.cni.cncf.io'], ['network-attachment-definitions'], ['get', 'list', 'watch']),
      // The emulation records Multus' AddedInterface events.
      r([''], ['events'], ['create']),
    ]),
    // What the Multus thin plugin does (v4.2, pkg/multus and pkg/k8sclient): get the pod (and
    // re-read it before writing), get each NAD it names, write network-status with an update of
    // pods/status, and record an event when a NAD is missing.
    clusterRole('multinet-lab-multus', [
      r([''], ['pods'], ['get']),
      r([''], ['pods/status'], ['update']),
      r(['k8s.cni.cncf.io'], ['network-attachment-definitions'], ['get']),
      r([''], ['events'], ['create', 'patch']),
    ]),
    bind('multinet-lab-multus', 'multinet-lab-multus', [group(MULTUS_GROUP)]),
    // The list-watch layer probes a quiet watch with a list of an empty kind of ours.
    clusterRole('multinet-lab-watch-probe', [
      r(['multinet.projectcalico.org'], ['storeobjects'], ['get', 'list']),
    ]),
    // What Whereabouts' IPAM plugin (cmd/whereabouts v0.9) calls: its IPPools and overlapping-range
    // reservations (get, create, JSON-patch, delete), NodeSlicePools (read, with node_slice_size)
    // and the "whereabouts" Lease its leader election takes around every allocation. Less than
    // its daemonset-install.yaml grants (pods, nodes, NADs, events are for its reconciler and
    // node-slice controller, which the lab does not run).
    clusterRole('multinet-lab-whereabouts', [
      r(
        ['whereabouts.cni.cncf.io'],
        ['ippools', 'overlappingrangeipreservations'],
        ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
      ),
      r(['whereabouts.cni.cncf.io'], ['nodeslicepools'], ['get', 'list', 'watch']),
      r(['coordination.k8s.io'], ['leases'], ['get', 'create', 'update']),
    ]),
    bind('multinet-lab-kubelet', 'multinet-lab-kubelet', [group(KUBELETS_GROUP)]),
    bind('multinet-lab-whereabouts', 'multinet-lab-whereabouts', [user(WHEREABOUTS_USER)]),
    bind('multinet-lab-watch-probe', 'multinet-lab-watch-probe', [
      group(KUBELETS_GROUP),
      user(SCHEDULER_USER),
    ]),
  ];
}

/**
 * A kubeconfig per node agent with a token of the agents' ServiceAccount from the TokenRequest
 * API (bound to the ServiceAccount, valid 30 days, audience the API server's), as a kubelet
 * projects one into the agent's pod.
 */
async function agentTokens(client: KubeClient, lab: LabConfig): Promise<void> {
  const k = lab.kube!;
  const ca = readFileSync(join(k.dir, 'ca.crt'));
  for (const n of lab.nodes) {
    const path = nodeKubeconfig(k, n.name, 'agent');
    const tr = await client.request<{ status?: { token?: string } }>({
      method: 'POST',
      path: `/api/v1/namespaces/${AGENT_SA.namespace}/serviceaccounts/${AGENT_SA.name}/token`,
      body: {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { expirationSeconds: 30 * 24 * 3600 },
      },
    });
    const token = tr.status?.token;
    if (!token)
      throw new Error(`TokenRequest for ${AGENT_SA.namespace}/${AGENT_SA.name}: no token in the answer`);
    writeFileSync(
      path,
      kubeconfigYaml({
        server: k.server,
        ca,
        user: `${AGENT_SA.name}-${n.name}`,
        token,
        context: `multinet-${lab.name}`,
      }),
      { mode: 0o600 },
    );
  }
}

/** CRDs, RBAC, Nodes and the default Network; what exists is replaced (CRDs, RBAC) or kept. */
export async function bootstrapKube(lab: LabConfig, progress: (s: string) => void): Promise<void> {
  const client = adminClient(lab);
  try {
    const crds = [
      ...storeCrds(),
      ...repoObjects('deploy/crds', (f) => !f.startsWith('multinet.projectcalico.org_')),
      ...repoObjects('third_party/crds'),
    ];
    await installCrds(client, crds);
    progress(`CRDs: ${crds.length} established`);
    // deploy/'s namespace, ServiceAccount and RBAC, exactly as a cluster operator applies them.
    const rbac = [
      ...repoObjects('deploy', (f) => f === '00-namespace.yaml'),
      ...repoObjects('deploy/rbac'),
      ...labRbac(),
    ];
    for (const o of rbac) await put(client, o);
    progress(`namespace ${AGENT_SA.namespace}, ServiceAccount, RBAC: ${rbac.length} objects`);
    await agentTokens(client, lab);
    progress(`agents: tokens of system:serviceaccount:${AGENT_SA.namespace}:${AGENT_SA.name}`);
    for (const n of lab.nodes) {
      const now = new Date().toISOString();
      const node: Obj = {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name: n.name,
          labels: {
            'kubernetes.io/hostname': n.name,
            'kubernetes.io/os': 'linux',
            'multinet.io/lab': lab.name,
          },
        },
        spec: {},
      };
      await put(client, node, false);
      // Status is a subresource: a Ready node with its underlay address, as kubelet reports it.
      await client.request({
        method: 'PATCH',
        path: `/api/v1/nodes/${n.name}/status`,
        contentType: 'application/merge-patch+json',
        body: {
          status: {
            addresses: [
              { type: 'InternalIP', address: n.underlay },
              { type: 'Hostname', address: n.name },
            ],
            conditions: [
              {
                type: 'Ready',
                status: 'True',
                reason: 'KubeletReady',
                message: 'multinet lab node',
                lastHeartbeatTime: now,
                lastTransitionTime: now,
              },
            ],
            nodeInfo: {
              operatingSystem: 'linux',
              architecture: process.arch === 'x64' ? 'amd64' : process.arch,
            },
          },
        },
      });
    }
    progress(`nodes: ${lab.nodes.map((n) => n.name).join(', ')} registered`);
    const d = lab.defaultNetwork;
    await put(
      client,
      {
        apiVersion: 'projectcalico.org/v3',
        kind: 'Network',
        metadata: { name: d.name, labels: { 'multinet.io/default-network': 'true' } },
        spec: { vni: d.vni, range: d.range },
      },
      false,
    );
  } finally {
    client.close();
  }
}
