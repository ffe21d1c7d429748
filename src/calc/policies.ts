// Network-aware policies -> the `mnpol` nft table of each network's routing domain on one node. Pure.
//
// Layout (family inet), chosen so that pods and labels only ever change set ELEMENTS, and only a
// policy change rewrites the skeleton:
//   chain egress  (forward hook, priority filter):     ct established,related accept; iifname vmap @from_pod
//   chain ingress (forward hook, priority filter + 1): ct established,related accept; oifname vmap @to_pod
//   @from_pod / @to_pod: host veth of each policed local interface -> goto pod-egress / pod-ingress
//   chain pod-egress: for each policy in order: iifname @e-<pol> jump pe-<pol>; then drop (default deny)
//   chain pe-<pol>: the policy's rules for this network; Allow/Pass = accept, Deny = drop, Log = log
// Two base chains on one hook: `accept` ends only its own base chain, so a packet between two local
// pods passes the sender's egress, then the receiver's ingress. Selector rules match named address
// sets (`ip saddr @a4-<hash>`), one per distinct (selector, namespace scope); named ports are sets of
// `addr . proto . port`; interface membership of a policy is a set of interface names.
import { parseIp } from '../api/cidr.js';
import type { Cidr } from '../api/cidr.js';
import type { PortMatch } from '../api/types.js';
import type { NftTableSpec } from '../dataplane/nft-types.js';
import { hostVethName } from '../dataplane/naming.js';
import { shortHash } from '../util/names.js';
import type { ClusterView } from './node-state.js';
import type { AttachmentRecord } from './records.js';
import {
  DEFAULT_NETWORK,
  normalise,
  policyOrder,
  type NEntity,
  type NPolicy,
  type NRule,
  type PodFacts,
  type PodSet,
} from './policy-model.js';

export { DEFAULT_NETWORK } from './policy-model.js';

export const POLICY_TABLE = 'mnpol';

type Family = 4 | 6;

/** As `nft list` prints them, so that elements read back compare equal. */
const PROTO_NAME: Record<number, string> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };
type Dir = 'ingress' | 'egress';

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Pod facts by `namespace/name`, from the view's typed pods. */
export function podFacts(view: ClusterView): Map<string, PodFacts> {
  const out = new Map<string, PodFacts>();
  for (const p of view.pods ?? []) {
    const ns = p.metadata.namespace ?? 'default';
    const named = new Map<string, { proto: number; port: number }[]>();
    for (const c of p.spec.containers)
      for (const cp of c.ports) {
        if (!cp.name) continue;
        const list = named.get(cp.name) ?? [];
        list.push({
          proto: cp.protocol === 'UDP' ? 17 : cp.protocol === 'SCTP' ? 132 : 6,
          port: cp.containerPort,
        });
        named.set(cp.name, list);
      }
    const nsLabels = view.namespaceLabels?.get(ns);
    out.set(`${ns}/${p.metadata.name}`, {
      namespace: ns,
      name: p.metadata.name,
      labels: p.metadata.labels,
      ...(nsLabels ? { namespaceLabels: nsLabels } : {}),
      namedPorts: named,
    });
  }
  return out;
}

/** Facts of an attachment's pod; a pod not (yet) in the view has no labels and no named ports. */
export function factsOf(facts: Map<string, PodFacts>, a: AttachmentRecord): PodFacts {
  return (
    facts.get(`${a.podNamespace}/${a.podName}`) ?? {
      namespace: a.podNamespace,
      name: a.podName,
      labels: {},
      namedPorts: new Map(),
    }
  );
}

function familyOf(ip: string): Family | undefined {
  const p = parseIp(ip.split('/')[0] ?? '');
  return p.ok ? p.value.family : undefined;
}

/** The normalised policies, in evaluation order. */
export function orderedPolicies(view: ClusterView): NPolicy[] {
  return (view.policies ?? []).map(normalise).sort(policyOrder);
}

/** Policies that can act on interfaces of `network` (Kubernetes ones only on the default network). */
function policiesFor(all: readonly NPolicy[], network: string): NPolicy[] {
  return all.filter((p) => p.kind !== 'KubernetesNetworkPolicy' || network === DEFAULT_NETWORK);
}

/**
 * The host-side names of `node`'s interfaces that some policy selects (in either direction). Traffic
 * between two interfaces outside this set is allowed by every policy (Calico: an endpoint no policy
 * selects is not policed), which is what lets memifs skip nft on the forwarder's direct path.
 */
