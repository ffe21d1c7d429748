// Calico and Kubernetes policies brought to one normalised form that the nft rendering consumes:
// each policy knows which pods it selects, and each rule names its network and the pod sets
// (predicates + a stable key) its selectors stand for. Pure.
import { matchesCalico, type CalicoSelector } from '../api/calico-selector.js';
import { matchesLabels, type LabelSelector } from '../api/label-selector.js';
import type { Cidr } from '../api/cidr.js';
import type {
  CalicoPolicy,
  EntityRule,
  KubernetesNetworkPolicy,
  PortMatch,
  Rule,
  RuleAction,
} from '../api/types.js';
import type { PolicyResource } from './node-state.js';

/** The default network of the lab and of unannotated rules: every pod's eth0. */
export const DEFAULT_NETWORK = 'default';

/** Order Calico gives to policies converted from Kubernetes NetworkPolicy. */
export const K8S_POLICY_ORDER = 1000;

/** What a selector sees of a pod. */
export interface PodFacts {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** The labels of the pod's Namespace object, when one is known (kubernetes://). */
  readonly namespaceLabels?: Readonly<Record<string, string>>;
  /** Named container ports: name -> protocol number + port. */
  readonly namedPorts: ReadonlyMap<string, readonly { readonly proto: number; readonly port: number }[]>;
}

/** A set of pods described by a selector; `key` is stable and identifies the set for dedupe. */
export interface PodSet {
  readonly key: string;
  readonly matches: (p: PodFacts) => boolean;
}

export interface NEntity {
  readonly pods?: PodSet;
  readonly notPods?: PodSet;
  readonly nets: readonly Cidr[];
  readonly notNets: readonly Cidr[];
  readonly ports: readonly PortMatch[];
  readonly notPorts: readonly PortMatch[];
}

export interface NRule {
  readonly action: RuleAction;
  /** Network whose interfaces the rule is enforced on. */
  readonly network: string;
  readonly ipVersion?: 4 | 6;
  readonly protocol?: number;
  readonly notProtocol?: number;
  readonly icmp?: { readonly type?: number; readonly code?: number };
  readonly src: NEntity;
  readonly dst: NEntity;
}

export interface NPolicy {
  /** `Kind/namespace/name`, unique. */
  readonly id: string;
  readonly kind: PolicyResource['type'];
  readonly name: string;
  readonly namespace?: string;
  readonly order?: number;
  readonly selects: (p: PodFacts) => boolean;
  readonly ingress?: readonly NRule[];
  readonly egress?: readonly NRule[];
}

/**
 * The labels Calico's namespaceSelector sees: the Namespace object's labels (when known) and
 * `projectcalico.org/name`; without a Namespace object (memory/etcd stores, the lab), the name only.
 */
export function calicoNamespaceLabels(
  ns: string,
  labels: Readonly<Record<string, string>> = {},
): Record<string, string> {
  return { ...labels, 'projectcalico.org/name': ns };
}

/** A Kubernetes namespaceSelector's labels: the Namespace's, and the automatic name label. */
export function k8sNamespaceLabels(
  ns: string,
  labels: Readonly<Record<string, string>> = {},
): Record<string, string> {
  return { ...labels, 'kubernetes.io/metadata.name': ns };
}

const PROTO: Record<string, number> = { TCP: 6, UDP: 17, SCTP: 132 };

/** `Kind/namespace/name` ('' namespace for a GlobalNetworkPolicy): how bindings name a policy. */
export function policyId(p: PolicyResource): string {
  const ns = p.type === 'CalicoGlobalNetworkPolicy' ? '' : (p.metadata.namespace ?? 'default');
  return `${p.type}/${ns}/${p.metadata.name}`;
}

export function normalise(p: PolicyResource): NPolicy {
  return p.type === 'KubernetesNetworkPolicy' ? fromK8s(p) : fromCalico(p);
}

function fromCalico(p: CalicoPolicy): NPolicy {
  const ns = p.type === 'CalicoNetworkPolicy' ? (p.metadata.namespace ?? 'default') : undefined;
  const sel = p.spec.selector;
  const nsSel = p.spec.namespaceSelector;
  const selects = (pod: PodFacts): boolean =>
    (ns === undefined || pod.namespace === ns) &&
    (nsSel === undefined ||
      matchesCalico(nsSel, calicoNamespaceLabels(pod.namespace, pod.namespaceLabels))) &&
    matchesCalico(sel, pod.labels);
  // Calico's default: Ingress always, Egress when egress rules exist.
  const types =
    p.spec.types.length > 0 ? p.spec.types : p.spec.egress.length > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
  const rule = (r: Rule): NRule => ({
    action: r.action,
    network: r.network ?? DEFAULT_NETWORK,
    ...(r.ipVersion ? { ipVersion: r.ipVersion } : {}),
    ...(r.protocol ? { protocol: r.protocol.number } : {}),
    ...(r.notProtocol ? { notProtocol: r.notProtocol.number } : {}),
    ...(r.icmp ? { icmp: r.icmp } : {}),
    src: calicoEntity(r.source, ns),
    dst: calicoEntity(r.destination, ns),
  });
  return {
    id: policyId(p),
    kind: p.type,
    name: p.metadata.name,
    ...(ns !== undefined ? { namespace: ns } : {}),
    ...(p.spec.order !== undefined ? { order: p.spec.order } : {}),
    selects,
    ...(types.includes('Ingress') ? { ingress: p.spec.ingress.map(rule) } : {}),
    ...(types.includes('Egress') ? { egress: p.spec.egress.map(rule) } : {}),
  };
}

