// The Attachment record of one ADD, built once from the request, the Network and the addresses.
import { attachmentName, KIND_ATTACHMENT, type AttachmentRecord } from '../calc/records.js';
import type { CniRequest } from '../cni/protocol.js';
import { podMac } from '../dataplane/naming.js';

export interface PodIdentity {
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
}

export function podIdentity(req: CniRequest): PodIdentity {
  const namespace = req.args.K8S_POD_NAMESPACE || 'default';
  const name = req.args.K8S_POD_NAME || req.containerId;
  const uid = req.args.K8S_POD_UID;
  return uid ? { namespace, name, uid } : { namespace, name };
}

export interface RecordKey {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
}

/** Store key of the attachment record of (container, interface), in the pod's namespace. */
export function attachmentKey(req: CniRequest, podNamespace: string): RecordKey {
  return {
    kind: KIND_ATTACHMENT,
    namespace: podNamespace,
    name: attachmentName(req.containerId, req.ifName),
  };
}

export interface RecordInput {
  readonly req: CniRequest;
  readonly node: string;
  readonly network: string;
  readonly pod: PodIdentity;
  readonly ips: string[];
  readonly now: Date;
  readonly memifMode?: 'ethernet' | 'ip';
}

export function attachmentRecord(r: RecordInput): AttachmentRecord {
  const { req, pod, ips, network } = r;
  const asked = req.netConf.runtimeConfig?.mac;
  const mac = podMac({
    network,
    netns: req.netns,
    ifname: req.ifName,
    ...(typeof asked === 'string' && asked ? { mac: asked } : {}),
  });
  return {
    containerId: req.containerId,
    ifName: req.ifName,
    podNamespace: pod.namespace,
    podName: pod.name,
    ...(pod.uid ? { podUid: pod.uid } : {}),
    node: r.node,
    netns: req.netns,
    network,
    netConfName: req.netConf.name,
    ips,
    mac,
    delegatedIpam: req.ipam === 'delegated',
    defaultRoute: wantsDefaultRoute(req),
    createdAt: r.now.toISOString(),
    ...(r.memifMode === 'ip' ? { memifMode: 'ip' as const } : {}),
  };
}

function wantsDefaultRoute(req: CniRequest): boolean {
  const gw = req.netConf.runtimeConfig?.['default-route'] ?? req.args.MULTINET_DEFAULT_ROUTE;
  return gw === true || gw === 'true' || (Array.isArray(gw) && gw.length > 0);
}
