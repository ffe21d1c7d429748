// Where an attachment's addresses come from, one source per IPAM mode of the request. Each returns
// the addresses and their undo, which ADD pushes onto its undo list like any other step.
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import type { IpamConfig } from '../api/types.js';
import type { NetworkInfo } from '../calc/node-state.js';
import type { CniRequest } from '../cni/protocol.js';
import { CniError, ErrorCode } from '../cni/spec.js';
import { poolRanges } from '../ipam/whereabouts.js';
import type { AddressAllocator } from './allocator.js';
import type { PodIdentity } from './attach-record.js';
import type { Undo } from './undo.js';

export interface Addresses {
  /** Plain addresses (no prefix). */
  readonly ips: string[];
  /** Gives them back; absent when they are not ours to release. */
  readonly release?: Undo;
}

export interface AddressRequest {
  readonly req: CniRequest;
  readonly network: NetworkInfo;
  readonly ipamConf: IpamConfig;
  readonly pod: PodIdentity;
  readonly ipam: AddressAllocator;
  /**
   * The pod's addresses on its other interfaces. One address on two interfaces of one pod
   * (overlapping networks) would leave the pod unable to tell by source which network a reply
   * belongs to: our IPAM never hands them out to it, and asking for one is refused.
   */
  readonly podAddresses?: readonly PodAddress[];
}

export interface PodAddress {
  readonly ip: string;
  readonly ifName: string;
  readonly network: string;
}

type Source = (a: AddressRequest) => Promise<Addresses>;

const SOURCES: Record<CniRequest['ipam'], Source> = {
  // Our own IPAM over the store; released by (network, containerId, ifName).
  agent: async ({ req, network, ipamConf, pod, ipam, podAddresses = [] }) => {
    const holder = { network: network.name, containerId: req.containerId, ifName: req.ifName };
    const requested = requestedIps(req);
    for (const r of requested) {
      const clash = podAddresses.find((o) => sameIp(o.ip, r));
      if (clash)
        throw new CniError(
          ErrorCode.InvalidNetworkConfig,
          'requested address already held by this pod',
          `${pod.namespace}/${pod.name} ${req.ifName}: ${r} is the pod's address on ${clash.ifName} (network ${clash.network}); one pod cannot hold one address on two interfaces`,
        );
    }
    let ips: string[];
    try {
      ips = await ipam.allocate({
        ...holder,
        ranges: poolRanges(ipamConf, network.ranges).map((r) => ({ ...r, exclude: r.exclude ?? [] })),
        podNamespace: pod.namespace,
        podName: pod.name,
        ...(pod.uid ? { podUid: pod.uid } : {}),
        ...(requested.length ? { requestedIps: requested } : {}),
        ...(podAddresses.length ? { avoidIps: podAddresses.map((o) => o.ip) } : {}),
      });
    } catch (e) {
      throw new CniError(ErrorCode.AgentInternal + 2, 'address allocation failed', (e as Error).message);
    }
    return { ips, release: () => ipam.release(holder) };
  },
  // An IPAM plugin the CNI plugin ran: the plugin releases its address if the ADD fails.
  delegated: async ({ req }) => {
    const ips = (req.ipamResult?.ips ?? []).map((c) => c.address.split('/')[0]!).filter((a) => isIP(a) !== 0);
    if (ips.length === 0)
      throw new CniError(
        ErrorCode.InvalidNetworkConfig,
        'delegated IPAM returned no address',
        `ipam.type ${String(req.netConf.ipam?.type)}`,
      );
    return { ips };
  },
  none: async () => {
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      'no ipam section',
      'the plugin config needs an "ipam" section (e.g. {"type": "whereabouts"})',
    );
  },
};

export function acquireAddresses(a: AddressRequest): Promise<Addresses> {
  return SOURCES[a.req.ipam](a);
}

/** Addresses the pod asks for: runtimeConfig.ips (Multus' `ips` capability) and CNI_ARGS IP. */
function requestedIps(req: CniRequest): string[] {
  const rc = req.netConf.runtimeConfig?.ips;
  const fromRc = Array.isArray(rc) ? rc.filter((x): x is string => typeof x === 'string') : [];
  const fromArgs = req.args.IP ? req.args.IP.split(',') : [];
  return [...fromRc, ...fromArgs].map((s) => s.split('/')[0]!.trim()).filter(Boolean);
}

function sameIp(a: string, b: string): boolean {
  const x = a.split('/')[0]!;
  const y = b.split('/')[0]!;
  return isIP(x) !== 0 && isIP(x) === isIP(y) && ipaddr.parse(x).toString() === ipaddr.parse(y).toString();
}
