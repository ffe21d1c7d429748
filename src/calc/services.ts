// Network-aware Services -> what each network's routing domain needs: the ClusterIP routes pods
// get through their interface in that network, and the `mnsvc` nft table. Pure; sorted output.
//
// Table layout (one per network, in that network's routing namespace on every node with its pods):
//   svc     map  vip . proto . port : goto lbN | goto lbaN      one element per service port with endpoints
//   eps     map  vip . proto . port . index : endpoint . targetPort   one element per endpoint of a port
//   vips    set  every ClusterIP of the network (ports without endpoints and unknown ports are rejected)
//   hairpin set  src . dst address pairs of one pod (a pod reaching itself through its ClusterIP)
//   lbN  / lbaN  shared static chains per endpoint count N: `dnat to ... numgen random mod N map @eps`
//                (lbaN: `jhash ip saddr mod N` for sessionAffinity ClientIP)
// Per-packet cost is one map lookup whatever the number of services; one endpoint change is a
// handful of elements. The chains exist for N = 1..K, K rounded up to a multiple of LB_STEP, so the
// skeleton (whose change costs a full rewrite) only moves when the largest service crosses a step.
import type { NftTableSpec } from '../dataplane/nft-types.js';
import { matchesLabels } from '../api/label-selector.js';
import type { L4Protocol, Pod, Service, ServicePort } from '../api/types.js';
import type { ClusterView } from './node-state.js';
import type { AttachmentRecord } from './records.js';

export interface ServiceState {
  /** Per network: destinations (ClusterIP/32) routed from pods through their interface in it. */
  readonly routes: ReadonlyMap<string, readonly string[]>;
  /** Per network: the services table of its routing domain (absent: no services). */
  readonly tables: ReadonlyMap<string, NftTableSpec>;
  /** Per service (`ns/name`): its network and endpoints per port, for `lab get services -o wide`. */
  readonly services: ReadonlyMap<string, ServiceInfo>;
}

export interface ServiceInfo {
  readonly network: string;
  readonly clusterIP: string;
  /** `port/PROTO` -> sorted `ip:targetPort`. */
  readonly endpoints: ReadonlyMap<string, readonly string[]>;
}

/** Plain Services (spec.selector, no multinet annotations) live in the default network (pods' eth0). */
export const DEFAULT_NETWORK = 'default';
export const SERVICES_TABLE = 'mnsvc';
/** Chains lbN/lbaN exist for N up to a multiple of this (see above). */
export const LB_STEP = 16;
/** Seed of the ClientIP hash: any constant; the same on every node so a client maps the same everywhere. */
const AFFINITY_SEED = '0x6d6e7376';

const PROTO: Record<L4Protocol, string> = { TCP: 'tcp', UDP: 'udp', SCTP: 'sctp' };
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const isV4 = (ip: string): boolean =>
  IPV4.test(ip) && ip.split('.').every((o) => Number(o) <= 255 && String(Number(o)) === o);
const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const ipKey = (ip: string): string =>
  ip
    .split('.')
    .map((o) => o.padStart(3, '0'))
    .join('.');

/** The skeleton for chains 1..k (k a multiple of LB_STEP). */
export function servicesSkeleton(k: number): string {
  const lines = [
    '  map svc { type ipv4_addr . inet_proto . inet_service : verdict; }',
    '  map eps { typeof ip daddr . meta l4proto . th dport . numgen random mod 1 : ip daddr . th dport; }',
    '  set vips { type ipv4_addr; }',
    '  set hairpin { type ipv4_addr . ipv4_addr; }',
  ];
  for (let n = 1; n <= k; n++) {
    lines.push(
      `  chain lb${n} {`,
      `    dnat ip to ip daddr . meta l4proto . th dport . numgen random mod ${n} map @eps`,
      '  }',
    );
    // ClientIP affinity: a hash of the client address instead of a random pick. Stateless, so it
    // holds across agent restarts and is the same on every node; it remaps only when the number
    // of endpoints changes (kube-proxy's affinity also resets for clients of a removed endpoint).
    // An nft dynamic set with a timeout would need to store the chosen endpoint per client, which
    // nft 1.0.6 cannot do from a numgen result.
    lines.push(
      `  chain lba${n} {`,
      `    dnat ip to ip daddr . meta l4proto . th dport . jhash ip saddr mod ${n} seed ${AFFINITY_SEED} map @eps`,
      '  }',
    );
  }
  lines.push(
    '  chain services {',
    '    type nat hook prerouting priority dstnat; policy accept;',
    '    ip daddr . meta l4proto . th dport vmap @svc',
    '  }',
    // Still addressed to a ClusterIP after DNAT: no endpoint for that port. Refuse loudly rather
    // than let the routing domain drop it (it has no route for service addresses).
    '  chain unserved {',
    '    type filter hook prerouting priority dstnat + 10; policy accept;',
    '    ip daddr @vips meta l4proto tcp reject with tcp reset',
    '    ip daddr @vips reject',
    '  }',
    // A pod reaching itself through its ClusterIP: without SNAT the reply would come from its own
    // address and the pod's kernel would drop the packet as a martian. The source becomes the
    // ClusterIP, which the pod routes back through the same network's interface.
    '  chain hairpin_snat {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    '    ct status dnat ip saddr . ip daddr @hairpin snat ip to ct original ip daddr',
    '  }',
  );
  return lines.join('\n') + '\n';
}

interface Endpoint {
  readonly ip: string;
  readonly port: number;
}

function podKey(ns: string, name: string): string {
  return `${ns}/${name}`;
}

/** targetPort of `sp` on `pod`: the number, or the container port of that name and protocol. */
function resolveTargetPort(sp: ServicePort, pod: Pod): number | undefined {
  if (typeof sp.targetPort === 'number') return sp.targetPort;
  for (const c of pod.spec.containers) {
    for (const p of c.ports)
      if (p.name === sp.targetPort && p.protocol === sp.protocol) return p.containerPort;
  }
  return undefined;
}

