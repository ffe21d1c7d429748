// An in-memory kernel with the semantics the driver relies on (veth pairs die together, a
// namespace takes its devices with it, routes need their device, deletes of missing objects
// fail), so the shared contract suite can run without root. It can be told to fail.
import { kernelLocalRule, type Batch, type Op } from './diff.js';
import { Reconciler, type BatchFailure, type KernelIO } from './reconcile.js';
import type {
  AddrState,
  FdbState,
  LinkState,
  NeighState,
  NetnsState,
  RouteState,
  RuleState,
} from './types.js';

export interface FakeNs {
  links: LinkState[];
  addrs: AddrState[];
  routes: RouteState[];
  neighs: NeighState[];
  fdb: FdbState[];
  rules: RuleState[];
  forwarding: { v4: boolean; v6: boolean };
}

interface Peer {
  ns: string;
  dev: string;
}

const emptyNs = (): FakeNs => ({
  links: [{ name: 'lo', kind: 'loopback', mtu: 65536, up: false, mac: '00:00:00:00:00:00' }],
  addrs: [],
  routes: [],
  neighs: [],
  fdb: [],
  // what a new namespace has: the kernel's local rule first (main and default are not modelled)
  rules: [kernelLocalRule(4), kernelLocalRule(6)],
  forwarding: { v4: false, v6: false },
});

const sameRule = (a: RuleState, b: RuleState): boolean =>
  a.family === b.family &&
  a.priority === b.priority &&
  a.from === b.from &&
  a.iif === b.iif &&
  a.table === b.table;

export class FakeKernel implements KernelIO {
  readonly namespaces = new Map<string, FakeNs>();
  /** veth peers: `${ns}|${dev}` -> other end */
  private readonly peers = new Map<string, Peer>();
  /** Return true to make that op fail (as `ip -force -batch` would report it). */
  failWhen: ((op: Op, netns: string) => boolean) | undefined;
  /** Processes the Linux driver would have spawned for the same calls (one per read or batch). */
  processes = 0;
  /** Ops applied successfully, for tests. */
  applied = 0;

  constructor() {
    this.namespaces.set('host', emptyNs());
  }

  addNamespace(ref: string): FakeNs {
    const ns = emptyNs();
    this.namespaces.set(ref, ns);
    return ns;
  }

  ns(ref: string): FakeNs {
    const n = this.namespaces.get(ref);
    if (!n) throw new Error(`namespace ${ref} does not exist`);
    return n;
  }

  async listNamespaces(prefix: string): Promise<string[]> {
    return [...this.namespaces.keys()].filter((k) => k.startsWith(prefix)).sort();
  }

  async readNodeLinks(node: string): Promise<LinkState[]> {
    this.processes++;
    return this.ns(node)
      .links.filter((l) => l.kind === 'vxlan')
      .map((l) => ({ ...l }));
  }

  async readNetns(ref: string, kind: 'routing' | 'pod'): Promise<NetnsState | 'missing'> {
    const n = this.namespaces.get(ref);
    if (!n) return 'missing';
    this.processes += 2; // ip + bridge (routing), ip + ip -6 rule (pod)
    const routing = kind === 'routing';
    return structuredClone({ ...n, fdb: routing ? n.fdb : [], rules: routing ? [] : n.rules });
  }

  async apply(batch: Batch): Promise<BatchFailure[]> {
    const where = batch.target.kind === 'root' ? '(root)' : batch.target.ref;
    this.processes++;
    const out: BatchFailure[] = [];
    let stopped = false;
    batch.ops.forEach((op, i) => {
      if (stopped) return;
      try {
        if (this.failWhen?.(op, where)) throw new Error('injected failure');
        // like iproute2: a rule's family is the batch's (-6 or not), not its address's
        if (
          (op.kind === 'rule-add' || op.kind === 'rule-del') &&
          (op.rule.family === 6) !== (batch.family === 6)
        )
          throw new Error('Error: Invalid source address.');
        this.applyOp(op, where);
        this.applied++;
      } catch (e) {
        out.push({ op: i, message: (e as Error).message });
        if (batch.podKey) stopped = true; // pod batches stop at the first error, like the Linux driver
      }
    });
    return out;
  }

