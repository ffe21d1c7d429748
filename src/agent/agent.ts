// One agent per node: registers the node, mirrors the store (list, then watch), computes the
// node's desired dataplane with the pure calc, reconciles the kernel, and serves the CNI socket.
// Nothing is written to the kernel before every watched kind has reached its "in sync" point.
// A store that is down (at start or later) is waited for, never fatal: CNI calls get "try again
// later" meanwhile (ReadyGate), and the cache and the dataplane stay as they are.
import { FsDeviceInfoFiles, type DeviceInfoFiles } from './device-info.js';
import { sourceCheckTable } from '../calc/source-check.js';
import { listThenWatchKinds, WatchHealth } from '../store/list-watch.js';
import { Backoff, sleep, untilAborted, type BackoffPolicy } from '../util/backoff.js';
import { isStoreError, type Store } from '../store/types.js';
import { putIfChanged } from '../store/put.js';
import type { Dataplane, DesiredNode, SyncReport } from '../dataplane/types.js';
import { desiredNodeState } from '../calc/node-state.js';
import { KIND_NODE, type AttachmentRecord, type NodeRecord } from '../calc/records.js';
import { podKey, routingNs } from '../dataplane/naming.js';
import type { NftDataplane, NftDesired, NftTableSpec } from '../dataplane/nft-types.js';
import { serviceState } from '../calc/services.js';
import { policySelectedInterfaces, policyTables } from '../calc/policies.js';
import type { Logger } from '../util/log.js';
import { ClusterCache, WATCHED_KINDS } from './cache.js';
import { SyncLoop } from './sync-loop.js';
import { AttachmentService } from './attach.js';
import type { AddressAllocator } from './allocator.js';
import { socketAnswers, startCniServer, type CniServer } from './cni-server.js';
import { ReadyGate } from './ready-gate.js';
import { memifSpecs, type MemifForwarder } from './memif.js';
import type { HealthSource, HealthState } from './health.js';

export const KIND_AGENT_STATUS = 'AgentStatus';

export interface AgentOptions {
  readonly node: string;
  /** Where the node's underlay lives: "host" on a real node, a netns name in the lab. */
  readonly netns: string;
  readonly underlay: string;
  readonly mtu: number;
  readonly store: Store;
  readonly dataplane: Dataplane;
  /** nftables (services, policies) in the routing namespaces; none = not programmed. */
  readonly nft?: NftDataplane;
  readonly ipam: AddressAllocator;
  readonly log: Logger;
  /** Unix socket for the CNI plugin; no server when absent (tests drive the handler directly). */
  readonly socketPath?: string;
  /** Full resync (re-reads pod namespaces too) every this many ms; 0 = never. Default 30 s. */
  readonly resyncMs?: number;
  /** Periodic IPAM leak reclaim; called every reclaimMs (default 60 s) when given. */
  readonly reclaim?: () => Promise<void>;
  readonly reclaimMs?: number;
  /** Retry policy while the store is unreachable (default 0.5 s doubling to 30 s, jittered). */
  readonly backoff?: BackoffPolicy;
  /** Bookmark probe interval of the watch (see ListWatchOptions.progressMs). */
  readonly progressMs?: number;
  /** The memif forwarder; absent: memif interfaces are refused (not built). */
  readonly memif?: MemifForwarder;
  /** memif device-info files (default: the real files). */
  readonly deviceInfo?: DeviceInfoFiles;
}

export interface AgentStatus {
  readonly node: string;
  readonly pid: number;
  readonly lastSync: string;
  readonly lastReport: Omit<SyncReport, 'errors'> & { errors: number };
  readonly syncs: number;
  /** False while CNI calls are answered "try again later". */
  readonly ready?: boolean;
  /** The store watch: staleness is the time since its last event, list or bookmark. */
  readonly watch?: {
    readonly connected: boolean;
    readonly lastProgress?: string;
    readonly staleSeconds?: number;
    readonly failures: number;
    readonly lastError?: string;
  };
}