/** The network a service lives in and its selector, or undefined when it selects nothing we program. */
function serviceScope(
  s: Service,
): { network: string; matches: (labels: Readonly<Record<string, string>>) => boolean } | undefined {
  if (s.multinet)
    return { network: s.multinet.network, matches: (l) => matchesLabels(s.multinet!.selector, l) };
  const sel = s.spec.selector;
  // Kubernetes: a Service without selector (or with an empty one) gets no managed endpoints.
  if (!sel || Object.keys(sel).length === 0) return undefined;
  return { network: DEFAULT_NETWORK, matches: (l) => Object.entries(sel).every(([k, v]) => l[k] === v) };
}

export function serviceState(view: ClusterView): ServiceState {
  const pods = new Map<string, Pod>();
  for (const p of view.pods ?? []) pods.set(podKey(p.metadata.namespace ?? 'default', p.metadata.name), p);
  // Attachments per network per pod: every address in that network, whichever interface.
  const byNetPod = new Map<string, Map<string, AttachmentRecord[]>>();
  for (const a of view.attachments) {
    const m = byNetPod.get(a.network) ?? new Map<string, AttachmentRecord[]>();
    byNetPod.set(a.network, m);
    const k = podKey(a.podNamespace, a.podName);
    m.set(k, [...(m.get(k) ?? []), a]);
  }

  interface NetAcc {
    svc: Map<string, string>;
    eps: string[];
    vips: Set<string>;
    hairpin: Set<string>;
    maxN: number;
  }
  const nets = new Map<string, NetAcc>();
  const info = new Map<string, ServiceInfo>();
  const services = [...(view.services ?? [])].sort((a, b) =>
    byString(
      podKey(a.metadata.namespace ?? 'default', a.metadata.name),
      podKey(b.metadata.namespace ?? 'default', b.metadata.name),
    ),
  );
  for (const s of services) {
    const scope = serviceScope(s);
    const vip = s.spec.clusterIP;
    // IPv4 ClusterIPs only (the table is family ip); '' (not allocated yet) and 'None' get nothing.
    if (!scope || !isV4(vip) || !view.networks.has(scope.network) || s.spec.type === 'ExternalName') continue;
    const ns = s.metadata.namespace ?? 'default';
    const acc: NetAcc = nets.get(scope.network) ?? {
      svc: new Map(),
      eps: [],
      vips: new Set(),
      hairpin: new Set(),
      maxN: 0,
    };
    nets.set(scope.network, acc);
    if (acc.vips.has(vip)) continue; // two services claim one ClusterIP: the first (by name) keeps it
    acc.vips.add(vip);
    const selected: { pod: Pod; ips: string[] }[] = [];
    for (const [k, atts] of byNetPod.get(scope.network) ?? []) {
      const pod = pods.get(k);
      if (!pod || (pod.metadata.namespace ?? 'default') !== ns || !scope.matches(pod.metadata.labels))
        continue;
      const ips = [...new Set(atts.flatMap((a) => a.ips).filter(isV4))].sort((x, y) =>
        byString(ipKey(x), ipKey(y)),
      );
      selected.push({ pod, ips });
      // Every pair of this pod's addresses in the network (itself included) needs hairpin SNAT.
      for (const x of ips) for (const y of ips) acc.hairpin.add(`${x} . ${y}`);
    }
    const perPort = new Map<string, string[]>();
    for (const sp of s.spec.ports) {
      const proto = PROTO[sp.protocol];
      const eps: Endpoint[] = [];
      for (const { pod, ips } of selected) {
        const port = resolveTargetPort(sp, pod);
        if (port === undefined) continue; // this pod has no such named port: not an endpoint of it
        for (const ip of ips) eps.push({ ip, port });
      }
      // Stable order: the same endpoints give the same indices on every node and every sync.
      eps.sort((x, y) => byString(ipKey(x.ip), ipKey(y.ip)) || x.port - y.port);
      perPort.set(
        `${sp.port}/${sp.protocol}`,
        eps.map((e) => `${e.ip}:${e.port}`),
      );
      if (eps.length === 0) continue; // vips + unserved chain reject it
      const key = `${vip} . ${proto} . ${sp.port}`;
      acc.svc.set(key, `${key} : goto ${s.spec.sessionAffinity === 'ClientIP' ? 'lba' : 'lb'}${eps.length}`);
      eps.forEach((e, i) => acc.eps.push(`${key} . ${i} : ${e.ip} . ${e.port}`));
      acc.maxN = Math.max(acc.maxN, eps.length);
    }
    info.set(podKey(ns, s.metadata.name), { network: scope.network, clusterIP: vip, endpoints: perPort });
  }

  const routes = new Map<string, string[]>();
  const tables = new Map<string, NftTableSpec>();
  for (const [net, acc] of [...nets].sort((a, b) => byString(a[0], b[0]))) {
    const vips = [...acc.vips].sort((x, y) => byString(ipKey(x), ipKey(y)));
    routes.set(
      net,
      vips.map((v) => `${v}/32`),
    );
    const k = Math.max(1, Math.ceil(acc.maxN / LB_STEP)) * LB_STEP;
    tables.set(net, {
      family: 'ip',
      name: SERVICES_TABLE,
      skeleton: servicesSkeleton(k),
      elements: {
        // Plain string order (what the nft layer diffs by merging).
        svc: [...acc.svc.values()].sort(),
        eps: acc.eps.sort(),
        vips: [...vips].sort(),
        hairpin: [...acc.hairpin].sort(),
      },
    });
  }
  return { routes, tables, services: info };
}
