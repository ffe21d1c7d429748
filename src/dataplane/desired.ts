// Validation of a DesiredNode and its expansion into the kernel objects wanted in each namespace.
// Pure: bad input throws DesiredStateError (object, field, reason) before anything is touched.
import { createHash } from 'node:crypto';
import { canonCidr, canonIp, defaultDst, familyOf, hostCidr, isCidr, isIp, type Family } from './addr.js';
import {
  GATEWAY_V4,
  GATEWAY_V6,
  HOST_ALIAS_PREFIX,
  hostVethMac,
  hostVethName,
  podIfSlots,
  podKey,
  podMac,
  LOCAL_TABLE,
  POD_LOCAL_RULE_PRIORITY,
  POD_RULE_PRIORITY_BASE,
  POD_TABLE_BASE,
  routingNs,
  RT_PROTO,
  vtepMac,
  vtepNextHop,
  vxlanName,
} from './naming.js';
import type { DesiredNode, FdbState, NeighState, PodInterfaceSpec, RouteState, RuleState } from './types.js';

export class DesiredStateError extends Error {
  constructor(
    readonly object: string,
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${object}: field ${field}: ${reason}`);
  }
}

const NAME_RE = /^[A-Za-z0-9]([A-Za-z0-9_.-]{0,251}[A-Za-z0-9])?$/;
const IFNAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;
const NETNS_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}$/;
const NETNS_PATH_RE = /^\/[A-Za-z0-9_./-]{1,4000}$/;
const MAC_RE = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

function checkNetns(object: string, field: string, v: string, allowHost: boolean): void {
  if (v === 'host') {
    if (!allowHost) throw new DesiredStateError(object, field, 'a pod cannot live in the host namespace');
    return;
  }
  if (v.startsWith('/')) {
    if (!NETNS_PATH_RE.test(v) || v.split('/').includes('..'))
      throw new DesiredStateError(object, field, `invalid namespace path ${JSON.stringify(v)}`);
    return;
  }
  if (!NETNS_NAME_RE.test(v))
    throw new DesiredStateError(object, field, `invalid namespace name ${JSON.stringify(v)}`);
}

function checkIp(object: string, field: string, v: unknown): string {
  if (typeof v !== 'string' || !isIp(v))
    throw new DesiredStateError(object, field, `not an IP address: ${JSON.stringify(v)}`);
  return canonIp(v);
}

function checkCidr(object: string, field: string, v: unknown): string {
  if (typeof v !== 'string' || !isCidr(v))
    throw new DesiredStateError(object, field, `not a CIDR: ${JSON.stringify(v)}`);
  return canonCidr(v);
}

function checkMac(object: string, field: string, v: unknown): string {
  if (typeof v !== 'string' || !MAC_RE.test(v))
    throw new DesiredStateError(object, field, `not a MAC address: ${JSON.stringify(v)}`);
  const first = parseInt(v.slice(0, 2), 16);
  if (first & 1) throw new DesiredStateError(object, field, `multicast MAC not allowed: ${v}`);
  return v.toLowerCase();
}

/** Throws DesiredStateError on the first problem. */
export function validateDesired(d: DesiredNode): void {
  const node = `node ${JSON.stringify(d?.name)}`;
  if (typeof d?.name !== 'string' || !NAME_RE.test(d.name))
    throw new DesiredStateError('node', 'name', 'must be a DNS-like name');
  checkNetns(node, 'netns', String(d.netns), true);
  checkIp(node, 'underlay.address', d.underlay?.address);
  const mtu = d.underlay?.mtu;
  if (!Number.isInteger(mtu) || mtu < 1280 || mtu > 65535)
    throw new DesiredStateError(
      node,
      'underlay.mtu',
      `must be an integer 1280..65535, got ${JSON.stringify(mtu)}`,
    );
  const nets = new Set<string>();
  const vnis = new Set<number>();
  for (const [i, n] of d.networks.entries()) {
    const o = `network ${JSON.stringify(n?.name)}`;
    if (typeof n?.name !== 'string' || !NAME_RE.test(n.name))
      throw new DesiredStateError(`networks[${i}]`, 'name', 'must be a DNS-like name');
    if (nets.has(n.name)) throw new DesiredStateError(o, 'name', 'duplicate network');
    if (!Number.isInteger(n.vni) || n.vni < 1 || n.vni > 0xffffff)
      throw new DesiredStateError(o, 'vni', `must be 1..16777215, got ${JSON.stringify(n.vni)}`);
    if (vnis.has(n.vni))
      throw new DesiredStateError(o, 'vni', `VNI ${n.vni} used by two networks on this node`);
    const port = n.vxlanPort ?? 4789;
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new DesiredStateError(o, 'vxlanPort', `must be 1..65535, got ${JSON.stringify(port)}`);
    for (const [j, r] of n.ranges.entries()) checkCidr(o, `ranges[${j}]`, r);
    nets.add(n.name);
    vnis.add(n.vni);
  }
  const keys = new Set<string>();
  const ifnames = new Set<string>();
  const addrsPerNet = new Map<string, string>();
  for (const [i, p] of d.pods.entries()) {
    const o = `pod interface ${JSON.stringify(`${p?.netns}/${p?.ifname}`)}`;
    if (!nets.has(p?.network))
      throw new DesiredStateError(o, 'network', `unknown network ${JSON.stringify(p?.network)}`);
    checkNetns(o, 'netns', String(p.netns), false);
    if (typeof p.ifname !== 'string' || !IFNAME_RE.test(p.ifname))
      throw new DesiredStateError(o, 'ifname', 'must be 1-15 of [A-Za-z0-9_.-]');
    const podIf = `${p.netns}|${p.ifname}`;
    if (ifnames.has(podIf))
      throw new DesiredStateError(o, 'ifname', 'two interfaces with the same name in one pod');
    ifnames.add(podIf);
    keys.add(podKey(p));
    if (!p.addresses.length) throw new DesiredStateError(o, 'addresses', 'at least one address is required');
    for (const [j, a] of p.addresses.entries()) {
      const ip = checkIp(o, `addresses[${j}]`, a);
      const k = `${p.network}|${ip}`;
      if (addrsPerNet.has(k))
        throw new DesiredStateError(
          o,
          `addresses[${j}]`,
          `${ip} already used in network ${p.network} by ${addrsPerNet.get(k)}`,
        );
      addrsPerNet.set(k, `pod ${p.netns}`);
    }
    if (p.mac !== undefined) checkMac(o, 'mac', p.mac);
    for (const [j, r] of p.routes.entries()) checkCidr(o, `routes[${j}]`, r);
    void i;
  }
  const remotes = new Set<string>();
  for (const [i, r] of d.remotes.entries()) {
    const o = `remote node ${JSON.stringify(r?.name)}`;
    if (typeof r?.name !== 'string' || !NAME_RE.test(r.name))
      throw new DesiredStateError(`remotes[${i}]`, 'name', 'must be a DNS-like name');
    if (r.name === d.name) throw new DesiredStateError(o, 'name', 'a node cannot be its own remote');
    if (remotes.has(r.name)) throw new DesiredStateError(o, 'name', 'duplicate remote node');
    remotes.add(r.name);
    const u = checkIp(o, 'underlay', r.underlay);
    if (familyOf(u) !== familyOf(d.underlay.address))
      throw new DesiredStateError(o, 'underlay', "address family differs from this node's underlay");
    for (const [net, mac] of Object.entries(r.vtepMacs ?? {})) checkMac(o, `vtepMacs.${net}`, mac);
    for (const [net, ips] of Object.entries(r.pods)) {
      if (!nets.has(net))
        throw new DesiredStateError(o, `pods.${net}`, `unknown network ${JSON.stringify(net)}`);
      for (const [j, a] of ips.entries()) {
        const ip = checkIp(o, `pods.${net}[${j}]`, a);
        const k = `${net}|${ip}`;
        if (addrsPerNet.has(k))
          throw new DesiredStateError(
            o,
            `pods.${net}[${j}]`,
            `${ip} already used in network ${net} by ${addrsPerNet.get(k)}`,
          );
        addrsPerNet.set(k, `remote node ${r.name}`);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------

export interface WantVxlan {
  readonly name: string;
  readonly vni: number;
  readonly port: number;
  readonly local: string;
  readonly mac: string;
  readonly mtu: number;
  readonly alias: string;
}

export interface WantHostVeth {
  readonly name: string;
  readonly mac: string;
  readonly mtu: number;
  /** alias recording a completed pod-side setup */
  readonly alias: string;
  readonly podKey: string;
  /** The memif forwarder's TAP (created by it; the dataplane only configures it). */
  readonly tap?: true;
}

export interface WantRouting {
  readonly ns: string;
  readonly network: string;
  readonly vxlan: WantVxlan;
  readonly hostVeths: readonly WantHostVeth[];
  readonly routes: readonly RouteState[];
  readonly neighs: readonly NeighState[];
  readonly fdb: readonly FdbState[];
}

export interface WantPod {
  readonly key: string;
  /** A memif interface: pod side a port-less bridge, host side the forwarder's TAP. */
  readonly memif?: true;
  readonly network: string;
  readonly netns: string;
  readonly ifname: string;
  readonly mac: string;
  readonly mtu: number;
  readonly routingNs: string;
  readonly hostName: string;
  readonly hostMac: string;
  readonly addrs: readonly string[]; // host CIDRs
  /** main-table routes (metric by position) and the same destinations in this interface's table */
  readonly routes: readonly RouteState[];
  readonly neighs: readonly NeighState[];
  /** this interface's routing table (its rules select it by source address) */
  readonly table: number;
  /**
   * Rules are not tied to a device (a detached interface would leave its rules behind), so the
   * pod's first interface (by name) owns every rule of the pod: `podRules` is the whole set,
   * and it is in this interface's hash, so any change of it gets the pod re-read.
   */
  readonly ownsRules: boolean;
  readonly podRules: readonly RuleState[];
  /** hash of everything above: stored in the host veth alias once the pod side is set up */
  readonly hash: string;
}

export interface WantNode {
  readonly node: string;
  readonly netns: string;
  readonly routing: readonly WantRouting[];
  readonly pods: readonly WantPod[];
}

export function overlayMtu(d: DesiredNode): number {
  return d.underlay.mtu - (familyOf(d.underlay.address) === 4 ? 50 : 70);
}

/** Validate and expand the desired node into per-namespace kernel objects. */
/** Base metric of pod routes (plus the interface's position among the pod's interfaces). */
export const POD_ROUTE_METRIC = 100;

/**
 * Per interface (keyed `netns|ifname`): its position among its pod's interfaces by name (route
 * metric), its routing-table slot, the tables of all the pod's interfaces, and whether it is the
 * pod's first; linear.
 */
interface PodIfInfo {
  readonly index: number;
  readonly slot: number;
  readonly first: boolean;
}
function podIfInfo(pods: readonly PodInterfaceSpec[]): Map<string, PodIfInfo> {
  const byPod = new Map<string, string[]>();
  for (const p of pods) {
    const l = byPod.get(p.netns);
    if (l) l.push(p.ifname);
    else byPod.set(p.netns, [p.ifname]);
  }
  const out = new Map<string, PodIfInfo>();
  for (const [netns, names] of byPod) {
    names.sort();
    const slots = podIfSlots(names);
    names.forEach((n, i) => out.set(`${netns}|${n}`, { index: i, slot: slots.get(n)!, first: i === 0 }));
  }
  return out;
}

/**
 * Every rule of each pod (by netns), sorted: `from <addr> iif lo lookup <its interface's table>`,
 * and per family in use the relocated `lookup local`.
 */
function podRulesOf(
  pods: readonly PodInterfaceSpec[],
  info: Map<string, PodIfInfo>,
): Map<string, RuleState[]> {
  const out = new Map<string, RuleState[]>();
  for (const p of pods) {
    const { slot } = info.get(`${p.netns}|${p.ifname}`)!;
    const l = out.get(p.netns) ?? [];
    for (const a of p.addresses)
      l.push({
        family: familyOf(a),
        priority: POD_RULE_PRIORITY_BASE + slot,
        from: hostCidr(a),
        iif: 'lo',
        table: POD_TABLE_BASE + slot,
      });
    out.set(p.netns, l);
  }
  for (const l of out.values()) {
    for (const f of new Set(l.map((r) => r.family)))
      l.push({ family: f, priority: POD_LOCAL_RULE_PRIORITY, table: LOCAL_TABLE });
    l.sort((x, y) => x.priority - y.priority || ruleOrder(x).localeCompare(ruleOrder(y)));
  }
  return out;
}
const ruleOrder = (r: RuleState): string => `${r.family}|${r.from ?? ''}`;

/**
 * Hashing (names, MACs, completion marks) was most of the cost of expanding a 1000-pod node, and
 * every sync expands the whole node again: remember results, bounded (cleared when full).
 */
const derived = new Map<string, { hostName: string; hostMac: string; mac: string }>();
const hashes = new Map<string, string>();
function remember<V>(m: Map<string, V>, k: string, f: () => V): V {
  let v = m.get(k);
  if (v === undefined) {
    v = f();
    if (m.size >= 50_000) m.clear();
    m.set(k, v);
  }
  return v;
}

export function expandDesired(d: DesiredNode): WantNode {
  validateDesired(d);
  const mtu = overlayMtu(d);
  const local = canonIp(d.underlay.address);
  const pods: WantPod[] = [];
  const routing: WantRouting[] = [];
  const ifInfo = podIfInfo(d.pods);
  const rulesOf = podRulesOf(d.pods, ifInfo);
  const podsOf = new Map<string, PodInterfaceSpec[]>();
  for (const p of d.pods) {
    const l = podsOf.get(p.network);
    if (l) l.push(p);
    else podsOf.set(p.network, [p]);
  }
  for (const n of d.networks) {
    const ns = routingNs(d.name, n.name);
    const hostVeths: WantHostVeth[] = [];
    const routes: RouteState[] = [];
    const neighs: NeighState[] = [];
    const fdb: FdbState[] = [];
    const vx = vxlanName(n.vni);
    for (const p of podsOf.get(n.name) ?? []) {
      const { hostName, hostMac, mac } = remember(derived, `${podKey(p)}|${p.mac ?? ''}`, () => ({
        hostName: hostVethName(p),
        hostMac: hostVethMac(p),
        mac: podMac(p),
      }));
      const addrs = p.addresses.map(hostCidr);
      const fams = new Set<Family>(p.addresses.map(familyOf));
      const podRoutes: RouteState[] = [];
      const dsts = [...p.routes.map(canonCidr)];
      if (p.defaultRoute) for (const f of fams) dsts.push(defaultDst(f));
      // A pod may reach the same destination through several of its interfaces (two interfaces in
      // one network, overlapping networks). In the main table each interface's routes get their
      // own metric, so all coexist (the first interface by name is the default choice;
      // SO_BINDTODEVICE picks any). Each interface also has a table of its own, chosen by a rule
      // on its source addresses: replies and sockets bound to an address leave by the interface
      // that owns it, into that interface's network (as the reference `sbr` plugin does).
      const info = ifInfo.get(`${p.netns}|${p.ifname}`)!;
      const metric = POD_ROUTE_METRIC + info.index;
      const table = POD_TABLE_BASE + info.slot;
      for (const dst of [...new Set(dsts)]) {
        const via = familyOf(dst) === 4 ? GATEWAY_V4 : GATEWAY_V6;
        podRoutes.push({ dst, dev: p.ifname, via, proto: RT_PROTO, metric });
        podRoutes.push({ dst, dev: p.ifname, via, proto: RT_PROTO, table });
      }
      const podNeighs: NeighState[] = [];
      if (fams.has(4)) podNeighs.push({ dev: p.ifname, addr: GATEWAY_V4, mac: hostMac, permanent: true });
      if (fams.has(6)) podNeighs.push({ dev: p.ifname, addr: GATEWAY_V6, mac: hostMac, permanent: true });
      const base = {
        key: podKey(p),
        // Only when set, so that the hashes (and completion aliases) of veth pods stay as they were.
        ...(p.kind === 'memif' ? { memif: true as const } : {}),
        network: n.name,
        netns: p.netns,
        ifname: p.ifname,
        mac,
        mtu,
        routingNs: ns,
        hostName,
        hostMac,
        addrs,
        routes: podRoutes,
        neighs: podNeighs,
        table,
        ownsRules: info.first,
        podRules: info.first ? (rulesOf.get(p.netns) ?? []) : [],
      };
      const text = JSON.stringify(base);
      const hash = remember(hashes, text, () => createHash('sha256').update(text).digest('hex').slice(0, 16));
      pods.push({ ...base, hash });
      hostVeths.push({
        name: hostName,
        mac: hostMac,
        mtu,
        alias: HOST_ALIAS_PREFIX + hash,
        podKey: base.key,
        ...(p.kind === 'memif' ? { tap: true as const } : {}),
      });
      for (const a of p.addresses) {
        routes.push({ dst: hostCidr(a), dev: hostName, proto: RT_PROTO });
        neighs.push({ dev: hostName, addr: canonIp(a), mac, permanent: true });
      }
    }
    for (const r of d.remotes) {
      const ips = r.pods[n.name] ?? [];
      const mac = (r.vtepMacs?.[n.name] ?? vtepMac(r.name, n.name)).toLowerCase();
      const nh = canonIp(vtepNextHop(mac));
      // Every remote node gets neighbour + FDB entry even without pods: cheap and keeps
      // adding the first pod there a route-only change.
      neighs.push({ dev: vx, addr: nh, mac, permanent: true });
      fdb.push({ dev: vx, mac, dst: canonIp(r.underlay) });
      for (const a of ips) routes.push({ dst: hostCidr(a), dev: vx, via: nh, proto: RT_PROTO });
    }
    routing.push({
      ns,
      network: n.name,
      vxlan: {
        name: vx,
        vni: n.vni,
        port: n.vxlanPort ?? 4789,
        local,
        mac: vtepMac(d.name, n.name),
        mtu,
        alias: `mn:${d.name}/${n.name}`,
      },
      hostVeths,
      routes,
      neighs,
      fdb,
    });
  }
  return { node: d.name, netns: d.netns, routing, pods };
}
