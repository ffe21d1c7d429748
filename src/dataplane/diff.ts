// The pure heart of the driver: wanted kernel objects + observed kernel state -> the smallest list
// of operations, grouped into one batch per namespace and ordered in phases. No I/O.
import type { WantNode, WantPod, WantVxlan } from './desired.js';
import { HOST_VETH_PREFIX, LOCAL_TABLE, POD_IF_ALIAS, RT_PROTO, VXLAN_PREFIX } from './naming.js';
import type {
  ActualState,
  FdbState,
  LinkState,
  NeighState,
  NetnsState,
  RouteState,
  RuleState,
} from './types.js';

export type Op =
  | { readonly kind: 'netns-add'; readonly name: string }
  | { readonly kind: 'netns-del'; readonly name: string }
  | { readonly kind: 'forwarding'; readonly ns: string }
  /** create a VXLAN device in the node namespace (so its socket binds there) and move it */
  | { readonly kind: 'vxlan-create'; readonly vx: WantVxlan; readonly into: string }
  /** create a veth pair from inside the pod: pod end here, host end directly in the routing ns */
  | {
      readonly kind: 'veth-create';
      readonly ifname: string;
      readonly mac: string;
      readonly mtu: number;
      readonly hostName: string;
      readonly hostMac: string;
      readonly routingNs: string;
    }
  /**
   * the same pair created from the routing namespace, pod end sent to its namespace: many new pods
   * of one network then cost one process for all their veths (iproute2 cannot switch namespaces
   * within a batch, so the pod-side setup still needs one batch per pod)
   */
  | {
      readonly kind: 'veth-create-host';
      readonly hostName: string;
      readonly hostMac: string;
      readonly mtu: number;
      readonly ifname: string;
      readonly mac: string;
      readonly podNetns: string;
      readonly podKey: string;
    }
  /** a memif's visible pod-side link: a bridge without ports (no dummy driver here) */
  | { readonly kind: 'bridge-create'; readonly ifname: string; readonly mac: string; readonly mtu: number }
  | { readonly kind: 'link-del'; readonly dev: string }
  | {
      readonly kind: 'link-set';
      readonly dev: string;
      readonly mtu?: number;
      readonly mac?: string;
      readonly up?: boolean;
      readonly alias?: string;
      /** only apply if the pod batch with this key succeeded (the alias marks completion) */
      readonly afterPod?: string;
    }
  | { readonly kind: 'addr-add' | 'addr-del'; readonly dev: string; readonly cidr: string }
  | { readonly kind: 'route-replace' | 'route-del'; readonly route: RouteState }
  | { readonly kind: 'neigh-replace' | 'neigh-del'; readonly neigh: NeighState }
  | { readonly kind: 'fdb-replace' | 'fdb-del'; readonly fdb: FdbState }
  | { readonly kind: 'rule-add' | 'rule-del'; readonly rule: RuleState }
  /** remove every rule of ours (protocol 77) of one family */
  | { readonly kind: 'rule-flush'; readonly family: 4 | 6 };

/** Where a batch runs. `root` = this process's namespace, only for creating/removing named netns. */
export type BatchTarget = { readonly kind: 'root' } | { readonly kind: 'netns'; readonly ref: string };

export type Tool = 'ip' | 'bridge' | 'sysctl';

export interface Batch {
  /** Phases run in order; batches within one phase are independent (run concurrently). */
  readonly phase: Phase;
  readonly target: BatchTarget;
  readonly tool: Tool;
  readonly ops: readonly Op[];
  /** set for pod batches: later ops with afterPod === podKey depend on its success */
  readonly podKey?: string;
  /**
   * `ip -6 -batch`: iproute2 takes a rule's family from the command line only (`rule add from
   * fd00::1` fails without -6), and a batch line cannot carry options; so IPv6 rules get a batch of their own.
   */
  readonly family?: 6;
}

export enum Phase {
  /**
   * Our devices in routing namespaces about to be removed: deleted explicitly first, because the
   * kernel destroys a deleted namespace's devices asynchronously (a pod's veth end would linger,
   * and a VXLAN device with the same VNI re-created at once would clash with the dying one).
   */
  Teardown = 0,
  Namespaces = 1,
  Node = 2,
  Sysctl = 3,
  /** veth pairs of new pods, created from their routing namespace (see BULK_VETHS) */
  Veths = 4,
  Pods = 5,
  /** IPv6 rules of pods (see Batch.family), after the pod's own batch */
  PodRules6 = 6,
  Routing = 7,
  Fdb = 8,
}