  private removeLink(ref: string, dev: string, withPeer = true): void {
    const n = this.ns(ref);
    const link = n.links.find((l) => l.name === dev);
    if (!link) throw new Error(`Cannot find device "${dev}"`);
    n.links = n.links.filter((l) => l.name !== dev);
    n.addrs = n.addrs.filter((a) => a.dev !== dev);
    n.routes = n.routes.filter((r) => r.dev !== dev);
    n.neighs = n.neighs.filter((x) => x.dev !== dev);
    n.fdb = n.fdb.filter((x) => x.dev !== dev);
    const peer = this.peers.get(`${ref}|${dev}`);
    this.peers.delete(`${ref}|${dev}`);
    if (peer && withPeer) {
      this.peers.delete(`${peer.ns}|${peer.dev}`);
      if (this.namespaces.has(peer.ns)) this.removeLink(peer.ns, peer.dev, false);
    }
  }

  private link(ref: string, dev: string): LinkState {
    const l = this.ns(ref).links.find((x) => x.name === dev);
    if (!l) throw new Error(`Cannot find device "${dev}"`);
    return l;
  }

  private addLink(ref: string, l: LinkState): void {
    const n = this.ns(ref);
    if (n.links.some((x) => x.name === l.name)) throw new Error('RTNETLINK answers: File exists');
    n.links.push(l);
  }

