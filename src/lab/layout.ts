// Where a lab keeps things: names of its namespaces, its state folder, addresses. Pure.
import { join } from 'node:path';
import { shortHash } from '../util/names.js';

/** Which Multus a kube lab runs: the real thin plugin, or the kubelet role's emulation. */
export type MultusChoice =
  | { readonly kind: 'thin'; readonly binary: string; readonly version: string }
  | { readonly kind: 'emulated'; readonly why: string };

export const LAB_ROOT = process.env.MULTINET_LAB_ROOT ?? '/run/multinet';
export const UNDERLAY_PREFIX = '10.99.0.';
export const UNDERLAY_MTU = 1500;

export interface LabNode {
  readonly name: string;
  /** The node's network namespace (its "host"). */
  readonly netns: string;
  readonly underlay: string;
  /** The agent's CNI socket. */
  readonly socket: string;
  readonly logFile: string;
  readonly pidFile: string;
  /** The agent's health endpoints (/readyz, /livez, /metrics) on 127.0.0.1; absent in older labs. */
  readonly healthPort?: number;
}

export interface LabConfig {
  readonly name: string;
  readonly dir: string;
  readonly storeUrl: string;
  readonly underlayNs: string;
  readonly nodes: readonly LabNode[];
  /** The default (cluster) network every pod's eth0 attaches to. */
  readonly defaultNetwork: { readonly name: string; readonly vni: number; readonly range: string };
  readonly serviceRange: string;
  readonly createdAt: string;
  /** A kube lab: its own etcd and kube-apiserver on loopback (`lab up --kube`). */
  readonly kube?: KubeLabConfig;
}

export interface KubeLabConfig {
  /** Certificates, kubeconfigs, etcd data, logs and pid files of the control plane. */
  readonly dir: string;
  readonly server: string;
  readonly apiPort: number;
  readonly etcdPort: number;
  readonly etcdPeerPort: number;
  /** Which Multus the kubelet roles run, chosen at `lab up` (absent in older labs: the emulation). */
  readonly multus?: MultusChoice;
}

/** Kubeconfig of the lab's administrator (what `kubectl` and the lab commands use). */
export function adminKubeconfig(k: KubeLabConfig): string {
  return join(k.dir, 'admin.kubeconfig');
}

/** Kubeconfig of a node's agent, of its kubelet role, or of the Multus its kubelet role calls. */
export function nodeKubeconfig(k: KubeLabConfig, node: string, role: 'agent' | 'kubelet' | 'multus'): string {
  return join(k.dir, `${node}-${role}.kubeconfig`);
}

/** The store a node's agent uses: the lab's, or in a kube lab the API server with the node's credentials. */
export function agentStoreUrl(lab: LabConfig, node: LabNode): string {
  return lab.kube ? `kubernetes://?kubeconfig=${nodeKubeconfig(lab.kube, node.name, 'agent')}` : lab.storeUrl;
}

/** Lab names become namespace names: short and plain. */
export function checkLabName(name: string): string | undefined {
  return /^[a-z][a-z0-9]{0,7}$/.test(name)
    ? undefined
    : `lab name ${JSON.stringify(name)}: 1-8 lowercase letters or digits, starting with a letter`;
}

export function labDir(name: string): string {
  return join(LAB_ROOT, `lab-${name}`);
}

/**
 * Node names are cluster-wide identities (routing-domain namespaces are derived from them), so a
 * second lab on the same machine gets its own: `node1` in the default lab, `<lab>-node1` elsewhere.
 */
export function nodeName(lab: string, i: number): string {
  return lab === DEFAULT_LAB ? `node${i + 1}` : `${lab}-node${i + 1}`;
}

export const DEFAULT_LAB = 'lab';

export function makeLabConfig(
  name: string,
  nodes: number,
  storeUrl: string | undefined,
  kubePorts?: { apiPort: number; etcdPort: number; etcdPeerPort: number },
  healthPorts: readonly number[] = [],
): LabConfig {
  const dir = labDir(name);
  const kube: KubeLabConfig | undefined = kubePorts && {
    dir: join(dir, 'kube'),
    server: `https://127.0.0.1:${kubePorts.apiPort}`,
    ...kubePorts,
  };
  return {
    name,
    dir,
    storeUrl: kube
      ? `kubernetes://?kubeconfig=${adminKubeconfig(kube)}`
      : (storeUrl ?? `embedded://${join(dir, 'store.db')}`),
    ...(kube ? { kube } : {}),
    underlayNs: `mn-${name}-underlay`,
    nodes: Array.from({ length: nodes }, (_, i) => {
      const n = nodeName(name, i);
      return {
        name: n,
        netns: `mn-${name}-n${i + 1}`,
        underlay: `${UNDERLAY_PREFIX}${i + 1}`,
        socket: join(dir, `${n}.sock`),
        logFile: join(dir, `${n}.log`),
        pidFile: join(dir, `${n}.pid`),
        ...(healthPorts[i] ? { healthPort: healthPorts[i] } : {}),
      };
    }),
    defaultNetwork: { name: 'default', vni: 4096, range: '10.244.0.0/16' },
    serviceRange: '10.96.0.0/16',
    createdAt: new Date().toISOString(),
  };
}

/** The control socket of a node's memif forwarder (its pid in `<socket>.pid`). */
export function memifControl(lab: Pick<LabConfig, 'dir'>, node: Pick<LabNode, 'name'>): string {
  return join(lab.dir, `${node.name}-memifd.sock`);
}

/**
 * A pod's network namespace: hashed, since pod names may be long. In a kube lab the pod's UID is
 * part of it: a pod recreated under the same name may start before the old one is torn down.
 */
export function podNetns(lab: string, namespace: string, name: string, uid?: string): string {
  return `mn-${lab}-pod-${shortHash(uid === undefined ? [namespace, name] : [namespace, name, uid], 12)}`;
}

export function containerIdFor(namespace: string, name: string, uid: string): string {
  return shortHash([namespace, name, uid], 32);
}