/** Phases in the order they run. */
export const PHASES: readonly Phase[] = [
  Phase.Teardown,
  Phase.Namespaces,
  Phase.Node,
  Phase.Sysctl,
  Phase.Veths,
  Phase.Pods,
  Phase.PodRules6,
  Phase.Routing,
  Phase.Fdb,
];

/**
 * From this many new pods in one routing namespace on, their veths are created in one batch there
 * instead of inside each pod's batch: one more process, less work in the per-pod processes. Below
 * it, a new pod costs exactly one pod batch (plus the routing namespace's batch).
 */
export const BULK_VETHS = 4;

export interface Problem {
  readonly netns: string;
  readonly object: string;
  readonly message: string;
  /** The pod interface concerned, when there is one. */
  readonly podKey?: string;
}

export interface Plan {
  readonly batches: readonly Batch[];
  /** Conditions that need a person (e.g. a foreign interface with our pod's name): not retried. */
  readonly problems: readonly Problem[];
  /** Some work can only happen after this plan ran (e.g. a VXLAN device recreated): sync again. */
  readonly again: boolean;
}

export function countOps(plan: Plan): number {
  return plan.batches.reduce((n, b) => n + b.ops.length, 0);
}

const isOurs = (dev: string) => dev.startsWith(VXLAN_PREFIX) || dev.startsWith(HOST_VETH_PREFIX);
const routeKey = (r: Pick<RouteState, 'dst' | 'metric' | 'table'>) =>
  `${r.table ?? ''}|${r.dst}|${r.metric ?? ''}`;
const ruleKey = (r: RuleState) =>
  `${r.family}|${r.priority}|${r.from ?? 'all'}|${r.iif ?? ''}|${r.table}|${r.kernel ? 'k' : ''}`;
const neighKey = (n: Pick<NeighState, 'dev' | 'addr'>) => `${n.dev}|${n.addr}`;
const sameRoute = (a: RouteState, b: RouteState) =>
  a.dev === b.dev && (a.via ?? '') === (b.via ?? '') && a.metric === b.metric && a.table === b.table;

/** Ops turning the owned routes (proto 77) and permanent neighbours on `devs` into the wanted ones. */
function diffRoutesNeighs(
  actual: NetnsState,
  routes: readonly RouteState[],
  neighs: readonly NeighState[],
  ownsDev: (dev: string) => boolean,
): Op[] {
  const ops: Op[] = [];
  const haveNeigh = new Map(
    actual.neighs.filter((n) => n.permanent && ownsDev(n.dev)).map((n) => [neighKey(n), n]),
  );
  for (const n of neighs) {
    const h = haveNeigh.get(neighKey(n));
    if (!h || h.mac !== n.mac) ops.push({ kind: 'neigh-replace', neigh: n });
    haveNeigh.delete(neighKey(n));
  }
  for (const n of haveNeigh.values()) ops.push({ kind: 'neigh-del', neigh: n });
  const haveRoute = new Map(actual.routes.filter((r) => r.proto === RT_PROTO).map((r) => [routeKey(r), r]));
  for (const r of routes) {
    const h = haveRoute.get(routeKey(r));
    if (!h || !sameRoute(h, r)) ops.push({ kind: 'route-replace', route: r });
    haveRoute.delete(routeKey(r));
  }
  for (const r of haveRoute.values()) ops.push({ kind: 'route-del', route: r });
  return ops;
}

function linkSet(have: LinkState, want: { mtu: number; mac: string }, name: string): Op[] {
  const change: { mtu?: number; mac?: string; up?: boolean } = {};
  if (have.mtu !== want.mtu) change.mtu = want.mtu;
  if (have.mac !== want.mac) change.mac = want.mac;
  if (!have.up) change.up = true;
  return Object.keys(change).length ? [{ kind: 'link-set', dev: name, ...change }] : [];
}

const EMPTY: NetnsState = {
  links: [],
  addrs: [],
  routes: [],
  neighs: [],
  fdb: [],
  rules: [],
  forwarding: { v4: false, v6: false },
};

