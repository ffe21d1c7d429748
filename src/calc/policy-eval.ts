// What the policies say about one connection attempt, evaluated on the model (no kernel): used by
// `lab check` to expect the connectivity that networks AND policies promise.
import { cidrContainsIp } from '../api/cidr.js';
import type { PortMatch } from '../api/types.js';
import type { ClusterView } from './node-state.js';
import type { AttachmentRecord } from './records.js';
import type { NEntity, NPolicy, NRule, PodFacts } from './policy-model.js';
import { DEFAULT_NETWORK } from './policy-model.js';
import { factsOf, orderedPolicies, podFacts } from './policies.js';

export interface Probe {
  /** IP protocol number (1 = ICMP, 6 = TCP, 17 = UDP). */
  readonly proto: number;
  readonly port?: number;
}

export interface Side {
  readonly att: AttachmentRecord;
  readonly ip: string;
}

type Dir = 'ingress' | 'egress';

function portMatches(
  list: readonly PortMatch[],
  port: number | undefined,
  proto: number,
  facts: PodFacts,
): boolean {
  return list.some((m) => {
    if (port === undefined) return false;
    if (m.kind === 'range') return port >= m.min && port <= m.max;
    return (facts.namedPorts.get(m.name) ?? []).some((p) => p.port === port && p.proto === proto);
  });
}

function entityMatches(e: NEntity, peer: PodFacts, ip: string, probe: Probe, portOwner: PodFacts): boolean {
  if (e.pods && !e.pods.matches(peer)) return false;
  if (e.notPods && e.notPods.matches(peer)) return false;
  if (e.nets.length && !e.nets.some((c) => cidrContainsIp(c, ip))) return false;
  if (e.notNets.some((c) => cidrContainsIp(c, ip))) return false;
  if (e.ports.length && !portMatches(e.ports, probe.port, probe.proto, portOwner)) return false;
  if (e.notPorts.length && portMatches(e.notPorts, probe.port, probe.proto, portOwner)) return false;
  return true;
}

/** One end of the connection: its interface, its address, and what selectors see of its pod. */
interface Party extends Side {
  readonly facts: PodFacts;
}

function ruleMatches(r: NRule, dir: Dir, self: Party, peer: Party, probe: Probe): boolean {
  if (r.network !== self.att.network) return false;
  if (r.ipVersion && r.ipVersion !== (self.ip.includes(':') ? 6 : 4)) return false;
  if (r.protocol !== undefined && r.protocol !== probe.proto) return false;
  if (r.notProtocol !== undefined && r.notProtocol === probe.proto) return false;
  if (r.icmp?.type !== undefined && (probe.proto !== 1 || r.icmp.type !== 8)) return false;
  // Ingress: the peer is the source, we are the destination; egress the other way round.
  const [src, dst] = dir === 'ingress' ? [peer, self] : [self, peer];
  // Port matches are on the destination port; named ports resolve on the destination pod.
  return (
    entityMatches(r.src, src.facts, src.ip, { proto: probe.proto }, dst.facts) &&
    entityMatches(r.dst, dst.facts, dst.ip, probe, dst.facts)
  );
}

/** Allowed in one direction at one interface? No policy selecting it in that direction = allowed. */
function allowedAt(policies: readonly NPolicy[], dir: Dir, self: Party, peer: Party, probe: Probe): boolean {
  const applicable = policies.filter(
    (p) =>
      p[dir] !== undefined &&
      p.selects(self.facts) &&
      (p.kind !== 'KubernetesNetworkPolicy' || self.att.network === DEFAULT_NETWORK),
  );
  if (applicable.length === 0) return true;
  for (const p of applicable) {
    for (const r of p[dir]!) {
      if (!ruleMatches(r, dir, self, peer, probe)) continue;
      if (r.action === 'Allow' || r.action === 'Pass') return true;
      if (r.action === 'Deny') return false;
    }
  }
  return false;
}

/**
 * Whether policies let one side open `probe` to the other (both in the same network). Policies
 * and pod facts are derived once per view, then each question is cheap.
 */
export function policyEvaluator(view: ClusterView): (from: Side, to: Side, probe: Probe) => boolean {
  const policies = orderedPolicies(view);
  if (policies.length === 0) return () => true;
  const facts = podFacts(view);
  return (from, to, probe) => {
    const f: Party = { ...from, facts: factsOf(facts, from.att) };
    const t: Party = { ...to, facts: factsOf(facts, to.att) };
    return allowedAt(policies, 'egress', f, t, probe) && allowedAt(policies, 'ingress', t, f, probe);
  };
}
