// Records multinet itself keeps in the store next to the user's manifests (written by the agent),
// and their decoders. Unknown fields are ignored rather than refused: a record written by an older
// or newer agent still decodes as long as the fields read here are sound.
import { isObject } from './documents.js';
import { Fields } from './fields.js';
import type { IssueSink } from './issues.js';

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
  readonly agentPid?: number;
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
  /** A memif interface in IP mode (asked with the reference's vppInterfacesSpec annotation). */
  readonly memifMode?: 'ip';
  readonly createdAt: string;
}

export function attachmentName(containerId: string, ifName: string): string {
  return `${containerId}.${ifName}`;
}

function root(f: Fields, v: unknown): Record<string, unknown> | undefined {
  if (isObject(v)) return v;
  f.sink.error([], 'must be an object');
  return undefined;
}

const str = (f: Fields, o: Record<string, unknown>, k: string): string => f.string([k], o[k], true) ?? '';

/** Decodes a stored Node record; errors go to the sink. */
export function nodeRecordFrom(sink: IssueSink, v: unknown): NodeRecord | undefined {
  const f = new Fields(sink);
  const o = root(f, v);
  if (!o) return undefined;
  const r = {
    name: str(f, o, 'name'),
    underlay: str(f, o, 'underlay'),
    mtu: f.integer(['mtu'], o.mtu, { required: true, min: 1, max: 65535 }) ?? 0,
    netns: str(f, o, 'netns'),
  };
  const pid = f.integer(['agentPid'], o.agentPid, { min: 1 });
  if (sink.errorCount > 0) return undefined;
  return pid !== undefined ? { ...r, agentPid: pid } : r;
}

/** Decodes a stored Attachment record; errors go to the sink. */
export function attachmentRecordFrom(sink: IssueSink, v: unknown): AttachmentRecord | undefined {
  const f = new Fields(sink);
  const o = root(f, v);
  if (!o) return undefined;
  const ips = (f.list(['ips'], o.ips, true) ?? []).map((ip, i) => f.string(['ips', i], ip, true) ?? '');
  const flag = (k: string): boolean => f.boolean([k], o[k]) ?? false;
  const r = {
    containerId: str(f, o, 'containerId'),
    ifName: str(f, o, 'ifName'),
    podNamespace: str(f, o, 'podNamespace'),
    podName: str(f, o, 'podName'),
    node: str(f, o, 'node'),
    netns: str(f, o, 'netns'),
    network: str(f, o, 'network'),
    netConfName: f.string(['netConfName'], o.netConfName) ?? '',
    ips,
    mac: str(f, o, 'mac'),
    delegatedIpam: flag('delegatedIpam'),
    defaultRoute: flag('defaultRoute'),
    createdAt: f.string(['createdAt'], o.createdAt) ?? '',
  };
  const uid = f.string(['podUid'], o.podUid);
  const mm = f.string(['memifMode'], o.memifMode);
  if (mm !== undefined && mm !== 'ip' && mm !== 'ethernet')
    sink.error(['memifMode'], 'must be ip or ethernet');
  if (sink.errorCount > 0) return undefined;
  return { ...r, ...(uid ? { podUid: uid } : {}), ...(mm === 'ip' ? { memifMode: 'ip' as const } : {}) };
}