function vxlanMatches(h: LinkState, w: WantVxlan): boolean {
  return (
    h.kind === 'vxlan' &&
    h.vxlan?.vni === w.vni &&
    h.vxlan.port === w.port &&
    h.vxlan.local === w.local &&
    !h.vxlan.learning
  );
}

interface PodOutcome {
  readonly ops: Op[];
  readonly problem?: Problem;
  /** the pod-side setup is already complete */
  readonly done: boolean;
}

function diffPod(
  w: WantPod,
  hostVeth: LinkState | undefined,
  actual: NetnsState | 'missing' | undefined,
  full: boolean,
): PodOutcome {
  if (hostVeth && hostVeth.alias === `mn:${w.hash}` && !full && actual === undefined)
    return { ops: [], done: true };
  if (actual === 'missing')
    return {
      ops: [],
      done: false,
      problem: {
        netns: w.netns,
        object: `pod interface ${w.ifname}`,
        message: 'pod network namespace does not exist',
      },
    };
  const p = actual ?? EMPTY;
  const ops: Op[] = [];
  const link = p.links.find((l) => l.name === w.ifname);
  let fresh = false;
  const podKind = w.memif ? 'bridge' : 'veth';
  if (link && !(link.kind === podKind && link.alias === POD_IF_ALIAS)) {
    return {
      ops: [],
      done: false,
      problem: {
        netns: w.netns,
        object: `interface ${w.ifname}`,
        message: 'exists in the pod and is not ours; left untouched',
      },
    };
  }
  if (w.memif) {
    // The TAP is the forwarder's: until it exists there is nothing to route to (the agent asks
    // the forwarder first; the next sync finds it).
    if (!hostVeth)
      return {
        ops: [],
        done: false,
        problem: {
          netns: w.routingNs,
          object: `memif TAP ${w.hostName}`,
          message: 'not created by the memif forwarder (yet)',
        },
      };
    if (!link) {
      ops.push({ kind: 'bridge-create', ifname: w.ifname, mac: w.mac, mtu: w.mtu });
      ops.push({ kind: 'link-set', dev: w.ifname, up: true, alias: POD_IF_ALIAS });
      fresh = true;
    } else ops.push(...linkSet(link, w, w.ifname));
  } else if (link && !hostVeth) {
    // Ours but its peer is not in this network's routing namespace (the pod moved network): recreate.
    ops.push({ kind: 'link-del', dev: w.ifname });
  }
  if (w.memif) {
    // done above
  } else if (!link || !hostVeth) {
    ops.push({
      kind: 'veth-create',
      ifname: w.ifname,
      mac: w.mac,
      mtu: w.mtu,
      hostName: w.hostName,
      hostMac: w.hostMac,
      routingNs: w.routingNs,
    });
    ops.push({ kind: 'link-set', dev: w.ifname, up: true, alias: POD_IF_ALIAS });
    fresh = true;
  } else {
    ops.push(...linkSet(link, w, w.ifname));
  }
  const mine = (dev: string) => dev === w.ifname;
  const cur: NetnsState = fresh ? EMPTY : p;
  const haveAddrs = new Set(
    cur.addrs.filter((a) => mine(a.dev) && !a.cidr.startsWith('fe80:')).map((a) => a.cidr),
  );
  for (const a of w.addrs) {
    if (!haveAddrs.has(a)) ops.push({ kind: 'addr-add', dev: w.ifname, cidr: a });
    haveAddrs.delete(a);
  }
  for (const a of haveAddrs) ops.push({ kind: 'addr-del', dev: w.ifname, cidr: a });
  // Owned routes in the pod: proto 77 on this interface only (other interfaces have their own).
  const scoped: NetnsState = { ...cur, routes: cur.routes.filter((r) => mine(r.dev)) };
  ops.push(...diffRoutesNeighs(scoped, w.routes, w.neighs, mine));
  if (w.ownsRules) ops.push(...diffRules(w.podRules, actual === undefined ? undefined : p.rules));
  return { ops, done: false };
}

/**
 * The pod's rules (ours, and the kernel's `0: lookup local`, which ours replaces). Unknown state
 * (the pod was not read: a new interface) is handled without a read: flush ours, add the wanted
 * ones, remove the kernel's local rule (in a pod that had it removed before, that last step fails
 * and the next pass reads the pod). IPv6 is touched only when the pod wants IPv6 rules (a -6
 * batch is one more process per new pod); stale IPv6 rules of a pod that went IPv4-only are
 * removed at its next read.
 */
