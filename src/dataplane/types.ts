// The contract between the agent (which computes what one node should look like) and the
// dataplane driver (which makes the kernel match it). Plain data only: no I/O, no classes.

/**
 * A network namespace reference:
 * - `"host"`: the namespace this process runs in (a real cluster node); nothing is entered.
 * - an absolute path (`/proc/123/ns/net`, `/var/run/netns/x`): entered with `nsenter --net=PATH`.
 * - otherwise a named netns under /var/run/netns (`ip -n NAME`).
 */
export type NetnsRef = string;

export interface DesiredNode {
  /** Node name (as in the cluster). Routing-domain namespace names are derived from it. */
  readonly name: string;
  /** Where the node's underlay lives (`"host"` on a real node; `mn-<lab>-<node>` in the lab). */
  readonly netns: NetnsRef;
  readonly underlay: {
    /** Underlay address of this node: the VXLAN `local` and the destination other nodes use. */
    readonly address: string;
    /** Underlay MTU. Pod and overlay MTU = this minus 50 (IPv4 underlay) or 70 (IPv6). */
    readonly mtu: number;
  };
  /** Networks with at least one pod (or a remote pod) on this node. */
  readonly networks: readonly NetworkSpec[];
  /** Pod interfaces on this node (each belongs to one network). */
  readonly pods: readonly PodInterfaceSpec[];
  /** Other nodes and the pod addresses behind them. */
  readonly remotes: readonly RemoteNodeSpec[];
}

export interface NetworkSpec {
  readonly name: string;
  /** VXLAN network identifier (unique per node; 1..16777215). */
  readonly vni: number;
  /** The network's address ranges (CIDRs); informative for the driver, routes come from pods. */
  readonly ranges: readonly string[];
  /** VXLAN UDP destination port (default 4789); the Network's `spec.vxlanPort`. */
  readonly vxlanPort?: number;
}

export interface PodInterfaceSpec {
  /** Network this interface attaches to (must be in `networks`). */
  readonly network: string;
  /** The pod's network namespace (a named netns or a path; never `"host"`). */
  readonly netns: NetnsRef;
  /** Interface name inside the pod (e.g. `eth0`, `eth1`). */
  readonly ifname: string;
  /** Pod addresses (plain IPs; installed as /32 or /128). */
  readonly addresses: readonly string[];
  /** MAC of the pod-side interface; derived deterministically when absent. */
  readonly mac?: string;
  /** Destinations (CIDRs) routed from the pod through this interface (network ranges, service CIDRs). */
  readonly routes: readonly string[];
  /** Also install the default route(s) through this interface. */
  readonly defaultRoute?: boolean;
  /**
   * 'memif': a shared-memory interface served by the node's memif forwarder. Its host side is the
   * forwarder's TAP (named and addressed as the host veth would be, created by the forwarder, never
   * by the dataplane); the pod gets a port-less bridge of this name carrying its addresses, routes
   * and gateway neighbour, so applications find them (this kernel has no `dummy` driver; a bridge
   * with no port is the one peerless link type it has, and it forwards nothing). Absent: a veth pair.
   */
  readonly kind?: 'memif';
  /** memif only: bare IP packets on the memif (the forwarder frames them for the TAP). */
  readonly memifMode?: 'ip';
}

export interface RemoteNodeSpec {
  readonly name: string;
  /** The remote node's underlay address (VXLAN destination). */
  readonly underlay: string;
  /**
   * VTEP MAC of the remote node's VXLAN device per network. When absent for a network it is
   * computed with `vtepMac(remote.name, network)`, which is what every node sets on its own device.
   */
  readonly vtepMacs?: Readonly<Record<string, string>>;
  /** Pod addresses behind this node, per network name. */
  readonly pods: Readonly<Record<string, readonly string[]>>;
}

/** One failed kernel operation. */
export interface SyncError {
  readonly netns: string;
  readonly op: string;
  readonly message: string;
  /** The pod interface (`podKey(spec)`) the failure was for; unset for shared state (routing, VXLAN). */
  readonly podKey?: string;
}