/**
 * A rule's pod set: `selector` within the namespaces that `namespaceSelector` picks, or the policy's
 * own namespace (NetworkPolicy) / every namespace (GlobalNetworkPolicy) without one.
 */
function calicoPodSet(
  sel: CalicoSelector | undefined,
  selText: string,
  e: EntityRule,
  ns: string | undefined,
): PodSet {
  const nsSel = e.namespaceSelector;
  const scope = nsSel ? `nssel:${e.namespaceSelectorText ?? ''}` : ns !== undefined ? `ns:${ns}` : 'all';
  return {
    key: `calico|${scope}|${selText}`,
    matches: (pod) =>
      (nsSel
        ? matchesCalico(nsSel, calicoNamespaceLabels(pod.namespace, pod.namespaceLabels), { global: false })
        : ns === undefined || pod.namespace === ns) &&
      (sel === undefined || matchesCalico(sel, pod.labels)),
  };
}

function calicoEntity(e: EntityRule, ns: string | undefined): NEntity {
  // As Calico's rule conversion: in a NetworkPolicy, using any selector field (notSelector too)
  // limits the rule to endpoints of the policy's namespace (or of the namespaceSelector's).
  const scoped = e.selector || e.namespaceSelector || (e.notSelector && ns !== undefined);
  const pods = scoped ? calicoPodSet(e.selector, e.selectorText ?? 'all()', e, ns) : undefined;
  const notPods = e.notSelector ? calicoPodSet(e.notSelector, e.notSelectorText ?? '', e, ns) : undefined;
  return {
    ...(pods ? { pods } : {}),
    ...(notPods ? { notPods } : {}),
    nets: e.nets,
    notNets: e.notNets,
    ports: e.ports,
    notPorts: e.notPorts,
  };
}

const EMPTY: NEntity = { nets: [], notNets: [], ports: [], notPorts: [] };

function fromK8s(p: KubernetesNetworkPolicy): NPolicy {
  const ns = p.metadata.namespace ?? 'default';
  const selects = (pod: PodFacts): boolean =>
    pod.namespace === ns && matchesLabels(p.spec.podSelector, pod.labels);
  const labelKey = (s: LabelSelector): string => JSON.stringify(s);
  // One Calico-like Allow rule per (peer, port) pair; no peers = any peer, no ports = any port.
  const rules = (list: KubernetesNetworkPolicy['spec']['ingress'], peerSide: 'src' | 'dst'): NRule[] => {
    const out: NRule[] = [];
    for (const r of list) {
      const peers: (NEntity | undefined)[] = r.peers.length
        ? r.peers.map((peer) => {
            if (peer.ipBlock) return { ...EMPTY, nets: [peer.ipBlock.cidr], notNets: peer.ipBlock.except };
            const podSel = peer.podSelector;
            const nsSel = peer.namespaceSelector;
            const pods: PodSet = {
              key: `k8s|${nsSel ? `nssel:${labelKey(nsSel)}` : `ns:${ns}`}|${podSel ? labelKey(podSel) : 'all'}`,
              matches: (pod) =>
                (nsSel
                  ? matchesLabels(nsSel, k8sNamespaceLabels(pod.namespace, pod.namespaceLabels))
                  : pod.namespace === ns) &&
                (podSel === undefined || matchesLabels(podSel, pod.labels)),
            };
            return { ...EMPTY, pods };
          })
        : [undefined];
      const ports: ({ proto: number; port?: PortMatch } | undefined)[] = r.ports.length
        ? r.ports.map((x) => ({
            proto: PROTO[x.protocol] ?? 6,
            ...(x.port === undefined
              ? {}
              : {
                  port:
                    typeof x.port === 'string'
                      ? ({ kind: 'named', name: x.port } as const)
                      : ({ kind: 'range', min: x.port, max: x.endPort ?? x.port } as const),
                }),
          }))
        : [undefined];
      for (const peer of peers)
        for (const port of ports) {
          const dst: NEntity = {
            ...(peerSide === 'dst' && peer ? peer : EMPTY),
            ports: port?.port ? [port.port] : [],
          };
          const src: NEntity = peerSide === 'src' && peer ? peer : EMPTY;
          out.push({
            action: 'Allow',
            network: DEFAULT_NETWORK,
            ...(port ? { protocol: port.proto } : {}),
            src,
            dst,
          });
        }
    }
    return out;
  };
  return {
    id: policyId(p),
    kind: p.type,
    name: p.metadata.name,
    namespace: ns,
    order: K8S_POLICY_ORDER,
    selects,
    ...(p.spec.policyTypes.includes('Ingress') ? { ingress: rules(p.spec.ingress, 'src') } : {}),
    ...(p.spec.policyTypes.includes('Egress') ? { egress: rules(p.spec.egress, 'dst') } : {}),
  };
}

/** Calico's evaluation order: by order (unset last), then by name. */
export function policyOrder(a: NPolicy, b: NPolicy): number {
  const oa = a.order ?? Number.POSITIVE_INFINITY;
  const ob = b.order ?? Number.POSITIVE_INFINITY;
  if (oa !== ob) return oa < ob ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