export function policySelectedInterfaces(view: ClusterView, node: string): ReadonlySet<string> {
  const all = orderedPolicies(view);
  const out = new Set<string>();
  if (all.length === 0) return out;
  const facts = podFacts(view);
  for (const a of view.attachments) {
    if (a.node !== node || !view.networks.has(a.network)) continue;
    const pod = factsOf(facts, a);
    if (policiesFor(all, a.network).some((p) => p.selects(pod)))
      out.add(hostVethName({ network: a.network, netns: a.netns, ifname: a.ifName }));
  }
  return out;
}

/** Per network with a local interface on `node`: its policy table (absent: no policy to enforce). */
export function policyTables(view: ClusterView, node: string): ReadonlyMap<string, NftTableSpec> {
  const all = orderedPolicies(view);
  const out = new Map<string, NftTableSpec>();
  if (all.length === 0) return out;
  const facts = podFacts(view);
  const byNet = new Map<string, AttachmentRecord[]>();
  for (const a of view.attachments) {
    if (!view.networks.has(a.network)) continue;
    const l = byNet.get(a.network) ?? [];
    l.push(a);
    byNet.set(a.network, l);
  }
  for (const [network, atts] of [...byNet].sort((x, y) => byString(x[0], y[0]))) {
    if (!atts.some((a) => a.node === node)) continue;
    const policies = policiesFor(all, network);
    if (policies.length === 0) continue;
    const info = view.networks.get(network)!;
    const fams = new Set<Family>();
    for (const r of info.ranges) {
      const f = familyOf(r);
      if (f) fams.add(f);
    }
    if (fams.size === 0) fams.add(4);
    out.set(network, renderTable(network, [...fams].sort(), policies, atts, node, facts));
  }
  return out;
}

/** Set declarations and their elements, filled while rendering rules. */
class Sets {
  readonly decls = new Map<string, string>();
  readonly elements = new Map<string, Set<string>>();
  declare(name: string, type: string): void {
    if (!this.decls.has(name)) {
      this.decls.set(name, `set ${name} { type ${type}; }`);
      this.elements.set(name, new Set());
    }
  }
  declareMap(name: string, type: string): void {
    this.decls.set(name, `map ${name} { type ${type}; }`);
    this.elements.set(name, new Set());
  }
  /** Adds to a declared set; a set not declared (no rule needs it in that family) is skipped. */
  add(name: string, el: string): void {
    this.elements.get(name)?.add(el);
  }
}

const addrType = (f: Family): string => (f === 4 ? 'ipv4_addr' : 'ipv6_addr');
const ipKw = (f: Family): string => (f === 4 ? 'ip' : 'ip6');
const quote = (s: string): string => `"${s}"`;
export const policyChain = (p: NPolicy, dir: Dir): string =>
  `${dir === 'ingress' ? 'pi' : 'pe'}-${shortHash([p.id], 12)}`;
export const policyIfSet = (p: NPolicy, dir: Dir): string =>
  `${dir === 'ingress' ? 'i' : 'e'}-${shortHash([p.id], 12)}`;
const podSetName = (s: PodSet, f: Family): string => `a${f}-${shortHash([s.key], 12)}`;
const namedPortSet = (name: string, f: Family): string => `n${f}-${shortHash([name], 12)}`;

