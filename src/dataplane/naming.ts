// Deterministic kernel names, MACs and marks. Everything here is a pure function of names in the
// desired state, so a restarted agent (or a remote node) recomputes the same values without memory.
import { createHash } from 'node:crypto';
import { hashedName, shortHash } from '../util/names.js';
import { canonIp } from './addr.js';
import type { PodInterfaceSpec } from './types.js';

/** Route protocol number carried by every route we install (`ip route ... proto 77`). */
export const RT_PROTO = 77;

/** The seed's convention: a pod interface named `memif*` is a shared-memory interface. */
export function isMemifName(ifname: string): boolean {
  return ifname.startsWith('memif');
}

/** Pod-side IPv4 gateway: a static permanent neighbour (proxy ARP does not answer in a netns domain). */
export const GATEWAY_V4 = '169.254.1.1';
/** Pod-side IPv6 gateway, same idea. */
export const GATEWAY_V6 = 'fe80::1';

/** Alias set on the pod-side interface at creation: marks it as ours inside the pod. */
export const POD_IF_ALIAS = 'multinet';
/** Prefix of the host-veth alias that records the pod-side setup that completed (`mn:<hash>`). */
export const HOST_ALIAS_PREFIX = 'mn:';

export const VXLAN_PREFIX = 'mnvx';
export const HOST_VETH_PREFIX = 'mnh';

/** Prefix shared by all routing-domain namespaces of one node. */
export function routingNsPrefix(node: string): string {
  return `mn-vrf-${shortHash(['node', node], 10)}-`;
}

/** The routing-domain namespace of `network` on `node` (a netns; this kernel has no VRF device). */
export function routingNs(node: string, network: string): string {
  return routingNsPrefix(node) + shortHash(['network', network], 10);
}

export function vxlanName(vni: number): string {
  return `${VXLAN_PREFIX}${vni}`;
}

export function podKey(p: Pick<PodInterfaceSpec, 'network' | 'netns' | 'ifname'>): string {
  return `${p.network}|${p.netns}|${p.ifname}`;
}

/** Host-side veth name of a pod interface (lives in the routing namespace). */
export function hostVethName(p: Pick<PodInterfaceSpec, 'network' | 'netns' | 'ifname'>): string {
  return hashedName(HOST_VETH_PREFIX, [p.network, p.netns, p.ifname]);
}

/** A locally administered unicast MAC derived from `parts`. */
export function derivedMac(parts: readonly string[]): string {
  const b = createHash('sha256').update(parts.join('\0')).digest();
  const bytes = [((b[0] ?? 0) & 0xfc) | 0x02, b[1], b[2], b[3], b[4], b[5]];
  return bytes.map((x) => (x ?? 0).toString(16).padStart(2, '0')).join(':');
}

/** The VTEP MAC of `node`'s VXLAN device for `network`; remote nodes compute the same value. */
export function vtepMac(node: string, network: string): string {
  return derivedMac(['vtep', node, network]);
}

export function hostVethMac(p: Pick<PodInterfaceSpec, 'network' | 'netns' | 'ifname'>): string {
  return derivedMac(['host', p.network, p.netns, p.ifname]);
}

export function podMac(p: Pick<PodInterfaceSpec, 'network' | 'netns' | 'ifname' | 'mac'>): string {
  return p.mac ? p.mac.toLowerCase() : derivedMac(['pod', p.network, p.netns, p.ifname]);
}

/**
 * The next hop used in routing namespaces for a remote node: the IPv6 link-local address made
 * from its VTEP MAC (EUI-64). One permanent neighbour per remote node serves IPv4 routes
 * (`via inet6`, RFC 5549 style) and IPv6 routes, never clashes with pod or gateway addresses,
 * and is computable from the MAC alone.
 */
export function vtepNextHop(mac: string): string {
  const b = mac.split(':').map((h) => parseInt(h, 16));
  const e = [(b[0] ?? 0) ^ 0x02, b[1] ?? 0, b[2] ?? 0, 0xff, 0xfe, b[3] ?? 0, b[4] ?? 0, b[5] ?? 0];
  const groups: string[] = [];
  for (let i = 0; i < 8; i += 2) groups.push((((e[i] ?? 0) << 8) | (e[i + 1] ?? 0)).toString(16));
  return canonIp(`fe80::${groups.join(':')}`);
}

/**
 * Source-based routing in pods: each interface gets its own routing table and one `ip rule` per
 * address (`from <addr> lookup <table>`), both marked with RT_PROTO. Table and rule priority come
 * from a slot derived from the interface name (stable when siblings come and go); a collision
 * inside one pod moves the later name (sorted) to the next free slot. Priorities stay below the
 * main table's rule (32766).
 */
export const POD_TABLE_BASE = 77000;
export const POD_RULE_PRIORITY_BASE = 20000;
export const POD_SLOTS = 4096;
/**
 * The kernel's `0: lookup local` moves here in pods, after our source rules: a pod may hold, on
 * one interface, the very address a peer has in another network it reaches through another
 * interface (overlapping ranges); with local first, its packets to that peer would never leave.
 */
export const POD_LOCAL_RULE_PRIORITY = 32000;
export const LOCAL_TABLE = 255;

/** Slot of each interface name of one pod (deterministic for a given set of names). */
export function podIfSlots(ifnames: readonly string[]): Map<string, number> {
  const used = new Set<number>();
  const out = new Map<string, number>();
  for (const n of [...new Set(ifnames)].sort()) {
    let slot = parseInt(shortHash(['pod-if', n], 8), 16) % POD_SLOTS;
    while (used.has(slot)) slot = (slot + 1) % POD_SLOTS;
    used.add(slot);
    out.set(n, slot);
  }
  return out;
}
