// `lab apply -f` / `lab delete -f` with kubectl semantics: everything is validated first (against
// what the cluster already holds), then objects are created or updated in the store, and pods
// are created, changed or removed on the nodes.
import {
  decodeStored,
  MANIFEST_KINDS,
  storeKey,
  validateDocuments,
  validateAll,
  type Issue,
  type Resource,
  type Pod,
  type NetAttachDef,
  type Service,
} from '../api/index.js';
import { loadPaths } from '../api/load.js';
import type { Store } from '../store/types.js';
import { putIfChanged } from '../store/put.js';
import type { ClusterCache } from '../agent/cache.js';
import { podStatusOf, readCluster } from './cluster.js';
import type { Runner } from '../util/exec.js';
import type { LabConfig } from './layout.js';
import { assignClusterIPs, withClusterIP } from './services-ip.js';
import {
  attachOne,
  createPod,
  deletePod,
  detachOne,
  formatNetworkStatus,
  networkStatus,
  NETWORK_STATUS_ANNOTATION,
  type PodAttachmentState,
  type PodContext,
  type PodStatus,
} from './pods.js';

export type Progress = (line: string) => void;

const kindOrder = (r: Resource): number => MANIFEST_KINDS.indexOf(r.type);

/** Every decoded user manifest of the cluster, in apply order. */
function manifests(c: ClusterCache): Resource[] {
  return MANIFEST_KINDS.flatMap((k): Resource[] => c.resources(k));
}

function stripStatus(v: unknown): unknown {
  if (typeof v !== 'object' || v === null) return v;
  const { status: _s, ...rest } = v as Record<string, unknown>;
  return rest;
}

export interface ApplyOutcome {
  readonly issues: Issue[];
  readonly errorCount: number;
  readonly changed: string[];
}

export function podContext(
  runner: Runner,
  lab: LabConfig,
  cniPath: string,
  resources: readonly Resource[],
): PodContext {
  const nads = new Map<string, NetAttachDef>();
  for (const r of resources)
    if (r.type === 'NetworkAttachmentDefinition') nads.set(`${r.metadata.namespace}/${r.metadata.name}`, r);
  return { runner, lab, cniPath, nads };
}

/** kubectl's words for putIfChanged's outcome. */
async function upsert(
  store: Store,
  key: { kind: string; namespace: string; name: string },
  value: unknown,
): Promise<'created' | 'configured' | 'unchanged'> {
  const r = await putIfChanged(store, key, value);
  return r === 'updated' ? 'configured' : r;
}

function pickNode(
  lab: LabConfig,
  pod: Pod,
  cluster: ClusterCache,
  extra: Map<string, number>,
): string | Error {
  if (pod.spec.nodeName) {
    return lab.nodes.some((n) => n.name === pod.spec.nodeName)
      ? pod.spec.nodeName
      : new Error(`spec.nodeName ${pod.spec.nodeName}: no such node in the lab`);
  }
  const counts = new Map(lab.nodes.map((n) => [n.name, extra.get(n.name) ?? 0]));
  // Every stored pod holds its node, whether its manifest still decodes or not.
  for (const o of cluster.list('Pod')) {
    const st = podStatusOf(o);
    if (st) counts.set(st.nodeName, (counts.get(st.nodeName) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]))[0]![0];
}

function withStatus(raw: unknown, status: PodStatus): Record<string, unknown> {
  const m = { ...(raw as Record<string, unknown>) };
  const meta = { ...((m.metadata as Record<string, unknown>) ?? {}) };
  meta.annotations = {
    ...((meta.annotations as Record<string, string>) ?? {}),
    [NETWORK_STATUS_ANNOTATION]: formatNetworkStatus(status.networkStatus),
  };
  m.metadata = meta;
  const { transient: _t, ...kept } = status;
  m.status = kept;
  return m;
}

function sameAttachment(
  a: { nad: string; ifName: string },
  b: { namespace: string; name: string; interface: string },
): boolean {
  return a.nad === `${b.namespace}/${b.name}` && a.ifName === b.interface;
}

export interface ApplyCheck {
  readonly loaded: Awaited<ReturnType<typeof loadPaths>>;
  readonly report: ReturnType<typeof validateDocuments>;
  readonly cluster: ClusterCache;
  /** The cluster's manifests that the files do not replace. */
  readonly kept: Resource[];
  readonly issues: Issue[];
  readonly errorCount: number;
}

