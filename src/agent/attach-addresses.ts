// Where an attachment's addresses come from, one source per IPAM mode of the request. Each returns
// the addresses and their undo, which ADD pushes onto its undo list like any other step.
import { isIP } from 'node:net';
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
}

type Source = (a: AddressRequest) => Promise<Addresses>;

const SOURCES: Record<CniRequest['ipam'], Source> = {
  // Our own IPAM over the store; released by (network, containerId, ifName).
  agent: async ({ req, network, ipamConf, pod, ipam }) => {
    const holder = { network: network.name, containerId: req.containerId, ifName: req.ifName };
    let ips: string[];
    try {
      const requested = requestedIps(req);
      ips = await ipam.allocate({
        ...holder,
        ranges: poolRanges(ipamConf, network.ranges).map((r) => ({ ...r, exclude: r.exclude ?? [] })),
        podNamespace: pod.namespace,
        podName: pod.name,
        ...(requested.length ? { requestedIps: requested } : {}),
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