function diffRules(want: readonly RuleState[], have: readonly RuleState[] | undefined): Op[] {
  const ops: Op[] = [];
  const fams = new Set(want.map((r) => r.family));
  if (have === undefined) {
    for (const f of fams) ops.push({ kind: 'rule-flush', family: f });
    for (const r of want) ops.push({ kind: 'rule-add', rule: r });
    for (const f of fams) ops.push({ kind: 'rule-del', rule: kernelLocalRule(f) });
    return ops;
  }
  const haveRules = new Map(have.map((r) => [ruleKey(r), r]));
  for (const r of want) if (!haveRules.delete(ruleKey(r))) ops.push({ kind: 'rule-add', rule: r });
  for (const r of haveRules.values()) {
    // the kernel's local rule goes only where ours replaces it
    if (r.kernel && !fams.has(r.family)) continue;
    ops.push({ kind: 'rule-del', rule: r });
  }
  return ops;
}

export const kernelLocalRule = (family: 4 | 6): RuleState => ({
  family,
  priority: 0,
  table: LOCAL_TABLE,
  kernel: true,
});

const isRule6 = (o: Op): boolean =>
  o.kind === 'rule-flush'
    ? o.family === 6
    : (o.kind === 'rule-add' || o.kind === 'rule-del') && o.rule.family === 6;

/**
 * desired (expanded) + actual -> plan. `full` ignores the completion marks on host veths and
 * reconciles every pod that was read.
 */