/** Loads and validates the files: each object alone, then against what the cluster holds. */
export async function checkApply(store: Store, paths: readonly string[]): Promise<ApplyCheck> {
  const loaded = await loadPaths(paths);
  const report = validateDocuments(loaded.documents, loaded.issues);
  const cluster = await readCluster(store);
  // Cross-check against what the cluster holds, with the applied objects replacing their old versions.
  const appliedIds = new Set(report.resources.map((r) => JSON.stringify(storeKey(r))));
  const kept = manifests(cluster).filter((r) => !appliedIds.has(JSON.stringify(storeKey(r))));
  const fromInput = new Set(report.resources.map((r) => r.source.file));
  const cross = validateAll([...report.resources, ...kept]).filter((i) => fromInput.has(i.file));
  // Per-object issues from the files, cross-object ones against the whole cluster (not the files alone).
  const issues = [...loaded.issues, ...report.objects.flatMap((o) => o.issues), ...cross];
  const errorCount = issues.filter((i) => i.severity === 'error').length;
  return { loaded, report, cluster, kept, issues, errorCount };
}

export async function applyPaths(
  store: Store,
  runner: Runner,
  lab: LabConfig,
  cniPath: string,
  paths: readonly string[],
  progress: Progress,
): Promise<ApplyOutcome> {
  const { loaded, report, cluster, kept, issues, errorCount } = await checkApply(store, paths);
  if (errorCount > 0) return { issues, errorCount, changed: [] };
  // ClusterIPs are decided before anything is written, so a conflict applies nothing.
  const svcIps = assignClusterIPs(
    lab.serviceRange,
    report.resources.filter((r): r is Service => r.type === 'Service'),
    cluster.resources('Service'),
  );
  if (svcIps.issues.length)
    return { issues: [...issues, ...svcIps.issues], errorCount: svcIps.issues.length, changed: [] };

  const docs = new Map<Resource, unknown>();
  report.objects.forEach((o, i) => {
    if (o.resource) docs.set(o.resource, loaded.documents[i]!.value);
  });
  const ordered = [...report.resources].sort((a, b) => kindOrder(a) - kindOrder(b));
  const changed: string[] = [];
  const ctx = podContext(runner, lab, cniPath, [...kept, ...report.resources]);
  const placed = new Map<string, number>();
  const changedNads = new Set<string>();
  for (const r of ordered) {
    const key = storeKey(r);
    const raw = docs.get(r);
    const ref = `${r.kind.toLowerCase()}/${r.metadata.name}`;
    if (r.type !== 'Pod') {
      const ip =
        r.type === 'Service' ? svcIps.ips.get(`${key.namespace || 'default'}/${key.name}`) : undefined;
      const what = await upsert(store, key, ip ? withClusterIP(raw, ip) : raw);
      progress(`${ref} ${what}`);
      if (what !== 'unchanged') changed.push(ref);
      if (what === 'configured' && r.type === 'NetworkAttachmentDefinition')
        changedNads.add(`${key.namespace}/${key.name}`);
      continue;
    }
    const status = podStatusOf(await store.get(key));
    if (!status || status.phase === 'Failed') {
      if (status) await deletePod(ctx, r, status);
      const node = pickNode(lab, r, cluster, placed);
      if (node instanceof Error) {
        await upsert(
          store,
          key,
          withStatus(raw, {
            phase: 'Failed',
            reason: node.message,
            nodeName: '',
            netns: '',
            uid: '',
            containerId: '',
            attachments: [],
            networkStatus: [],
          }),
        );
        progress(`${ref} failed: ${node.message}`);
        continue;
      }
      placed.set(node, (placed.get(node) ?? 0) + 1);
      progress(`${ref} creating on ${node}`);
      const st = await createPod(ctx, r, node);
      await upsert(store, key, withStatus(raw, st));
      progress(st.phase === 'Running' ? `${ref} running on ${node}` : `${ref} FAILED: ${st.reason}`);
      changed.push(ref);
      continue;
    }
    // Running pod: attachments added or removed in the annotation are applied to the live pod.
    const keep = status.attachments.filter(
      (s) => s.nad === '' || r.attachments.some((a) => sameAttachment(s, a)),
    );
    const removed = status.attachments.filter((s) => !keep.includes(s));
    for (const s of removed) {
      await detachOne(ctx, r, status, s);
      progress(`${ref} detached ${s.ifName}`);
    }
    const next = [...keep];
    let failure: string | undefined;
    for (const a of r.attachments) {
      if (keep.some((s) => sameAttachment(s, a))) continue;
      try {
        next.push(await attachOne(ctx, r, status, a));
        progress(`${ref} attached ${a.interface}`);
      } catch (e) {
        failure = (e as Error).message;
        progress(`${ref} could not attach ${a.interface}: ${failure}`);
      }
    }
    const st: PodStatus = {
      ...status,
      attachments: next,
      networkStatus: networkStatus(next),
      ...(failure ? { reason: failure } : {}),
    };
    const what = await upsert(store, key, withStatus(raw, st));
    if (what !== 'unchanged') {
      changed.push(ref);
      progress(`${ref} configured`);
    } else progress(`${ref} unchanged`);
  }
  if (changedNads.size) await reattach(store, ctx, changedNads, progress, changed);
  return { issues, errorCount: 0, changed };
}

