// Pure conversions between the lab's pod record and the Kubernetes Pod: the status a kubelet
// writes (phase, conditions, podIP/podIPs from the cluster network's eth0 as Multus reports it,
// hostIP, containerStatuses), and, the other way, what the lab commands need to know of a pod read
// from the API server (node, phase, netns, container id, its interfaces from network-status).
import { containerIdFor, podNetns, type LabNode } from './layout.js';
import {
  DEFAULT_NETCONF_NAME,
  NETWORK_STATUS_ANNOTATION,
  type NetworkStatusEntry,
  type PodStatus,
} from './pods.js';

/** The fields of a Kubernetes Pod these functions read. */
export interface KubePod {
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly uid?: string;
    readonly creationTimestamp?: string;
    readonly deletionTimestamp?: string;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly spec?: {
    readonly nodeName?: string;
    readonly containers?: readonly { name: string; image?: string }[];
  };
  readonly status?: {
    readonly phase?: string;
    readonly reason?: string;
    readonly message?: string;
    readonly startTime?: string;
  };
}

/** kubelet's reason for a pod whose sandbox network could not be set up. */
export const SANDBOX_FAILED = 'FailedCreatePodSandBox';

function condition(
  type: string,
  ok: boolean,
  now: string,
  reason?: string,
  message?: string,
): Record<string, unknown> {
  return {
    type,
    status: ok ? 'True' : 'False',
    lastProbeTime: null,
    lastTransitionTime: now,
    ...(reason ? { reason } : {}),
    ...(message ? { message } : {}),
  };
}

/** The status subresource a kubelet writes for the pod, from what the lab made for it. */
export function kubeletPodStatus(
  pod: KubePod,
  st: PodStatus,
  node: LabNode,
  now: string,
): Record<string, unknown> {
  const running = st.phase === 'Running';
  const eth0 = st.networkStatus.find((e) => e.name === DEFAULT_NETCONF_NAME && e.interface === 'eth0');
  const ips = eth0?.ips ?? [];
  const containers = pod.spec?.containers ?? [];
  const started = pod.status?.startTime ?? now;
  const why = running ? undefined : 'ContainersNotReady';
  const msg = running
    ? undefined
    : `containers with unready status: [${containers.map((c) => c.name).join(' ')}]`;
  return {
    phase: st.phase,
    ...(running
      ? {}
      : { reason: SANDBOX_FAILED, message: st.reason ?? 'the pod network could not be set up' }),
    conditions: [
      condition('PodReadyToStartContainers', running, now),
      condition('Initialized', true, now),
      condition('Ready', running, now, why, msg),
      condition('ContainersReady', running, now, why, msg),
      condition('PodScheduled', true, now),
    ],
    hostIP: node.underlay,
    hostIPs: [{ ip: node.underlay }],
    ...(ips.length ? { podIP: ips[0], podIPs: ips.map((ip) => ({ ip })) } : {}),
    startTime: started,
    containerStatuses: containers.map((c) => ({
      name: c.name,
      image: c.image ?? '',
      imageID: '',
      containerID: `multinet-lab://${st.containerId}`,
      ready: running,
      started: running,
      restartCount: 0,
      state: running
        ? { running: { startedAt: now } }
        : { waiting: { reason: SANDBOX_FAILED, message: st.reason ?? '' } },
    })),
  };
}

/** What the lab commands need of a pod, whichever lab (embedded status or Kubernetes Pod) holds it. */
export interface PodView {
  readonly phase: string;
  readonly reason?: string;
  readonly nodeName: string;
  readonly netns: string;
  readonly uid: string;
  readonly containerId: string;
  /** `nad` is `ns/name`, '' for eth0 on the default network. */
  readonly attachments: readonly { readonly nad: string; readonly ifName: string }[];
}

function networkStatusOf(pod: KubePod): (NetworkStatusEntry & { interface: string })[] {
  const text = pod.metadata?.annotations?.[NETWORK_STATUS_ANNOTATION];
  if (!text) return [];
  try {
    const v = JSON.parse(text) as unknown;
    return Array.isArray(v)
      ? (v as NetworkStatusEntry[]).filter(
          (e): e is NetworkStatusEntry & { interface: string } => e && typeof e.interface === 'string',
        )
      : [];
  } catch {
    return [];
  }
}

/** A Kubernetes Pod as the kube lab's kubelet (kubelet.ts) made it. */
export function kubePodView(lab: string, pod: KubePod): PodView {
  const ns = pod.metadata?.namespace ?? 'default';
  const name = pod.metadata?.name ?? '';
  const uid = pod.metadata?.uid ?? '';
  const phase = pod.metadata?.deletionTimestamp ? 'Terminating' : (pod.status?.phase ?? 'Pending');
  const reason = pod.status?.message ?? pod.status?.reason;
  return {
    phase,
    ...(reason ? { reason } : {}),
    nodeName: pod.spec?.nodeName ?? '',
    netns: podNetns(lab, ns, name, uid),
    uid,
    containerId: containerIdFor(ns, name, uid),
    attachments: networkStatusOf(pod).map((e) => ({
      nad: e.name === DEFAULT_NETCONF_NAME ? '' : e.name,
      ifName: e.interface,
    })),
  };
}
