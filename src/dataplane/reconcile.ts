// The Dataplane implementation shared by the Linux driver and the fake: read -> diff -> apply,
// over a small KernelIO interface (the only part that differs between the two).
import { expandDesired, type WantNode } from './desired.js';
import { countOps, diff, Phase, type Batch, type Plan } from './diff.js';
import { routingNsPrefix } from './naming.js';
import type { ActualState, Dataplane, DesiredNode, LinkState, NetnsState, SyncError, SyncOptions, SyncReport } from './types.js';

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
  readNetns(ref: string, withFdb: boolean): Promise<NetnsState | 'missing'>;
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

export class Reconciler implements Dataplane {
  /** Pods whose last batch failed: read them next time even without a host veth. */
  private readonly suspects = new Set<string>();

  constructor(
    readonly kernel: KernelIO,
    private readonly concurrency = 8,
  ) {}

  async observe(desired: DesiredNode, opts: SyncOptions = {}): Promise<ActualState> {
    return this.read(expandDesired(desired), opts.full ?? false);
  }

  private async read(want: WantNode, full: boolean): Promise<ActualState> {
    const existing = await this.kernel.listNamespaces(routingNsPrefix(want.node));
    const routing: Record<string, NetnsState> = {};
    const [nodeLinks] = await Promise.all([
      this.kernel.readNodeLinks(want.netns),
      pool(existing, this.concurrency, async (ns) => {
        const s = await this.kernel.readNetns(ns, true);
        if (s !== 'missing') routing[ns] = s;
      }),
    ]);
    // Pods are read only when their completion mark is wrong, when asked for a full check, or when
    // their last batch failed: adding one pod to a node with 1000 costs the same as to an empty one.
    const toRead = want.pods.filter((p) => {
      const hv = routing[p.routingNs]?.links.find((l) => l.name === p.hostName);
      if (this.suspects.has(p.key)) return true;
      if (!hv) return false;
      return full || hv.alias !== `mn:${p.hash}`;
    });
    const pods: Record<string, NetnsState | 'missing'> = {};
    await pool(toRead, this.concurrency, async (p) => {
      pods[p.key] = await this.kernel.readNetns(p.netns, false);
    });
    return { nodeLinks, routing, pods };
  }

  async sync(desired: DesiredNode, opts: SyncOptions = {}): Promise<SyncReport> {
    const t0 = performance.now();
    const p0 = this.kernel.processes;
    const want = expandDesired(desired); // throws on bad input before anything is touched
    let changes = 0;
    let batches = 0;
    const errors: SyncError[] = [];
    // A second pass only when the first one said some work had to wait (or something failed).
    for (let pass = 0; pass < 2; pass++) {
      const actual = await this.read(want, opts.full ?? false);
      const plan = diff(want, actual, { full: opts.full ?? false });
      const r = await this.execute(plan);
      changes += countOps(plan);
      batches += plan.batches.length;
      if (pass === 1 || (!plan.again && r.length === 0)) {
        // Report what is still wrong after the last pass; earlier failures were retried.
        errors.push(...r, ...plan.problems.map((p) => ({ netns: p.netns, op: p.object, message: p.message })));
        break;
      }
    }
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
    for (const phase of [Phase.Namespaces, Phase.Node, Phase.Sysctl, Phase.Pods, Phase.Routing, Phase.Fdb]) {
      const bs = plan.batches
        .filter((b) => b.phase === phase)
        .map((b) => ({ ...b, ops: b.ops.filter((o) => !(o.kind === 'link-set' && o.afterPod && failedPods.has(o.afterPod))) }))
        .filter((b) => b.ops.length);
      await pool(bs, this.concurrency, async (b) => {
        const failures = await this.kernel.apply(b);
        const where = b.target.kind === 'root' ? '(root)' : b.target.ref;
        for (const f of failures) {
          const op = b.ops[f.op];
          errors.push({ netns: where, op: op ? describeOp(op) : `#${f.op}`, message: f.message });
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

  async teardown(node: Pick<DesiredNode, 'name' | 'netns'>): Promise<SyncReport> {
    const t0 = performance.now();
    const p0 = this.kernel.processes;
    const ns = await this.kernel.listNamespaces(routingNsPrefix(node.name));
    const nodeLinks = await this.kernel.readNodeLinks(node.netns);
    const plan = diff({ node: node.name, netns: node.netns, routing: [], pods: [] }, { nodeLinks, routing: Object.fromEntries(ns.map((n) => [n, EMPTY_NS])), pods: {} });
    const errors = await this.execute(plan);
    return { changes: countOps(plan), failed: errors.length, errors, processes: this.kernel.processes - p0, batches: plan.batches.length, durationMs: performance.now() - t0 };
  }
}

const EMPTY_NS: NetnsState = { links: [], addrs: [], routes: [], neighs: [], fdb: [], forwarding: { v4: true, v6: true } };