function renderTable(
  network: string,
  families: readonly Family[],
  policies: readonly NPolicy[],
  atts: readonly AttachmentRecord[],
  node: string,
  facts: Map<string, PodFacts>,
): NftTableSpec {
  const sets = new Sets();
  sets.declareMap('from_pod', 'ifname : verdict');
  sets.declareMap('to_pod', 'ifname : verdict');
  const podSets = new Map<string, PodSet>();
  const namedPorts = new Set<string>();
  const ctx: RuleCtx = { sets, podSets, namedPorts };

  const chains: string[] = [];
  const dispatch: Record<Dir, string[]> = { ingress: [], egress: [] };
  for (const p of policies) {
    for (const dir of ['ingress', 'egress'] as const) {
      const rules = p[dir];
      if (!rules) continue;
      const ifSet = policyIfSet(p, dir);
      sets.declare(ifSet, 'ifname');
      const body: string[] = [];
      for (const r of rules) if (r.network === network) body.push(...renderRule(r, families, ctx, p));
      chains.push(chain(policyChain(p, dir), body));
      dispatch[dir].push(
        `${dir === 'ingress' ? 'oifname' : 'iifname'} @${ifSet} jump ${policyChain(p, dir)}`,
      );
    }
  }
  // Default deny once any policy selected the interface for that direction.
  chains.push(chain('pod-egress', [...dispatch.egress, 'drop']));
  chains.push(chain('pod-ingress', [...dispatch.ingress, 'drop']));
  chains.push(
    chain('egress', [
      'type filter hook forward priority filter; policy accept;',
      'ct state established,related accept',
      'iifname vmap @from_pod',
    ]),
    chain('ingress', [
      'type filter hook forward priority filter + 1; policy accept;',
      'ct state established,related accept',
      'oifname vmap @to_pod',
    ]),
  );

  // Elements: which local interfaces each policy selects; pod addresses per selector; named ports.
  for (const a of atts) {
    const pod = factsOf(facts, a);
    if (a.node === node) {
      const veth = hostVethName({ network: a.network, netns: a.netns, ifname: a.ifName });
      for (const p of policies) {
        if (!p.selects(pod)) continue;
        for (const dir of ['ingress', 'egress'] as const) {
          if (!p[dir]) continue;
          // Unquoted: our veth names are [a-z0-9], and this is how `nft -j` reads them back.
          sets.add(policyIfSet(p, dir), veth);
          sets.add(dir === 'ingress' ? 'to_pod' : 'from_pod', `${veth} : goto pod-${dir}`);
        }
      }
    }
    for (const ip of a.ips) {
      const f = familyOf(ip);
      if (!f || !families.includes(f)) continue;
      for (const s of podSets.values()) if (s.matches(pod)) sets.add(podSetName(s, f), ip);
      for (const name of namedPorts)
        for (const np of pod.namedPorts.get(name) ?? [])
          sets.add(namedPortSet(name, f), `${ip} . ${PROTO_NAME[np.proto] ?? np.proto} . ${np.port}`);
    }
  }

  const skeleton = [...[...sets.decls.values()], ...chains].join('\n');
  const elements: Record<string, string[]> = {};
  for (const [name, els] of [...sets.elements].sort((x, y) => byString(x[0], y[0])))
    elements[name] = [...els].sort(byString);
  return { family: 'inet', name: POLICY_TABLE, skeleton, elements };
}

function chain(name: string, lines: readonly string[]): string {
  return `chain ${name} {\n${lines.map((l) => `  ${l}\n`).join('')}}`;
}

interface RuleCtx {
  readonly sets: Sets;
  readonly podSets: Map<string, PodSet>;
  readonly namedPorts: Set<string>;
}

function usesAddresses(e: NEntity): boolean {
  return (
    !!e.pods ||
    !!e.notPods ||
    e.nets.length > 0 ||
    e.notNets.length > 0 ||
    [...e.ports, ...e.notPorts].some((p) => p.kind === 'named')
  );
}

const portText = (p: Extract<PortMatch, { kind: 'range' }>): string =>
  p.min === p.max ? String(p.min) : `${p.min}-${p.max}`;
const anon = (xs: readonly string[]): string => (xs.length === 1 ? xs[0]! : `{ ${xs.join(', ')} }`);

/**
 * The nft rules of one Calico rule in one network: one per address family it can match in, and one
 * per alternative of its ports (numbers, or each named port) since nft rules AND their matches.
 */
function renderRule(r: NRule, families: readonly Family[], ctx: RuleCtx, p: NPolicy): string[] {
  const verdict =
    r.action === 'Deny'
      ? 'drop'
      : r.action === 'Log'
        ? `log prefix ${quote(`mnpol ${p.name.slice(0, 20)}: `)}`
        : 'accept';
  const proto: string[] = [];
  if (r.protocol !== undefined) proto.push(`meta l4proto ${r.protocol}`);
  if (r.notProtocol !== undefined) proto.push(`meta l4proto != ${r.notProtocol}`);
  const famAgnostic = !usesAddresses(r.src) && !usesAddresses(r.dst) && r.icmp === undefined;
  const out: string[] = [];
  const fams: (Family | undefined)[] =
    famAgnostic && r.ipVersion === undefined
      ? [undefined]
      : families.filter((f) => r.ipVersion === undefined || r.ipVersion === f);
  for (const f of fams) {
    const fam = f ?? 4;
    const head = [...(f !== undefined && famAgnostic ? [`meta nfproto ipv${f}`] : []), ...proto];
    const src = entity(r.src, 'saddr', 'sport', fam, ctx);
    const dst = entity(r.dst, 'daddr', 'dport', fam, ctx);
    if (!src || !dst) continue; // cannot match in this family (e.g. only IPv6 nets)
    const icmp: string[] = [];
    if (r.icmp?.type !== undefined) icmp.push(`${fam === 4 ? 'icmp' : 'icmpv6'} type ${r.icmp.type}`);
    if (r.icmp?.code !== undefined) icmp.push(`${fam === 4 ? 'icmp' : 'icmpv6'} code ${r.icmp.code}`);
    for (const s of src) for (const d of dst) out.push([...head, ...s, ...d, ...icmp, verdict].join(' '));
  }
  return out;
}

