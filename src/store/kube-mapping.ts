// Where each store kind lives on a Kubernetes API server (see DESIGN.md, "store"). Users' objects
// are read in their real API types and never written; multinet's own records live in cluster-scoped
// CRDs of the group multinet.projectcalico.org (deploy/crds/), one object per store key, with the
// store key in spec (namespace, name; kind too for StoreObject) and the value in spec.value.
import { createHash } from 'node:crypto';

export const OWN_GROUP = 'multinet.projectcalico.org';
export const OWN_VERSION = 'v1alpha1';
export const LABEL_SCOPE = `${OWN_GROUP}/scope`;
export const LABEL_NAMESPACE = `${OWN_GROUP}/namespace`;
export const LABEL_KIND = `${OWN_GROUP}/kind`;

export interface KubeResource {
  /** '' = the core group. */
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  /** The API's kind (what `kind:` says in the object). */
  readonly apiKind: string;
  readonly namespaced: boolean;
  /** Ours (a CRD of OWN_GROUP, written by multinet) or the users' (read only). */
  readonly own: boolean;
  /** For StoreObject: kinds without a CRD of their own share it, told apart by spec.kind. */
  readonly generic?: boolean;
}

const user = (
  group: string,
  version: string,
  plural: string,
  apiKind: string,
  namespaced: boolean,
): KubeResource => ({ group, version, plural, apiKind, namespaced, own: false });
const own = (plural: string, apiKind: string): KubeResource => ({
  group: OWN_GROUP,
  version: OWN_VERSION,
  plural,
  apiKind,
  namespaced: false,
  own: true,
});

/** Store kind -> API resource. Kinds not listed are StoreObjects. */
export const KIND_RESOURCES: Readonly<Record<string, KubeResource>> = {
  // Users' objects (read only).
  Network: user('projectcalico.org', 'v3', 'networks', 'Network', false),
  NetworkAttachmentDefinition: user(
    'k8s.cni.cncf.io',
    'v1',
    'network-attachment-definitions',
    'NetworkAttachmentDefinition',
    true,
  ),
  Pod: user('', 'v1', 'pods', 'Pod', true),
  Service: user('', 'v1', 'services', 'Service', true),
  Namespace: user('', 'v1', 'namespaces', 'Namespace', false),
  KubernetesNode: user('', 'v1', 'nodes', 'Node', false),
  CalicoNetworkPolicy: user('crd.projectcalico.org', 'v1', 'networkpolicies', 'NetworkPolicy', true),
  CalicoGlobalNetworkPolicy: user(
    'crd.projectcalico.org',
    'v1',
    'globalnetworkpolicies',
    'GlobalNetworkPolicy',
    false,
  ),
  KubernetesNetworkPolicy: user('networking.k8s.io', 'v1', 'networkpolicies', 'NetworkPolicy', true),
  // multinet's own records.
  IPReservation: own('ipreservations', 'IPReservation'),
  IPAllocation: own('ipallocations', 'IPAllocation'),
  IPPool: own('ipampools', 'IPAMPool'),
  Attachment: own('attachments', 'Attachment'),
  Node: own('agentnodes', 'AgentNode'),
  AgentStatus: own('agentstatuses', 'AgentStatus'),
};

/**
 * Used instead of the KIND_RESOURCES entry where the server serves it: Calico's aggregated API
 * (projectcalico.org/v3, the shape users write) over its CRD storage (crd.projectcalico.org/v1).
 */
export const PREFERRED_RESOURCES: Readonly<Record<string, KubeResource>> = {
  CalicoNetworkPolicy: user('projectcalico.org', 'v3', 'networkpolicies', 'NetworkPolicy', true),
  CalicoGlobalNetworkPolicy: user(
    'projectcalico.org',
    'v3',
    'globalnetworkpolicies',
    'GlobalNetworkPolicy',
    false,
  ),
};

export const STORE_OBJECT: KubeResource = { ...own('storeobjects', 'StoreObject'), generic: true };

export function resourceOf(kind: string): KubeResource {
  return KIND_RESOURCES[kind] ?? STORE_OBJECT;
}

/** Every distinct resource, users' first (what a watch of all kinds watches). */
export function allResources(): KubeResource[] {
  const seen = new Map<string, KubeResource>();
  for (const r of [...Object.values(KIND_RESOURCES), STORE_OBJECT]) seen.set(resourceId(r), r);
  return [...seen.values()];
}

export function resourceId(r: KubeResource): string {
  return `${r.plural}.${r.group || 'core'}/${r.version}`;
}

export function apiVersionOf(r: KubeResource): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

/** Collection path (namespace undefined: across namespaces). */
export function collectionPath(r: KubeResource, namespace?: string): string {
  const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  return r.namespaced && namespace
    ? `${base}/namespaces/${encodeURIComponent(namespace)}/${r.plural}`
    : `${base}/${r.plural}`;
}

export function objectPath(r: KubeResource, namespace: string, name: string): string {
  return `${collectionPath(r, namespace)}/${encodeURIComponent(name)}`;
}

const hash = (s: string, n = 16): string => createHash('sha256').update(s).digest('hex').slice(0, n);

const LABEL_VALUE = /^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$/;

/** A label value for any string: itself when valid, else `h` + a hash (lists re-check spec). */
export function labelValue(s: string): string {
  return LABEL_VALUE.test(s) ? s : `h${hash(s)}`;
}

function readable(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60)
    .replace(/-+$/, '');
}

/**
 * The object name of a store key in our CRDs: a valid DNS subdomain, unique per (scope, kind,
 * namespace, name) and the same in every process, so a plain create answers "taken" (409).
 * Readable parts, then a hash of the whole key: `conc.10-9-0-1.1f3a...`. The key itself is kept in
 * spec, so the mapping is reversible and a (2^-64) hash collision is detected, never merged.
 */
export function objectName(
  scope: string,
  kind: string,
  namespace: string,
  name: string,
  generic: boolean,
): string {
  const parts = [generic ? readable(kind) : '', readable(namespace), readable(name)].filter((p) => p !== '');
  return [...parts, hash(JSON.stringify([scope, kind, namespace, name]))].join('.');
}