export class Agent implements HealthSource {
  readonly cache: ClusterCache;
  readonly handler: AttachmentService;
  /** What the CNI socket serves: the handler behind a readiness check. */
  readonly cni: ReadyGate;
  readonly watchHealth = new WatchHealth();
  private readonly loop: SyncLoop<SyncReport>;
  private readonly abort = new AbortController();
  private server: CniServer | undefined;
  private timers: NodeJS.Timeout[] = [];
  private syncs = 0;
  /** When the sync loop last finished a pass, and when the one running now started (liveness). */
  private lastSyncAt: number | undefined;
  private syncRunningSince: number | undefined;
  private nextFull = false;
  /** The ip part of the desired state last synced without failure. */
  private lastCleanIp: string | undefined;
  private lastStatusWrite = 0;
  /** Set once the first sync is done: from then on the gate follows the watch's health. */
  private ready = false;
  /** Resolves when every watched kind delivered its first snapshot. */
  private synced!: Promise<void>;
  private watchers: Promise<void>[] = [];

  constructor(private readonly o: AgentOptions) {
    this.cache = new ClusterCache(o.log);
    this.loop = new SyncLoop(() => this.timedSync());
    this.handler = new AttachmentService({
      node: o.node,
      store: o.store,
      cache: this.cache,
      ipam: o.ipam,
      sync: () => this.loop.request(),
      inspectPod: (rec) => this.inspectPod(rec),
      log: o.log,
      memif: o.memif !== undefined,
      deviceInfo: o.deviceInfo ?? new FsDeviceInfoFiles(),
      removeMemifLink: async (netns, ifName) => {
        const r = await o.dataplane.removeMemifLink(netns, ifName);
        if (r.failed) throw new Error(r.errors.map((e) => e.message).join('; '));
      },
    });
    this.cni = new ReadyGate(this.handler, 'the agent is starting: store not in sync yet');
  }

  /**
   * Serves CNI at once (answering "try again later"), waits for the store however long it takes,
   * and opens for CNI after the first sync. Resolves early, quietly, if stop() is called meanwhile.
   */
  async start(): Promise<void> {
    const signal = this.abort.signal;
    if (this.o.socketPath)
      this.server = await startCniServer(this.o.socketPath, this.cni, { log: this.o.log });
    await this.register();
    if (signal.aborted) return;
    this.cni.close('the node is registered; the store is not in sync yet');
    this.startWatches();
    await untilAborted(this.synced, signal);
    if (signal.aborted) return;
    this.o.log.info({ node: this.o.node }, 'store in sync; first dataplane sync');
    this.nextFull = true;
    const report = await this.loop.request();
    this.o.log.info(
      { changes: report.changes, failed: report.failed, ms: Math.round(report.durationMs) },
      'first sync done',
    );
    if (signal.aborted) return;
    this.ready = true;
    if (this.watchHealth.connected) this.cni.open();
    const resync = this.o.resyncMs ?? 30_000;
    if (resync > 0)
      this.timers.push(
        setInterval(() => {
          this.nextFull = true;
          void this.loop
            .request()
            .catch((e: unknown) => this.o.log.error({ err: String(e) }, 'resync failed'));
        }, resync),
      );
    if (this.o.reclaim) {
      const reclaim = this.o.reclaim;
      this.timers.push(
        setInterval(
          () =>
            void reclaim().catch((e: unknown) => this.o.log.warn({ err: String(e) }, 'ipam reclaim failed')),
          this.o.reclaimMs ?? 60_000,
        ),
      );
    }
  }

