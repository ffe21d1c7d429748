// The Dataplane implementation shared by the Linux driver and the fake: read -> diff -> apply,
// over a small KernelIO interface (the only part that differs between the two).
import { expandDesired, type WantNode } from './desired.js';
import { applyPlan, cacheView, toCache, type NodeCache } from './cache.js';
import { countOps, diff, Phase, PHASES, type Batch, type Plan } from './diff.js';
import { POD_IF_ALIAS, routingNsPrefix } from './naming.js';
import type {
  ActualState,
  Dataplane,
  DesiredNode,
  LinkState,
  NetnsState,
  SyncError,
  SyncOptions,
  SyncReport,
} from './types.js';

export interface BatchFailure {
  /** index into batch.ops */
  readonly op: number;
  readonly message: string;
}

/** What a kernel must offer. The Linux one spawns `ip`/`bridge`; the fake edits a model. */
export interface KernelIO {
  /** Names of existing named netns starting with `prefix` (no process needed). */
  listNamespaces(prefix: string): Promise<string[]>;
  /** VXLAN-kind links in the node namespace. */
  readNodeLinks(node: string): Promise<LinkState[]>;
  /** A routing namespace (with its FDB) or a pod namespace (with our rules, both families). */
  readNetns(ref: string, kind: 'routing' | 'pod'): Promise<NetnsState | 'missing'>;
  /** Apply one batch, continuing past failed ops (like `ip -force -batch`). */
  apply(batch: Batch): Promise<BatchFailure[]>;
  /** Processes spawned so far (0 for the fake). */
  readonly processes: number;
}