export interface SyncReport {
  /** Kernel changes attempted (0 when the kernel already matched). */
  readonly changes: number;
  /** Changes that failed (see errors); the next sync converges from what is left. */
  readonly failed: number;
  readonly errors: readonly SyncError[];
  /** Processes spawned by this sync (reads + writes). */
  readonly processes: number;
  /** Write batches run (one per namespace touched, plus one for namespace creation/removal). */
  readonly batches: number;
  readonly durationMs: number;
}

export interface SyncOptions {
  /**
   * Read every pod namespace even if its interface carries the mark of a completed setup
   * (catches changes made by hand inside pods; costs one process per pod).
   */
  readonly full?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Observed kernel state, normalised (addresses canonical, host routes with /32 or /128).

export interface LinkState {
  readonly name: string;
  readonly kind: string; // 'veth' | 'vxlan' | 'loopback' | ...
  readonly mtu: number;
  readonly up: boolean;
  readonly mac: string;
  readonly alias?: string;
  readonly vxlan?: {
    readonly vni: number;
    readonly port: number;
    readonly local?: string;
    readonly learning: boolean;
  };
}

export interface AddrState {
  readonly dev: string;
  /** e.g. `10.50.0.1/32` */
  readonly cidr: string;
}

export interface RouteState {
  /** canonical CIDR; `0.0.0.0/0` / `::/0` for default */
  readonly dst: string;
  readonly dev: string;
  readonly via?: string;
  readonly proto: number;
  /**
   * Route metric, when we set one (pod routes: one pod may route the same destination through
   * several interfaces, e.g. two interfaces in one network); absent = the kernel's default.
   */
  readonly metric?: number;
  /** Routing table number; absent = main. Pods: one table per interface (source-based routing). */
  readonly table?: number;
}

/**
 * An `ip rule` in a pod namespace. Ours carry protocol 77: `from <addr> iif lo lookup <table>`
 * (locally generated packets only; received ones are delivered by the local table) and the
 * relocated `lookup local`. The kernel's own `0: lookup local` is read too (`kernel: true`), so
 * that it can be removed once ours replaces it.
 */
export interface RuleState {
  readonly family: 4 | 6;
  readonly priority: number;
  /** host CIDR (`10.1.0.5/32`, `fd00::5/128`); absent = from all */
  readonly from?: string;
  readonly iif?: string;
  /** table number (255 = local) */
  readonly table: number;
  readonly kernel?: boolean;
}

export interface NeighState {
  readonly dev: string;
  readonly addr: string;
  readonly mac: string;
  readonly permanent: boolean;
}

export interface FdbState {
  readonly dev: string;
  readonly mac: string;
  readonly dst: string;
}

export interface NetnsState {
  readonly links: readonly LinkState[];
  readonly addrs: readonly AddrState[];
  readonly routes: readonly RouteState[];
  readonly neighs: readonly NeighState[];
  readonly fdb: readonly FdbState[];
  /** Our policy-routing rules (read in pod namespaces only; empty elsewhere). */
  readonly rules: readonly RuleState[];
  readonly forwarding: { readonly v4: boolean; readonly v6: boolean };
}

export interface ActualState {
  /** VXLAN links left in the node namespace (normally none: they are moved once created). */
  readonly nodeLinks: readonly LinkState[];
  /** Our routing-domain namespaces for this node that exist, by namespace name. */
  readonly routing: Readonly<Record<string, NetnsState>>;
  /** Pod namespaces that were read this time, by pod key (`podKey(spec)`). */
  readonly pods: Readonly<Record<string, NetnsState | 'missing'>>;
}

/** The driver interface the agent calls. */
export interface Dataplane {
  /** Make the kernel match `desired`; returns what was done. Never throws for kernel errors. */
  sync(desired: DesiredNode, opts?: SyncOptions): Promise<SyncReport>;
  /** Read what is programmed for the node (routing namespaces; pods are read with opts.full). */
  observe(desired: DesiredNode, opts?: SyncOptions): Promise<ActualState>;
  /** Remove everything this driver created for the node (its devices, then its routing namespaces). */
  teardown(node: Pick<DesiredNode, 'name' | 'netns'>): Promise<SyncReport>;
  /**
   * Remove a detached memif's visible link from its pod (a veth's pod end goes with its host end;
   * a memif's port-less bridge has no peer). Only a link of ours (our alias, a bridge) is removed.
   */
  removeMemifLink(netns: string, ifname: string): Promise<SyncReport>;
}