/** A NAD whose config changed is applied to the running pods that use it: DEL with the old chain, ADD with the new. */
async function reattach(
  store: Store,
  ctx: PodContext,
  nads: ReadonlySet<string>,
  progress: Progress,
  changed: string[],
): Promise<void> {
  for (const o of (await store.list('Pod')).items) {
    const status = podStatusOf(o);
    if (!status || status.phase !== 'Running' || !status.attachments.some((s) => nads.has(s.nad))) continue;
    const decoded = decodeStored('Pod', o);
    if (!decoded.ok) {
      progress(`pod/${o.name}: not re-attached: ${decoded.error.field} ${decoded.error.reason}`);
      continue;
    }
    const pod = decoded.value;
    const ref = `pod/${o.name}`;
    const next: PodAttachmentState[] = [];
    let failure: string | undefined;
    for (const s of status.attachments) {
      const a = pod.attachments.find((x) => sameAttachment(s, x));
      if (!a || !nads.has(s.nad)) {
        next.push(s);
        continue;
      }
      await detachOne(ctx, pod, status, s).catch((e: unknown) =>
        progress(`${ref} detach ${s.ifName}: ${(e as Error).message}`),
      );
      try {
        next.push(await attachOne(ctx, pod, status, a));
        progress(`${ref} ${s.ifName} re-attached with the new ${s.nad}`);
      } catch (e) {
        failure = (e as Error).message;
        progress(`${ref} could not re-attach ${s.ifName}: ${failure}`);
      }
    }
    const st: PodStatus = {
      ...status,
      attachments: next,
      networkStatus: networkStatus(next),
      ...(failure ? { reason: failure } : {}),
    };
    await upsert(
      store,
      { kind: 'Pod', namespace: o.namespace, name: o.name },
      withStatus(stripStatus(o.value), st),
    );
    changed.push(ref);
  }
}

export async function deletePaths(
  store: Store,
  runner: Runner,
  lab: LabConfig,
  cniPath: string,
  paths: readonly string[],
  progress: Progress,
): Promise<ApplyOutcome> {
  const loaded = await loadPaths(paths);
  const report = validateDocuments(loaded.documents, loaded.issues);
  const errs = report.objects.flatMap((o) => o.issues).filter((i) => i.severity === 'error');
  if (errs.length) return { issues: errs, errorCount: errs.length, changed: [] };
  const cluster = await readCluster(store);
  const ctx = podContext(runner, lab, cniPath, manifests(cluster));
  const ordered = [...report.resources].sort((a, b) => kindOrder(b) - kindOrder(a));
  const changed: string[] = [];
  for (const r of ordered) {
    const key = storeKey(r);
    const ref = `${r.kind.toLowerCase()}/${r.metadata.name}`;
    const cur = await store.get(key);
    if (!cur) {
      progress(`${ref} not found`);
      continue;
    }
    if (r.type === 'Pod') {
      const status = podStatusOf(cur);
      if (status) {
        const errors = await deletePod(ctx, r, status);
        for (const e of errors) progress(`${ref}: ${e}`);
      }
    }
    await store.delete(key);
    progress(`${ref} deleted`);
    changed.push(ref);
  }
  return { issues: [], errorCount: 0, changed };
}