/** Run `fn` over items with at most `limit` in flight (2 cores: keep it small). */
async function pool<T>(items: readonly T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  const worker = async () => {
    while (i < items.length) await fn(items[i++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export function describeOp(op: Batch['ops'][number]): string {
  const { kind, ...rest } = op;
  return `${kind} ${JSON.stringify(rest)}`;
}

/** The pod interface an op of a shared batch (routing namespace) is for, if any. */
function podOf(op: Batch['ops'][number] | undefined): string | undefined {
  if (op?.kind === 'veth-create-host') return op.podKey;
  if (op?.kind === 'link-set') return op.afterPod;
  return undefined;
}

export class Reconciler implements Dataplane {
  /** Pods whose last batch failed: read them next time even without a host veth. */
  private readonly suspects = new Set<string>();
  /** Per node (`name|netns`): what the kernel holds after the last sync that had no failure. */
  private readonly cache = new Map<string, NodeCache>();

  constructor(
    readonly kernel: KernelIO,
    private readonly concurrency = 8,
    /** Concurrency of the per-pod batches (each one a short process, mostly waiting on exec). */
    private readonly podConcurrency = 16,
  ) {}

  async observe(desired: DesiredNode, opts: SyncOptions = {}): Promise<ActualState> {
    const want = expandDesired(desired);
    const base = await this.readRouting(want);
    return { ...base, pods: await this.readPods(want, base.routing, opts.full ?? false) };
  }

  /** Routing namespaces (with FDB) and the node's VXLAN links: a few processes per namespace. */
  private async readRouting(want: WantNode): Promise<Pick<ActualState, 'nodeLinks' | 'routing'>> {
    const existing = await this.kernel.listNamespaces(routingNsPrefix(want.node));
    const routing: Record<string, NetnsState> = {};
    const [nodeLinks] = await Promise.all([
      this.kernel.readNodeLinks(want.netns),
      pool(existing, this.concurrency, async (ns) => {
        const s = await this.kernel.readNetns(ns, 'routing');
        if (s !== 'missing') routing[ns] = s;
      }),
    ]);
    return { nodeLinks, routing };
  }

  /**
   * Pods are read only when their completion mark is wrong, when asked for a full check, or when
   * their last batch failed: adding one pod to a node with 1000 costs the same as to an empty one.
   */
  private async readPods(
    want: WantNode,
    routing: Readonly<Record<string, NetnsState>>,
    full: boolean,
  ): Promise<Record<string, NetnsState | 'missing'>> {
    // host veth aliases by `ns|name`: one pass over the links, not one search per pod
    const aliases = new Map<string, string | undefined>();
    for (const [ns, s] of Object.entries(routing))
      for (const l of s.links) aliases.set(`${ns}|${l.name}`, l.alias);
    const toRead = want.pods.filter((p) => {
      if (this.suspects.has(p.key)) return true;
      const k = `${p.routingNs}|${p.hostName}`;
      if (!aliases.has(k)) return false;
      return full || aliases.get(k) !== `mn:${p.hash}`;
    });
    const pods: Record<string, NetnsState | 'missing'> = {};
    await pool(toRead, this.podConcurrency, async (p) => {
      pods[p.key] = await this.kernel.readNetns(p.netns, 'pod');
    });
    return pods;
  }

  async sync(desired: DesiredNode, opts: SyncOptions = {}): Promise<SyncReport> {
    const t0 = performance.now();
    const p0 = this.kernel.processes;
    const want = expandDesired(desired); // throws on bad input before anything is touched
    const full = opts.full ?? false;
    const cacheKey = `${want.node}|${want.netns}`;
    // A full sync re-reads everything; any failure drops the cache so the next sync re-reads.
    let known = full ? undefined : this.cache.get(cacheKey);
    this.cache.delete(cacheKey);
    let changes = 0;
    let batches = 0;
    const errors: SyncError[] = [];
    // A second pass only when the first one said some work had to wait (or something failed).
    for (let pass = 0; pass < 2; pass++) {
      const base = known ?? toCache(await this.readRouting(want));
      const view = cacheView(base);
      const actual: ActualState = { ...view, pods: await this.readPods(want, view.routing, full) };
      const plan = diff(want, actual, { full });
      const r = await this.execute(plan);
      changes += countOps(plan);
      batches += plan.batches.length;
      if (r.length === 0 && plan.problems.length === 0) {
        applyPlan(base, plan, want.netns);
        known = base;
      } else known = undefined;
      if (pass === 1 || (!plan.again && r.length === 0)) {
        // Report what is still wrong after the last pass; earlier failures were retried.
        errors.push(
          ...r,
          ...plan.problems.map((p) => ({
            netns: p.netns,
            op: p.object,
            message: p.message,
            ...(p.podKey ? { podKey: p.podKey } : {}),
          })),
        );
        break;
      }
    }
    if (known && errors.length === 0) this.cache.set(cacheKey, known);
    return {
      changes,
      failed: errors.length,
      errors,
      processes: this.kernel.processes - p0,
      batches,
      durationMs: performance.now() - t0,
    };
  }

  private async execute(plan: Plan): Promise<SyncError[]> {
    const errors: SyncError[] = [];
    const failedPods = new Set<string>();
    for (const phase of PHASES) {
      const bs = plan.batches
        .filter((b) => b.phase === phase && !(b.podKey && failedPods.has(b.podKey)))
        .map((b) => ({
          ...b,
          ops: b.ops.filter((o) => !(o.kind === 'link-set' && o.afterPod && failedPods.has(o.afterPod))),
        }))
        .filter((b) => b.ops.length);
      await pool(bs, phase === Phase.Pods ? this.podConcurrency : this.concurrency, async (b) => {
        const failures = await this.kernel.apply(b);
        const where = b.target.kind === 'root' ? '(root)' : b.target.ref;
        for (const f of failures) {
          const op = b.ops[f.op];
          const podKey = b.podKey ?? podOf(op);
          errors.push({
            netns: where,
            op: op ? describeOp(op) : `#${f.op}`,
            message: f.message,
            ...(podKey ? { podKey } : {}),
          });
          // A pod whose veth could not be created gets no pod-side batch (the name may be someone else's).
          if (op?.kind === 'veth-create-host') {
            failedPods.add(op.podKey);
            this.suspects.add(op.podKey);
          }
        }
        if (b.podKey) {
          if (failures.length) {
            failedPods.add(b.podKey);
            this.suspects.add(b.podKey);
          } else this.suspects.delete(b.podKey);
        }
      });
    }
    return errors;
  }

  async removeMemifLink(netns: string, ifname: string): Promise<SyncReport> {
    const t0 = performance.now();
    const p0 = this.kernel.processes;
    const s = await this.kernel.readNetns(netns, 'pod');
    const ours =
      s !== 'missing' &&
      s.links.some((l) => l.name === ifname && l.kind === 'bridge' && l.alias === POD_IF_ALIAS);
    const errors = ours
      ? await this.execute({
          batches: [
            {
              phase: Phase.Pods,
              target: { kind: 'netns', ref: netns },
              tool: 'ip',
              ops: [{ kind: 'link-del', dev: ifname }],
            },
          ],
          problems: [],
          again: false,
        })
      : [];
    return {
      changes: ours ? 1 : 0,
      failed: errors.length,
      errors,
      processes: this.kernel.processes - p0,
      batches: ours ? 1 : 0,
      durationMs: performance.now() - t0,
    };
  }

  async teardown(node: Pick<DesiredNode, 'name' | 'netns'>): Promise<SyncReport> {
    const t0 = performance.now();
    const p0 = this.kernel.processes;
    // Read what is there, so that our devices are deleted before their namespaces (see Phase.Teardown).
    const empty: WantNode = { node: node.name, netns: node.netns, routing: [], pods: [] };
    const plan = diff(empty, { ...(await this.readRouting(empty)), pods: {} });
    const errors = await this.execute(plan);
    this.cache.delete(`${node.name}|${node.netns}`);
    return {
      changes: countOps(plan),
      failed: errors.length,
      errors,
      processes: this.kernel.processes - p0,
      batches: plan.batches.length,
      durationMs: performance.now() - t0,
    };
  }
}