  private applyOp(op: Op, ref: string): void {
    switch (op.kind) {
      case 'netns-add':
        if (this.namespaces.has(op.name))
          throw new Error(`Cannot create namespace "${op.name}": File exists`);
        this.addNamespace(op.name);
        return;
      case 'netns-del': {
        const n = this.ns(op.name);
        for (const l of [...n.links])
          if (this.peers.has(`${op.name}|${l.name}`)) this.removeLink(op.name, l.name);
        this.namespaces.delete(op.name);
        return;
      }
      case 'forwarding':
        this.ns(op.ns).forwarding = { v4: true, v6: true };
        return;
      case 'vxlan-create': {
        const v = op.vx;
        const l: LinkState = {
          name: v.name,
          kind: 'vxlan',
          mtu: v.mtu,
          up: false,
          mac: v.mac,
          vxlan: { vni: v.vni, port: v.port, local: v.local, learning: false },
        };
        this.addLink(ref, l);
        // the move fails on its own (separate batch line), leaving the device in the node ns
        this.ns(ref).links = this.ns(ref).links.filter((x) => x !== l);
        try {
          this.addLink(op.into, l);
        } catch (e) {
          this.ns(ref).links.push(l);
          throw e;
        }
        return;
      }
      case 'veth-create': {
        if (!this.namespaces.has(op.routingNs)) throw new Error(`Invalid netns value "${op.routingNs}"`);
        if (this.ns(op.routingNs).links.some((x) => x.name === op.hostName))
          throw new Error('RTNETLINK answers: File exists');
        this.addLink(ref, { name: op.ifname, kind: 'veth', mtu: op.mtu, up: false, mac: op.mac });
        this.addLink(op.routingNs, {
          name: op.hostName,
          kind: 'veth',
          mtu: op.mtu,
          up: false,
          mac: op.hostMac,
        });
        this.peers.set(`${ref}|${op.ifname}`, { ns: op.routingNs, dev: op.hostName });
        this.peers.set(`${op.routingNs}|${op.hostName}`, { ns: ref, dev: op.ifname });
        return;
      }
      case 'veth-create-host': {
        if (!this.namespaces.has(op.podNetns)) throw new Error(`Invalid netns value "${op.podNetns}"`);
        if (this.ns(op.podNetns).links.some((x) => x.name === op.ifname))
          throw new Error('RTNETLINK answers: File exists');
        this.addLink(ref, { name: op.hostName, kind: 'veth', mtu: op.mtu, up: false, mac: op.hostMac });
        this.addLink(op.podNetns, { name: op.ifname, kind: 'veth', mtu: op.mtu, up: false, mac: op.mac });
        this.peers.set(`${ref}|${op.hostName}`, { ns: op.podNetns, dev: op.ifname });
        this.peers.set(`${op.podNetns}|${op.ifname}`, { ns: ref, dev: op.hostName });
        return;
      }
      case 'bridge-create':
        this.addLink(ref, { name: op.ifname, kind: 'bridge', mtu: op.mtu, up: false, mac: op.mac });
        return;
      case 'link-del':
        this.removeLink(ref, op.dev);
        return;
      case 'link-set': {
        const l = this.link(ref, op.dev);
        const n = this.ns(ref);
        const next: LinkState = {
          ...l,
          ...(op.mtu !== undefined ? { mtu: op.mtu } : {}),
          ...(op.mac !== undefined ? { mac: op.mac } : {}),
          ...(op.alias !== undefined ? { alias: op.alias } : {}),
          ...(op.up ? { up: true } : {}),
        };
        n.links = n.links.map((x) => (x === l ? next : x));
        return;
      }
      case 'addr-add': {
        this.link(ref, op.dev);
        const n = this.ns(ref);
        if (!n.addrs.some((a) => a.dev === op.dev && a.cidr === op.cidr))
          n.addrs.push({ dev: op.dev, cidr: op.cidr });
        return;
      }
      case 'addr-del': {
        const n = this.ns(ref);
        const before = n.addrs.length;
        n.addrs = n.addrs.filter((a) => !(a.dev === op.dev && a.cidr === op.cidr));
        if (n.addrs.length === before) throw new Error('RTNETLINK answers: Cannot assign requested address');
        return;
      }
      case 'route-replace': {
        this.link(ref, op.route.dev);
        const n = this.ns(ref);
        n.routes = [
          ...n.routes.filter(
            (r) => !(r.dst === op.route.dst && r.metric === op.route.metric && r.table === op.route.table),
          ),
          { ...op.route },
        ];
        return;
      }
      case 'route-del': {
        const n = this.ns(ref);
        const before = n.routes.length;
        // `route del DST dev DEV metric M` only matches a route through DEV (as the kernel does)
        n.routes = n.routes.filter(
          (r) =>
            !(
              r.dst === op.route.dst &&
              r.dev === op.route.dev &&
              r.proto === op.route.proto &&
              r.metric === op.route.metric &&
              r.table === op.route.table
            ),
        );
        if (n.routes.length === before) throw new Error('RTNETLINK answers: No such process');
        return;
      }
      case 'neigh-replace': {
        this.link(ref, op.neigh.dev);
        const n = this.ns(ref);
        n.neighs = [
          ...n.neighs.filter((x) => !(x.dev === op.neigh.dev && x.addr === op.neigh.addr)),
          { ...op.neigh },
        ];
        return;
      }
      case 'neigh-del': {
        const n = this.ns(ref);
        const before = n.neighs.length;
        n.neighs = n.neighs.filter((x) => !(x.dev === op.neigh.dev && x.addr === op.neigh.addr));
        if (n.neighs.length === before) throw new Error('RTNETLINK answers: No such file or directory');
        return;
      }
      case 'fdb-replace': {
        this.link(ref, op.fdb.dev);
        const n = this.ns(ref);
        n.fdb = [...n.fdb.filter((x) => !(x.dev === op.fdb.dev && x.mac === op.fdb.mac)), { ...op.fdb }];
        return;
      }
      case 'rule-flush': {
        const n = this.ns(ref);
        n.rules = n.rules.filter((r) => r.kernel || r.family !== op.family);
        return;
      }
      case 'rule-add': {
        const n = this.ns(ref);
        const same = (r: RuleState) => sameRule(r, op.rule);
        if (n.rules.some(same)) throw new Error('RTNETLINK answers: File exists');
        n.rules.push({ ...op.rule });
        return;
      }
      case 'rule-del': {
        const n = this.ns(ref);
        const before = n.rules.length;
        n.rules = n.rules.filter((r) => !sameRule(r, op.rule));
        if (n.rules.length === before) throw new Error('RTNETLINK answers: No such file or directory');
        return;
      }
      case 'fdb-del': {
        const n = this.ns(ref);
        const before = n.fdb.length;
        n.fdb = n.fdb.filter((x) => !(x.dev === op.fdb.dev && x.mac === op.fdb.mac && x.dst === op.fdb.dst));
        if (n.fdb.length === before) throw new Error('RTNETLINK answers: No such file or directory');
        return;
      }
    }
  }
}

/** The dataplane on the in-memory kernel (`dp.kernel` exposes the model and failure injection). */
export class FakeDataplane extends Reconciler {
  declare readonly kernel: FakeKernel;
  constructor(kernel: FakeKernel = new FakeKernel()) {
    super(kernel);
  }
}