/**
 * Match alternatives of one side (each a list of ANDed expressions); undefined when the side
 * cannot match in family `f`.
 */
function entity(
  e: NEntity,
  addr: 'saddr' | 'daddr',
  port: 'sport' | 'dport',
  f: Family,
  ctx: RuleCtx,
): string[][] | undefined {
  const ip = ipKw(f);
  const base: string[] = [];
  if (e.pods) base.push(`${ip} ${addr} @${podSet(e.pods, f, ctx)}`);
  if (e.notPods) base.push(`${ip} ${addr} != @${podSet(e.notPods, f, ctx)}`);
  if (e.nets.length > 0) {
    const nets = e.nets.filter((c: Cidr) => c.family === f).map((c) => c.text);
    if (nets.length === 0) return undefined;
    base.push(`${ip} ${addr} ${anon(nets)}`);
  }
  const notNets = e.notNets.filter((c) => c.family === f).map((c) => c.text);
  if (notNets.length > 0) base.push(`${ip} ${addr} != ${anon(notNets)}`);
  const notNum = e.notPorts.filter((x) => x.kind === 'range').map(portText);
  if (notNum.length > 0) base.push(`th ${port} != ${anon(notNum)}`);
  for (const x of e.notPorts)
    if (x.kind === 'named')
      base.push(`${ip} ${addr} . meta l4proto . th ${port} != @${namedSet(x.name, f, ctx)}`);
  if (e.ports.length === 0) return [base];
  const alts: string[][] = [];
  const num = e.ports.filter((x) => x.kind === 'range').map(portText);
  if (num.length > 0) alts.push([...base, `th ${port} ${anon(num)}`]);
  for (const x of e.ports)
    if (x.kind === 'named')
      alts.push([...base, `${ip} ${addr} . meta l4proto . th ${port} @${namedSet(x.name, f, ctx)}`]);
  return alts;
}

function podSet(s: PodSet, f: Family, ctx: RuleCtx): string {
  ctx.podSets.set(s.key, s);
  const name = podSetName(s, f);
  ctx.sets.declare(name, addrType(f));
  return name;
}

function namedSet(name: string, f: Family, ctx: RuleCtx): string {
  ctx.namedPorts.add(name);
  const set = namedPortSet(name, f);
  ctx.sets.declare(set, `${addrType(f)} . inet_proto . inet_service`);
  return set;
}

/** One policed pod interface, for `lab get policies -o wide`. */
export interface PolicyBinding {
  /** `Kind/namespace/name` of the policy. */
  readonly policy: string;
  readonly network: string;
  readonly pod: string;
  readonly ifName: string;
  readonly node: string;
  readonly directions: readonly Dir[];
}

/** Which pod interfaces (all nodes) each policy applies to, per network. */
export function policyBindings(view: ClusterView): PolicyBinding[] {
  const all = orderedPolicies(view);
  const facts = podFacts(view);
  const out: PolicyBinding[] = [];
  const atts = [...view.attachments].filter((a) => view.networks.has(a.network));
  for (const p of all)
    for (const a of atts) {
      if (p.kind === 'KubernetesNetworkPolicy' && a.network !== DEFAULT_NETWORK) continue;
      if (!p.selects(factsOf(facts, a))) continue;
      const directions = (['ingress', 'egress'] as const).filter((d) => p[d] !== undefined);
      out.push({
        policy: p.id,
        network: a.network,
        pod: `${a.podNamespace}/${a.podName}`,
        ifName: a.ifName,
        node: a.node,
        directions,
      });
    }
  return out.sort((x, y) =>
    byString(
      `${x.policy}|${x.network}|${x.pod}|${x.ifName}`,
      `${y.policy}|${y.network}|${y.pod}|${y.ifName}`,
    ),
  );
}