  /** True once stop() was called. */
  get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  /** Stops serving and watching; leaves the dataplane as it is (pods keep their traffic). */
  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.server?.close();
    this.abort.abort();
    await Promise.allSettled(this.watchers);
  }

  /** A sync that includes everything known now. */
  sync(): Promise<SyncReport> {
    return this.loop.request();
  }

  desired(): DesiredNode {
    return this.compute().node;
  }

  /** The node's whole desired state: kernel objects (ip) and nft tables per routing namespace. */
  compute(): {
    node: DesiredNode;
    nft: NftDesired;
    memifFast: ReadonlySet<string>;
    memifPoliced: ReadonlySet<string>;
  } {
    const view = this.cache.view();
    const svc = serviceState(view);
    const node = desiredNodeState({ ...view, extraRoutes: svc.routes }, this.o.node);
    const pol = policyTables(view, this.o.node);
    const nft = new Map<string, NftTableSpec[]>();
    // Direct memif-to-memif switching skips the routing domain's nft: only in networks without
    // a service (a reply switched directly would miss the reverse NAT of its request), and only
    // between interfaces no policy selects.
    const memifFast = new Set(node.networks.filter((n) => !svc.tables.get(n.name)).map((n) => n.name));
    const memifPoliced = policySelectedInterfaces(view, this.o.node);
    for (const n of node.networks) {
      const tables = [sourceCheckTable(), svc.tables.get(n.name), pol.get(n.name)].filter(
        (t): t is NftTableSpec => t !== undefined,
      );
      nft.set(routingNs(this.o.node, n.name), tables);
    }
    return { node, nft, memifFast, memifPoliced };
  }

  private async register(): Promise<void> {
    const key = { kind: KIND_NODE, namespace: '', name: this.o.node };
    const rec: NodeRecord = {
      name: this.o.node,
      underlay: this.o.underlay,
      mtu: this.o.mtu,
      netns: this.o.netns,
      agentPid: process.pid,
    };
    const backoff = new Backoff(this.o.backoff);
    while (!this.abort.signal.aborted) {
      try {
        await putIfChanged(this.o.store, key, rec); // retries Conflict/AlreadyExists itself
        if (backoff.attempts > 0)
          this.o.log.info(
            { store: this.o.store.description, failures: backoff.attempts },
            'store reachable again',
          );
        return;
      } catch (e) {
        if (isStoreError(e, 'Conflict') || isStoreError(e, 'AlreadyExists')) continue;
        // Unreachable (or failing) store: wait for it; a DaemonSet pod must not crash-loop.
        const delayMs = backoff.next();
        this.cni.close(`waiting for the store (${this.o.store.description}): ${(e as Error).message}`);
        this.o.log.warn(
          { err: (e as Error).message, attempt: backoff.attempts, retryInMs: delayMs },
          'cannot register the node; store unreachable? retrying',
        );
        await sleep(delayMs, this.abort.signal);
      }
    }
  }

  private startWatches(): void {
    let markSynced!: () => void;
    this.synced = new Promise<void>((r) => (markSynced = r));
    // One watch for every kind: an idle agent costs one store poll, not one per kind.
    const w = (async () => {
      let initial = true;
      for await (const item of listThenWatchKinds(this.o.store, WATCHED_KINDS, {
        signal: this.abort.signal,
        health: this.watchHealth,
        ...(this.o.backoff ? { backoff: this.o.backoff } : {}),
        ...(this.o.progressMs !== undefined ? { progressMs: this.o.progressMs } : {}),
        onRelist: (err) => this.o.log.warn({ err: err.message }, 're-list after compaction'),
        onError: (err, info) => {
          // The cache and the kernel stay as they are; only new CNI work waits for a fresh list.
          this.cni.close(`store watch lost, re-listing (${this.o.store.description}): ${err.message}`);
          this.o.log.warn(
            {
              err: err.message,
              attempt: info.attempt,
              retryInMs: info.delayMs,
              staleS: seconds(info.staleMs),
            },
            'store watch failed; dataplane left as it is; re-listing after backoff',
          );
        },
        onRecover: (info) =>
          this.o.log.info(
            { failures: info.failures, staleS: seconds(info.staleMs) },
            'store reachable again; re-listed',
          ),
      })) {
        if (item.type === 'SYNCED') {
          // A successful list replaces state (as after compaction); an outage never does.
          for (const [kind, items] of item.kinds) this.cache.replace(kind, items);
          if (this.ready) this.cni.open();
          if (initial) {
            initial = false;
            markSynced();
            continue;
          }
        } else this.cache.apply(item.object.kind, item);
        void this.loop.request().catch((e: unknown) => this.o.log.error({ err: String(e) }, 'sync failed'));
      }
    })().catch((e: unknown) => {
      if (!this.abort.signal.aborted) this.o.log.error({ err: String(e) }, 'watch ended with an error');
    });
    this.watchers.push(w);
  }

  private async timedSync(): Promise<SyncReport> {
    this.syncRunningSince = Date.now();
    try {
      return await this.syncOnce();
    } finally {
      this.lastSyncAt = Date.now();
      this.syncRunningSince = undefined;
    }
  }

  private lastMemif: string | undefined;

  /** The forwarder went away: ask it again at once (a restarted one holds nothing). */
  memifLost(): void {
    this.lastMemif = undefined;
    void this.loop.request().catch(() => undefined);
  }

  /** The forwarder holds the node's memif interfaces (asked again on a change or a full sync). */
  private async syncMemif(
    desired: DesiredNode,
    full: boolean,
    fast: ReadonlySet<string>,
    policed: ReadonlySet<string>,
  ): Promise<{ errors: string[]; changed: boolean }> {
    if (!this.o.memif) return { errors: [], changed: false };
    const specs = memifSpecs(desired, fast, policed);
    const key = JSON.stringify(specs);
    if (!full && key === this.lastMemif) return { errors: [], changed: false };
    const r = await this.o.memif.reconcile(specs);
    this.lastMemif = r.errors.length ? undefined : key;
    return r;
  }

  private async syncOnce(): Promise<SyncReport> {
    const full = this.nextFull;
    this.nextFull = false;
    const { node: desired, nft, memifFast, memifPoliced } = this.compute();
    // Between full resyncs the kernel is trusted to hold what the last clean sync wrote (as Felix
    // does): a change that only touches nft (a relabel, an endpoint) skips the ip read entirely.
    const key = JSON.stringify(desired);
    let report: SyncReport =
      !full && key === this.lastCleanIp
        ? { changes: 0, failed: 0, errors: [], processes: 0, batches: 0, durationMs: 0 }
        : await this.o.dataplane.sync(desired, { full });
    // The forwarder makes the memif TAPs in routing domains that the sync above created; a TAP
    // made now is configured (as its pod's host side) by a second sync in the same pass.
    const memif = await this.syncMemif(desired, full, memifFast, memifPoliced);
    const memifErrors = memif.errors;
    // Full: a TAP made again (the forwarder restarted) has lost what the cache says it holds.
    if (memif.changed) report = await this.o.dataplane.sync(desired, { full: true });
    this.lastCleanIp = report.failed === 0 ? key : undefined;
    if (this.o.nft) {
      // Routing namespaces exist now; their nft tables follow in one `nft -f` each.
      const n = await this.o.nft.sync(nft, { full });
      report = {
        ...report,
        changes: report.changes + n.changes,
        failed: report.failed + n.errors.length,
        errors: [
          ...report.errors,
          ...n.errors.map((e) => ({ netns: e.netns, op: 'nft', message: e.message })),
        ],
        processes: report.processes + n.processes,
      };
    }
    if (memifErrors.length)
      report = {
        ...report,
        failed: report.failed + memifErrors.length,
        errors: [...report.errors, ...memifErrors.map((m) => ({ netns: '', op: 'memif', message: m }))],
      };
    this.syncs++;
    if (report.failed > 0) {
      this.o.log.warn(
        { failed: report.failed, errors: report.errors.slice(0, 5) },
        'sync left work to retry',
      );
      this.nextFull = true;
    } else if (report.changes > 0) {
      this.o.log.info(
        { changes: report.changes, processes: report.processes, ms: Math.round(report.durationMs) },
        'synced',
      );
    }
    void this.writeStatus(report);
    return report;
  }

  private async writeStatus(report: SyncReport): Promise<void> {
    const now = Date.now();
    if (now - this.lastStatusWrite < 1000 && report.changes === 0) return;
    this.lastStatusWrite = now;
    const key = { kind: KIND_AGENT_STATUS, namespace: '', name: this.o.node };
    const { errors, ...rest } = report;
    const value: AgentStatus = {
      node: this.o.node,
      pid: process.pid,
      lastSync: new Date(now).toISOString(),
      lastReport: { ...rest, errors: errors.length },
      syncs: this.syncs,
      ready: this.cni.ready,
      watch: this.watchStatus(),
    };
    try {
      await putIfChanged(this.o.store, key, value);
    } catch {
      // status is best-effort; the next sync writes it again
    }
  }

  /** The store watch's health, as recorded in AgentStatus. */
  watchStatus(): NonNullable<AgentStatus['watch']> {
    const h = this.watchHealth;
    const stale = h.staleMs();
    return {
      connected: h.connected,
      ...(h.lastProgressAt !== undefined ? { lastProgress: new Date(h.lastProgressAt).toISOString() } : {}),
      ...(stale !== undefined ? { staleSeconds: seconds(stale) } : {}),
      failures: h.failures,
      ...(h.lastError ? { lastError: h.lastError } : {}),
    };
  }

  /** What the health endpoints read (src/agent/health.ts). */
  healthState(): HealthState {
    const w = this.watchHealth;
    const stale = w.staleMs();
    let attachments = 0;
    for (const a of this.cache.attachments.values()) if (a.node === this.o.node) attachments++;
    return {
      firstSyncDone: this.ready,
      cniRefusal: this.cni.reason,
      watch: {
        connected: w.connected,
        failures: w.failures,
        ...(w.lastError !== undefined ? { lastError: w.lastError } : {}),
        ...(stale !== undefined ? { staleMs: stale } : {}),
      },
      lastSyncAt: this.lastSyncAt,
      syncRunningSince: this.syncRunningSince,
      syncs: this.syncs,
      resyncMs: this.o.resyncMs ?? 30_000,
      attachments,
      socketPath: this.o.socketPath,
    };
  }

  cniSocketAnswers(): Promise<boolean> {
    return this.o.socketPath ? socketAnswers(this.o.socketPath) : Promise.resolve(false);
  }

  /** CHECK: the pod side of an attachment as the kernel holds it; undefined when it matches. */
  private async inspectPod(rec: AttachmentRecord): Promise<string | undefined> {
    const desired = this.desired();
    const spec = desired.pods.find((p) => p.netns === rec.netns && p.ifname === rec.ifName);
    if (!spec) return `no desired state for ${rec.ifName} (network ${rec.network} unknown?)`;
    const actual = await this.o.dataplane.observe(desired, { full: true });
    const pod = actual.pods[podKey(spec)];
    if (!pod || pod === 'missing') return `pod network namespace ${rec.netns} is missing`;
    const link = pod.links.find((l) => l.name === rec.ifName);
    if (!link) return `interface ${rec.ifName} is missing`;
    if (!link.up) return `interface ${rec.ifName} is down`;
    for (const ip of rec.ips) {
      if (!pod.addrs.some((a) => a.dev === rec.ifName && a.cidr.split('/')[0] === ip))
        return `address ${ip} missing on ${rec.ifName}`;
    }
    for (const dst of spec.routes) {
      if (!pod.routes.some((r) => r.dev === rec.ifName && r.dst === dst))
        return `route ${dst} via ${rec.ifName} missing`;
    }
    return undefined;
  }
}

function seconds(ms: number | undefined): number | undefined {
  return ms === undefined ? undefined : Math.round(ms / 100) / 10;
}