export function diff(
  want: WantNode,
  actual: ActualState,
  opts: { full?: boolean; bulkVeths?: number } = {},
): Plan {
  const bulkMin = opts.bulkVeths ?? BULK_VETHS;
  const batches: Batch[] = [];
  const problems: Problem[] = [];
  let again = false;
  const rootOps: Op[] = [];
  const nodeOps: Op[] = [];
  const wantNs = new Set(want.routing.map((r) => r.ns));

  for (const ns of Object.keys(actual.routing).sort()) {
    if (wantNs.has(ns)) continue;
    const doomed = actual.routing[ns]!.links.filter((l) => isOurs(l.name));
    if (doomed.length)
      batches.push({
        phase: Phase.Teardown,
        target: { kind: 'netns', ref: ns },
        tool: 'ip',
        ops: doomed.map((l) => ({ kind: 'link-del', dev: l.name })),
      });
    rootOps.push({ kind: 'netns-del', name: ns });
  }
  for (const l of actual.nodeLinks)
    if (l.name.startsWith(VXLAN_PREFIX)) nodeOps.push({ kind: 'link-del', dev: l.name });

  const podByKey = new Map(want.pods.map((p) => [p.key, p]));
  for (const r of want.routing) {
    const have = actual.routing[r.ns];
    const a = have ?? EMPTY;
    if (!have) rootOps.push({ kind: 'netns-add', name: r.ns });
    if (!a.forwarding.v4 || !a.forwarding.v6)
      batches.push({
        phase: Phase.Sysctl,
        target: { kind: 'netns', ref: r.ns },
        tool: 'sysctl',
        ops: [{ kind: 'forwarding', ns: r.ns }],
      });

    const ops: Op[] = [];
    const links = new Map(a.links.map((l) => [l.name, l]));
    const wantHost = new Map(r.hostVeths.map((h) => [h.name, h]));
    // Removed pods and stale devices: deleting the host end removes the pod end too.
    for (const l of a.links)
      if (isOurs(l.name) && l.name !== r.vxlan.name && !wantHost.has(l.name))
        ops.push({ kind: 'link-del', dev: l.name });

    const vx = links.get(r.vxlan.name);
    if (vx && !vxlanMatches(vx, r.vxlan)) {
      ops.push({ kind: 'link-del', dev: r.vxlan.name });
      again = true; // recreated next pass: the node-side create would clash with the old name now
    } else if (!vx) {
      nodeOps.push({ kind: 'vxlan-create', vx: r.vxlan, into: r.ns });
      ops.push({ kind: 'link-set', dev: r.vxlan.name, up: true, alias: r.vxlan.alias });
    } else {
      ops.push(...linkSet(vx, r.vxlan, r.vxlan.name));
      if (vx.alias !== r.vxlan.alias) ops.push({ kind: 'link-set', dev: r.vxlan.name, alias: r.vxlan.alias });
    }

    const pendingAliases: Op[] = [];
    const podBatches: Batch[] = [];
    for (const h of r.hostVeths) {
      const w = podByKey.get(h.podKey);
      if (!w) continue;
      const hv = links.get(h.name);
      const out = diffPod(w, hv, actual.pods[w.key], opts.full ?? false);
      if (out.problem) {
        problems.push({ ...out.problem, podKey: w.key });
        continue;
      }
      if (hv && hv.kind !== (h.tap ? 'tun' : 'veth')) {
        problems.push({
          netns: r.ns,
          object: `link ${h.name}`,
          message: `has our name but is not a ${h.tap ? 'TAP' : 'veth'}`,
          podKey: w.key,
        });
        continue;
      }
      const ops4 = out.ops.filter((o) => !isRule6(o));
      const ops6 = out.ops.filter(isRule6);
      if (ops4.length)
        podBatches.push({
          phase: Phase.Pods,
          target: { kind: 'netns', ref: w.netns },
          tool: 'ip',
          ops: ops4,
          podKey: w.key,
        });
      if (ops6.length)
        batches.push({
          phase: Phase.PodRules6,
          target: { kind: 'netns', ref: w.netns },
          tool: 'ip',
          family: 6,
          ops: ops6,
          podKey: w.key,
        });
      const created = out.ops.some((o) => o.kind === 'veth-create');
      if (hv && !created) ops.push(...linkSet(hv, h, h.name));
      else ops.push({ kind: 'link-set', dev: h.name, up: true, afterPod: w.key });
      if (hv?.alias !== h.alias || created)
        pendingAliases.push({ kind: 'link-set', dev: h.name, alias: h.alias, afterPod: w.key });
    }
    // Many brand-new pods: their veths are created by one batch in the routing namespace instead.
    const fresh = podBatches.filter((b) => b.ops[0]?.kind === 'veth-create').length;
    if (fresh >= bulkMin) {
      const vethOps: Op[] = [];
      for (const b of podBatches) {
        const c = b.ops[0];
        if (c?.kind === 'veth-create' && b.target.kind === 'netns' && b.podKey) {
          vethOps.push({
            kind: 'veth-create-host',
            hostName: c.hostName,
            hostMac: c.hostMac,
            mtu: c.mtu,
            ifname: c.ifname,
            mac: c.mac,
            podNetns: b.target.ref,
            podKey: b.podKey,
          });
          batches.push({ ...b, ops: b.ops.slice(1) });
        } else batches.push(b);
      }
      batches.push({ phase: Phase.Veths, target: { kind: 'netns', ref: r.ns }, tool: 'ip', ops: vethOps });
    } else batches.push(...podBatches);
    ops.push(...diffRoutesNeighs(a, r.routes, r.neighs, isOurs));
    ops.push(...pendingAliases);
    if (ops.length)
      batches.push({ phase: Phase.Routing, target: { kind: 'netns', ref: r.ns }, tool: 'ip', ops });

    const fdbOps: Op[] = [];
    const haveFdb = new Map(a.fdb.filter((f) => f.dev === r.vxlan.name).map((f) => [f.mac, f]));
    for (const f of r.fdb) {
      const h = haveFdb.get(f.mac);
      if (h && h.dst !== f.dst) fdbOps.push({ kind: 'fdb-del', fdb: h });
      if (!h || h.dst !== f.dst) fdbOps.push({ kind: 'fdb-replace', fdb: f });
      haveFdb.delete(f.mac);
    }
    for (const f of haveFdb.values()) fdbOps.push({ kind: 'fdb-del', fdb: f });
    if (fdbOps.length)
      batches.push({ phase: Phase.Fdb, target: { kind: 'netns', ref: r.ns }, tool: 'bridge', ops: fdbOps });
  }
  if (rootOps.length)
    batches.push({ phase: Phase.Namespaces, target: { kind: 'root' }, tool: 'ip', ops: rootOps });
  if (nodeOps.length)
    batches.push({ phase: Phase.Node, target: { kind: 'netns', ref: want.netns }, tool: 'ip', ops: nodeOps });
  batches.sort((x, y) => x.phase - y.phase);
  return { batches, problems, again };
}
