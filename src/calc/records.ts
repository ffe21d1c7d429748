// Records the agent and the lab keep in the store next to the user's manifests. Plain data.

/** Store kinds written by multinet itself (user manifests use their own Kind names). */
export const KIND_NODE = 'Node';
export const KIND_ATTACHMENT = 'Attachment';

/** A node as its agent registered it. Cluster-scoped, named after the node. */
export interface NodeRecord {
  readonly name: string;
  /** Underlay address: the VXLAN destination other nodes use. */
  readonly underlay: string;
  readonly mtu: number;
  /** Where the node's underlay lives ("host" on a real node, a netns name in the lab). */
  readonly netns: string;
  /** When the agent last finished a sync (ISO time), for `lab status`. */
  readonly lastSync?: string;
  readonly agentPid?: number;
}

/** One entry of Multus' `k8s.v1.cni.cncf.io/network-status` annotation. */
export interface NetworkStatusEntry {
  readonly name: string;
  readonly interface: string;
  readonly ips: readonly string[];
  readonly mac: string;
  readonly default: boolean;
  readonly dns: Record<string, unknown>;
  readonly gateway?: readonly string[];
}

/**
 * One pod interface attached by the CNI plugin (namespace = pod namespace,
 * name = attachmentName(containerId, ifName)). The source of truth for the dataplane's pods and
 * the liveness source of IPAM reconcile.
 */
export interface AttachmentRecord {
  readonly containerId: string;
  readonly ifName: string;
  readonly podNamespace: string;
  readonly podName: string;
  readonly podUid?: string;
  readonly node: string;
  /** Pod network namespace (path or name) as CNI_NETNS gave it. */
  readonly netns: string;
  /** Network (the `Network` resource's name). */
  readonly network: string;
  /** Network config name from the NAD (`network-blue`), for GC. */
  readonly netConfName: string;
  /** Plain addresses (no prefix). */
  readonly ips: readonly string[];
  readonly mac: string;
  /** Addresses came from a delegated IPAM plugin (not ours to release). */
  readonly delegatedIpam: boolean;
  /** Default route through this interface (JSON annotation `default-route`). */
  readonly defaultRoute: boolean;
  readonly createdAt: string;
  /** What Multus would publish for this attachment. */
  readonly status: NetworkStatusEntry;
}

export function attachmentName(containerId: string, ifName: string): string {
  return `${containerId}.${ifName}`;
}
