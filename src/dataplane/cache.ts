// What the Reconciler believes the kernel holds for one node between syncs: the routing namespaces
// and node links it last read, updated with the plans it applied without a failure. A non-full sync
// diffs against this instead of re-reading (Felix's approach: trust the cache, resync periodically).
// Only the parts the diff looks at are kept; pod namespaces are never cached (read on demand).
import type { Plan } from './diff.js';
import type { ActualState, FdbState, LinkState, NeighState, NetnsState, RouteState } from './types.js';

interface NsModel {
  links: Map<string, LinkState>;
  /** by `dst|metric`: the kernel replaces a route with the same destination and metric */
  routes: Map<string, RouteState>;
  /** by `dev|addr` */
  neighs: Map<string, NeighState>;
  /** by `dev|mac|dst` */
  fdb: Map<string, FdbState>;
  forwarding: { v4: boolean; v6: boolean };
}

export interface NodeCache {
  nodeLinks: LinkState[];
  readonly routing: Map<string, NsModel>;
}

const rKey = (r: RouteState) => `${r.table ?? ''}|${r.dst}|${r.metric ?? ''}`;
const nKey = (n: Pick<NeighState, 'dev' | 'addr'>) => `${n.dev}|${n.addr}`;
const fKey = (f: FdbState) => `${f.dev}|${f.mac}|${f.dst}`;

function model(s: NetnsState): NsModel {
  return {
    links: new Map(s.links.map((l) => [l.name, l])),
    routes: new Map(s.routes.map((r) => [rKey(r), r])),
    neighs: new Map(s.neighs.map((n) => [nKey(n), n])),
    fdb: new Map(s.fdb.map((f) => [fKey(f), f])),
    forwarding: { ...s.forwarding },
  };
}

export function toCache(a: Pick<ActualState, 'nodeLinks' | 'routing'>): NodeCache {
  return {
    nodeLinks: [...a.nodeLinks],
    routing: new Map(Object.entries(a.routing).map(([ns, s]) => [ns, model(s)])),
  };
}

/** The cache in the shape the diff reads. */
export function cacheView(c: NodeCache): Pick<ActualState, 'nodeLinks' | 'routing'> {
  const routing: Record<string, NetnsState> = {};
  for (const [ns, m] of c.routing)
    routing[ns] = {
      links: [...m.links.values()],
      addrs: [],
      routes: [...m.routes.values()],
      neighs: [...m.neighs.values()],
      fdb: [...m.fdb.values()],
      rules: [],
      forwarding: { ...m.forwarding },
    };
  return { nodeLinks: [...c.nodeLinks], routing };
}

function removeDev(m: NsModel, dev: string): void {
  m.links.delete(dev);
  // The kernel drops a device's routes, neighbours and FDB entries with it.
  for (const [k, r] of m.routes) if (r.dev === dev) m.routes.delete(k);
  for (const [k, n] of m.neighs) if (n.dev === dev) m.neighs.delete(k);
  for (const [k, f] of m.fdb) if (f.dev === dev) m.fdb.delete(k);
}

/**
 * Apply a plan that ran without any failure to the cache. `nodeNs` is the node's namespace (its
 * batches touch only VXLAN devices there). Pod-side ops only matter through the host veths they create.
 */
export function applyPlan(c: NodeCache, plan: Plan, nodeNs: string): void {
  const ns = (name: string): NsModel | undefined => c.routing.get(name);
  for (const b of plan.batches) {
    const here = b.target.kind === 'netns' ? b.target.ref : undefined;
    const m = here !== undefined ? ns(here) : undefined;
    for (const op of b.ops) {
      switch (op.kind) {
        case 'netns-add':
          c.routing.set(
            op.name,
            model({
              links: [],
              addrs: [],
              routes: [],
              neighs: [],
              fdb: [],
              rules: [],
              forwarding: { v4: false, v6: false },
            }),
          );
          break;
        case 'netns-del':
          c.routing.delete(op.name);
          break;
        case 'forwarding': {
          const t = ns(op.ns);
          if (t) t.forwarding = { v4: true, v6: true };
          break;
        }
        case 'vxlan-create': {
          const v = op.vx;
          ns(op.into)?.links.set(v.name, {
            name: v.name,
            kind: 'vxlan',
            mtu: v.mtu,
            up: false,
            mac: v.mac,
            vxlan: { vni: v.vni, port: v.port, local: v.local, learning: false },
          });
          break;
        }
        case 'veth-create':
          ns(op.routingNs)?.links.set(op.hostName, {
            name: op.hostName,
            kind: 'veth',
            mtu: op.mtu,
            up: false,
            mac: op.hostMac,
          });
          break;
        case 'veth-create-host':
          m?.links.set(op.hostName, {
            name: op.hostName,
            kind: 'veth',
            mtu: op.mtu,
            up: false,
            mac: op.hostMac,
          });
          break;
        case 'bridge-create':
          break; // pod side: not cached
        case 'link-del':
          if (here === nodeNs && !m) c.nodeLinks = c.nodeLinks.filter((l) => l.name !== op.dev);
          else if (m) removeDev(m, op.dev);
          // a pod-side delete takes its host peer along; that peer's own delete then fails and drops the cache
          break;
        case 'link-set': {
          const l = m?.links.get(op.dev);
          if (m && l)
            m.links.set(op.dev, {
              ...l,
              ...(op.mtu !== undefined ? { mtu: op.mtu } : {}),
              ...(op.mac !== undefined ? { mac: op.mac } : {}),
              ...(op.alias !== undefined ? { alias: op.alias } : {}),
              ...(op.up ? { up: true } : {}),
            });
          break;
        }
        case 'route-replace':
          m?.routes.set(rKey(op.route), { ...op.route });
          break;
        case 'route-del':
          m?.routes.delete(rKey(op.route));
          break;
        case 'neigh-replace':
          m?.neighs.set(nKey(op.neigh), { ...op.neigh });
          break;
        case 'neigh-del':
          m?.neighs.delete(nKey(op.neigh));
          break;
        case 'fdb-replace':
          if (m) {
            for (const [k, f] of m.fdb) if (f.dev === op.fdb.dev && f.mac === op.fdb.mac) m.fdb.delete(k);
            m.fdb.set(fKey(op.fdb), { ...op.fdb });
          }
          break;
        case 'fdb-del':
          m?.fdb.delete(fKey(op.fdb));
          break;
        case 'addr-add':
        case 'addr-del':
        case 'rule-add':
        case 'rule-del':
        case 'rule-flush':
          break; // pod side only
      }
    }
  }
}
