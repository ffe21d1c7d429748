// Typed resources produced by validation. Other modules (IPAM, calc, agent, lab) consume these;
// they are plain readonly data with defaults applied and names/addresses normalised.
import type { Cidr } from './cidr.js';
import type { CalicoSelector } from './calico-selector.js';
import type { LabelSelector } from './label-selector.js';
import type { Attachment } from './networks-annotation.js';

export interface ObjectMeta {
  readonly name: string;
  /** Set for namespaced kinds ('default' when the manifest has none); undefined for cluster-scoped. */
  readonly namespace?: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

/** Where the object was read from. */
export interface SourceRef {
  readonly file: string;
  readonly line: number;
  /** Line of each field (keyed by formatPath), for pointing cross-object errors at the field. */
  readonly fieldLines?: ReadonlyMap<string, number>;
}

interface Base {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: ObjectMeta;
  readonly source: SourceRef;
}

// ---- Network (projectcalico.org/v3, cluster-scoped)

export interface Network extends Base {
  readonly type: 'Network';
  readonly spec: {
    readonly vni: number;
    readonly range: Cidr;
    /** '' = the default uplink. */
    readonly physicalNetworkName: string;
    /** VXLAN UDP port; absent = the dataplane's default (4789). */
    readonly vxlanPort?: number;
  };
}

// ---- NetworkAttachmentDefinition (k8s.cni.cncf.io/v1)

export interface IpamRange {
  readonly range: Cidr;
  readonly rangeStart?: string;
  readonly rangeEnd?: string;
  readonly exclude: readonly Cidr[];
}

/**
 * IPAM section of our plugin: Whereabouts-style when `type` is in AGENT_IPAM_TYPES (the agent
 * allocates); otherwise a delegated IPAM plugin whose keys are kept in `raw` only.
 */
export interface IpamConfig {
  readonly type: string;
  /** Explicit ranges (`range`/`range_start`/`range_end` and every `ipRanges` entry); may be empty. */
  readonly ranges: readonly IpamRange[];
  /** True when no explicit range is given: addresses come from the Network's `range`. */
  readonly rangeFromNetwork: boolean;
  /** The seed's `"network": "blue"`. */
  readonly network?: string;
  /** Whereabouts `network_name` (names an independent pool namespace). */
  readonly networkName?: string;
  readonly enableOverlappingRanges: boolean;
  readonly raw: Readonly<Record<string, unknown>>;
}

export interface MultinetPlugin {
  /** `calico` (the reference's form, network in `dataplane_options.network_name`) or `multinet`. */
  readonly type: 'calico' | 'multinet';
  /** Name of the Network this NAD attaches to. */
  readonly network: string;
  readonly ipam: IpamConfig;
  readonly raw: Readonly<Record<string, unknown>>;
}

export interface NetAttachDef extends Base {
  readonly type: 'NetworkAttachmentDefinition';
  readonly spec: {
    /** The config text as written. */
    readonly config: string;
    readonly cniVersion?: string;
    /** `name` of the CNI config/conflist. */
    readonly configName?: string;
    /** Every plugin of the conflist (one for a single-plugin config). */
    readonly plugins: readonly Readonly<Record<string, unknown>>[];
    /** Index of our plugin in `plugins`. */
    readonly pluginIndex: number;
    readonly plugin: MultinetPlugin;
  };
}

// ---- Pod

export type L4Protocol = 'TCP' | 'UDP' | 'SCTP';

export interface ContainerPort {
  readonly name?: string;
  readonly containerPort: number;
  readonly protocol: L4Protocol;
}

export interface Container {
  readonly name: string;
  readonly image?: string;
  readonly ports: readonly ContainerPort[];
}

export interface Pod extends Base {
  readonly type: 'Pod';
  readonly spec: {
    readonly nodeName?: string;
    readonly containers: readonly Container[];
  };
  /** Secondary attachments from `k8s.v1.cni.cncf.io/networks`, in annotation order. */
  readonly attachments: readonly Attachment[];
}

// ---- Service

export interface ServicePort {
  readonly name?: string;
  readonly protocol: L4Protocol;
  readonly port: number;
  /** Number, or a container port name; defaults to `port`. */
  readonly targetPort: number | string;
}

export interface Service extends Base {
  readonly type: 'Service';
  readonly spec: {
    readonly type: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
    readonly ports: readonly ServicePort[];
    /** Plain Kubernetes selector (default network). */
    readonly selector?: Readonly<Record<string, string>>;
    /** '' = to be allocated, 'None' = headless, or an IP. */
    readonly clusterIP: string;
    readonly sessionAffinity: 'None' | 'ClientIP';
  };
  /** Present when the service is a multinet service (both extensions.projectcalico.org annotations). */
  readonly multinet?: {
    readonly network: string;
    readonly selector: LabelSelector;
    readonly selectorText: string;
  };
}

// ---- Calico policies

export interface Protocol {
  /** Canonical name when known (TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite). */
  readonly name?: string;
  readonly number: number;
}

export type PortMatch =
  | { readonly kind: 'range'; readonly min: number; readonly max: number }
  | { readonly kind: 'named'; readonly name: string };

export interface EntityRule {
  readonly selector?: CalicoSelector;
  readonly selectorText?: string;
  readonly notSelector?: CalicoSelector;
  readonly notSelectorText?: string;
  readonly namespaceSelector?: CalicoSelector;
  readonly namespaceSelectorText?: string;
  readonly nets: readonly Cidr[];
  readonly notNets: readonly Cidr[];
  readonly ports: readonly PortMatch[];
  readonly notPorts: readonly PortMatch[];
}

export type RuleAction = 'Allow' | 'Deny' | 'Log' | 'Pass';

export interface Rule {
  readonly action: RuleAction;
  readonly protocol?: Protocol;
  readonly notProtocol?: Protocol;
  readonly ipVersion?: 4 | 6;
  readonly source: EntityRule;
  readonly destination: EntityRule;
  /** `metadata.annotations["extensions.projectcalico.org/network"]`; undefined = the default network only. */
  readonly network?: string;
  /** `icmp` / `notICMP` as written (type/code), kept for the dataplane. */
  readonly icmp?: { readonly type?: number; readonly code?: number };
  readonly notICMP?: { readonly type?: number; readonly code?: number };
}

export type PolicyType = 'Ingress' | 'Egress';

export interface CalicoPolicy extends Base {
  readonly type: 'CalicoNetworkPolicy' | 'CalicoGlobalNetworkPolicy';
  readonly spec: {
    readonly order?: number;
    readonly selector: CalicoSelector;
    readonly selectorText: string;
    /** GlobalNetworkPolicy only. */
    readonly namespaceSelector?: CalicoSelector;
    readonly types: readonly PolicyType[];
    readonly ingress: readonly Rule[];
    readonly egress: readonly Rule[];
  };
}

// ---- Kubernetes NetworkPolicy (networking.k8s.io/v1): parsed and validated only

export interface K8sPolicyPeer {
  readonly podSelector?: LabelSelector;
  readonly namespaceSelector?: LabelSelector;
  readonly ipBlock?: { readonly cidr: Cidr; readonly except: readonly Cidr[] };
}

export interface K8sPolicyPort {
  readonly protocol: L4Protocol;
  readonly port?: number | string;
  readonly endPort?: number;
}

export interface K8sPolicyRule {
  readonly ports: readonly K8sPolicyPort[];
  /** Empty = every peer. */
  readonly peers: readonly K8sPolicyPeer[];
}

export interface KubernetesNetworkPolicy extends Base {
  readonly type: 'KubernetesNetworkPolicy';
  readonly spec: {
    readonly podSelector: LabelSelector;
    readonly policyTypes: readonly PolicyType[];
    readonly ingress: readonly K8sPolicyRule[];
    readonly egress: readonly K8sPolicyRule[];
  };
}

export type Resource = Network | NetAttachDef | Pod | Service | CalicoPolicy | KubernetesNetworkPolicy;

/** `Kind/name` or `Kind/namespace/name`. */
export function objectRef(r: { kind: string; metadata: { name: string; namespace?: string } }): string {
  return r.metadata.namespace !== undefined
    ? `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`
    : `${r.kind}/${r.metadata.name}`;
}

/** A Kubernetes Namespace as multinet reads it (kubernetes:// only): its name and labels. */
export interface KubeNamespace {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}
