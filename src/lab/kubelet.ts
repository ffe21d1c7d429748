// The kube lab's kubelet role: one per lab node. It list-watches the Pods and NADs on the lab's
// API server, and for each pod bound to its node creates the pod's netns, then either
// - calls the real Multus thin plugin (`multus` option) as the pod's only CNI network: Multus reads
//   the annotation and NADs itself, calls our plugin per attachment and writes network-status; or
// - emulates Multus: runs eth0 and every attachment of the pod's annotation through the real CNI
//   chain (pods.ts, as the embedded lab does) and writes `k8s.v1.cni.cncf.io/network-status` as
//   Multus does (same text, through pods/status);
// then writes the pod's status as kubelet does. A pod being deleted (deletionTimestamp) is torn down (DEL in reverse order, then
// the netns) and then deleted with a zero grace period. What it made for each pod (chains and
// results, which DEL needs) is kept in a file per pod UID, as Multus keeps its cache on disk, so
// a restarted kubelet carries on. A pod that is gone from a successful list is torn down too.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeStored, type NetAttachDef } from '../api/index.js';
import { listThenWatch, type ListWatchItem } from '../store/list-watch.js';
import type { Store, StoredObject } from '../store/types.js';
import { KubeApiError, type KubeClient } from '../store/kube-client.js';
import type { Runner } from '../util/exec.js';
import type { Logger } from '../util/log.js';
import { containerIdFor, podNetns, type LabConfig, type LabNode } from './layout.js';
import {
  createPod,
  createPodViaMeta,
  DEFAULT_NETCONF_NAME,
  deletePod,
  formatNetworkStatus,
  NETWORK_STATUS_ANNOTATION,
  type PodContext,
  type PodStatus,
} from './pods.js';
import type { ChainConfig } from './cni-runtime.js';
import { addedInterfaceMessage } from './multus-messages.js';
import { kubeletPodStatus, type KubePod } from './kube-pod-status.js';

/** The writes of a kubelet (and of Multus) to the API server, behind an interface for tests. */
export interface PodApi {
  patchAnnotations(namespace: string, name: string, annotations: Record<string, string>): Promise<void>;
  patchStatus(namespace: string, name: string, status: Record<string, unknown>): Promise<void>;
  /** The final delete (grace period 0, the UID as precondition); a pod already gone is fine. */
  deleteNow(namespace: string, name: string, uid: string): Promise<void>;
  /** An event on the pod, as Multus' event recorder writes it (source component `multus`). */
  event?(pod: { namespace: string; name: string; uid: string }, e: PodEvent): Promise<void>;
}

export interface PodEvent {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
}

const podPath = (ns: string, name: string): string =>
  `/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(name)}`;

export class KubePodApi implements PodApi {
  constructor(private readonly client: KubeClient) {}

  /** Through pods/status, as Multus writes network-status (an update of the status subresource). */
  async patchAnnotations(ns: string, name: string, annotations: Record<string, string>): Promise<void> {
    await this.client.request({
      method: 'PATCH',
      // Named as the managers they stand for, so managedFields read as in a cluster.
      path: `${podPath(ns, name)}/status?fieldManager=multus`,
      contentType: 'application/merge-patch+json',
      body: { metadata: { annotations } },
    });
  }

  async patchStatus(ns: string, name: string, status: Record<string, unknown>): Promise<void> {
    await this.client.request({
      method: 'PATCH',
      path: `${podPath(ns, name)}/status?fieldManager=kubelet`,
      contentType: 'application/merge-patch+json',
      body: { status },
    });
  }

  async event(pod: { namespace: string; name: string; uid: string }, e: PodEvent): Promise<void> {
    const now = new Date();
    await this.client.request({
      method: 'POST',
      path: `/api/v1/namespaces/${encodeURIComponent(pod.namespace)}/events`,
      body: {
        apiVersion: 'v1',
        kind: 'Event',
        // client-go's recorder: <object name>.<nanoseconds, hex>
        metadata: { name: `${pod.name}.${(BigInt(now.getTime()) * 1_000_000n).toString(16)}` },
        involvedObject: { apiVersion: 'v1', kind: 'Pod', ...pod },
        type: e.type,
        reason: e.reason,
        message: e.message,
        source: { component: 'multus' },
        firstTimestamp: now.toISOString(),
        lastTimestamp: now.toISOString(),
        count: 1,
        reportingComponent: '',
        reportingInstance: '',
      },
    });
  }

  async deleteNow(ns: string, name: string, uid: string): Promise<void> {
    try {
      await this.client.request({
        method: 'DELETE',
        path: podPath(ns, name),
        body: { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0, preconditions: { uid } },
      });
    } catch (err) {
      // 404: gone; 409: the name now belongs to another pod (another UID): ours is gone too.
      if (err instanceof KubeApiError && (err.status === 404 || err.status === 409)) return;
      throw err;
    }
  }
}

/** What the kubelet keeps per pod UID. */
interface PodRecord {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly status: PodStatus;
  /** The network-status annotation and the pod status were written. */
  readonly reported: boolean;
}

export interface KubeletOptions {
  readonly lab: LabConfig;
  readonly node: LabNode;
  readonly store: Store;
  readonly api: PodApi;
  readonly runner: Runner;
  readonly cniPath: string;
  readonly log: Logger;
  /** Default <lab>/kubelet/<node>. */
  readonly stateDir?: string;
  /** Transient failures (a NAD not seen yet, an agent not ready) are retried this many times. */
  readonly attempts?: number;
  readonly retryMs?: number;
  /** The real Multus: the chain kubelet runs for every pod (multus.ts); absent = the emulation. */
  readonly multus?: ChainConfig;
}

export class LabKubelet {
  private readonly pods = new Map<string, StoredObject>();
  private readonly nads = new Map<string, NetAttachDef>();
  private readonly synced = { pods: false, nads: false };
  private readonly records = new Map<string, PodRecord>();
  private readonly tries = new Map<string, number>();
  private readonly stateDir: string;
  private dirty = false;
  private wake: (() => void) | undefined;

  constructor(private readonly o: KubeletOptions) {
    this.stateDir = o.stateDir ?? join(o.lab.dir, 'kubelet', o.node.name);
    mkdirSync(this.stateDir, { recursive: true });
    for (const f of readdirSync(this.stateDir).filter((x) => x.endsWith('.json'))) {
      const r = JSON.parse(readFileSync(join(this.stateDir, f), 'utf8')) as PodRecord;
      this.records.set(r.uid, r);
    }
  }

  async run(signal: AbortSignal): Promise<void> {
    const onError = (kind: string) => (err: Error, info: { attempt: number; delayMs: number }) =>
      this.o.log.warn({ kind, attempt: info.attempt, retryInMs: info.delayMs }, `watch: ${err.message}`);
    void this.consume(listThenWatch(this.o.store, 'Pod', { signal, onError: onError('Pod') }), (it) =>
      this.mirror(it, this.pods, 'pods'),
    );
    void this.consume(
      listThenWatch(this.o.store, 'NetworkAttachmentDefinition', { signal, onError: onError('NAD') }),
      (it) => this.mirrorNads(it),
    );
    const resync = setInterval(() => this.kick(), 5000);
    signal.addEventListener('abort', () => this.kick(), { once: true });
    try {
      while (!signal.aborted) {
        if (!this.dirty) await new Promise<void>((r) => (this.wake = r));
        this.dirty = false;
        if (signal.aborted) break;
        await this.reconcile().catch((err: unknown) =>
          this.o.log.error({ err: String(err) }, 'reconcile failed; retrying'),
        );
      }
    } finally {
      clearInterval(resync);
    }
  }

  private kick(): void {
    this.dirty = true;
    this.wake?.();
    this.wake = undefined;
  }

  private async consume(it: AsyncIterable<ListWatchItem>, f: (item: ListWatchItem) => void): Promise<void> {
    for await (const item of it) {
      f(item);
      this.kick();
    }
  }

  private mirror(item: ListWatchItem, into: Map<string, StoredObject>, flag: 'pods' | 'nads'): void {
    const key = (o: StoredObject): string => `${o.namespace}/${o.name}`;
    if (item.type === 'SYNCED') {
      into.clear();
      for (const o of item.items) into.set(key(o), o);
      this.synced[flag] = true;
    } else if (item.type === 'DELETED') into.delete(key(item.object));
    else into.set(key(item.object), item.object);
  }

  private readonly rawNads = new Map<string, StoredObject>();
  private mirrorNads(item: ListWatchItem): void {
    this.mirror(item, this.rawNads, 'nads');
    this.nads.clear();
    for (const [k, o] of this.rawNads) {
      const d = decodeStored('NetworkAttachmentDefinition', o);
      if (d.ok) this.nads.set(k, d.value);
    }
  }

  private ctx(): PodContext {
    return { runner: this.o.runner, lab: this.o.lab, cniPath: this.o.cniPath, nads: this.nads };
  }

  private save(r: PodRecord): void {
    this.records.set(r.uid, r);
    const f = join(this.stateDir, `${r.uid}.json`);
    writeFileSync(`${f}.tmp`, JSON.stringify(r));
    renameSync(`${f}.tmp`, f);
  }

  private forget(uid: string): void {
    this.records.delete(uid);
    this.tries.delete(uid);
    this.tries.delete(`del:${uid}`);
    rmSync(join(this.stateDir, `${uid}.json`), { force: true });
  }

  private async reconcile(): Promise<void> {
    if (!this.synced.pods || !this.synced.nads) return;
    const me = this.o.node.name;
    const live = new Set<string>();
    for (const o of [...this.pods.values()]) {
      const pod = o.value as KubePod;
      const uid = pod.metadata?.uid;
      if (!uid || pod.spec?.nodeName !== me) continue;
      live.add(uid);
      const rec = this.records.get(uid);
      if (pod.metadata?.deletionTimestamp) {
        if (rec && !(await this.teardown(rec))) continue;
        await this.o.api.deleteNow(o.namespace, o.name, uid);
        this.forget(uid);
        this.o.log.info({ pod: `${o.namespace}/${o.name}` }, 'deleted');
        continue;
      }
      if (!rec) await this.start(o, pod, uid);
      else if (!rec.reported) await this.report(rec, pod);
    }
    // Pods gone from the API (force-deleted, or deleted while this kubelet was down).
    for (const rec of [...this.records.values()])
      if (!live.has(rec.uid)) {
        if (!(await this.teardown(rec))) continue;
        this.forget(rec.uid);
        this.o.log.info({ pod: `${rec.namespace}/${rec.name}` }, 'gone from the API: torn down');
      }
  }

  private async start(o: StoredObject, pod: KubePod, uid: string): Promise<void> {
    const ref = { namespace: o.namespace, name: o.name, uid };
    const decoded = decodeStored('Pod', o);
    let status: PodStatus;
    const netns = podNetns(this.o.lab.name, o.namespace, o.name, uid);
    const viaMultus = this.o.multus;
    if (viaMultus) {
      // Multus reads the pod from the API server: our decoder is not asked.
      const named = { metadata: { name: o.name, namespace: o.namespace } };
      status = await createPodViaMeta(this.ctx(), named, this.o.node.name, { uid, netns }, viaMultus);
      if (status.phase === 'Failed' && !(await this.retry(named, status, uid))) return;
    } else if (!decoded.ok) {
      status = {
        phase: 'Failed',
        reason: `${decoded.error.field || 'pod'}: ${decoded.error.reason}`,
        nodeName: this.o.node.name,
        netns,
        uid,
        containerId: containerIdFor(o.namespace, o.name, uid),
        attachments: [],
        networkStatus: [],
      };
    } else {
      status = await createPod(this.ctx(), decoded.value, this.o.node.name, { uid, netns });
      if (status.phase === 'Failed' && !(await this.retry(decoded.value, status, uid))) return;
    }
    const { transient: _t, ...kept } = status;
    const rec: PodRecord = { ...ref, status: kept, reported: false };
    this.save(rec);
    this.o.log.info(
      {
        pod: `${o.namespace}/${o.name}`,
        phase: status.phase,
        ...(status.reason ? { reason: status.reason } : {}),
      },
      'pod started',
    );
    await this.report(rec, pod);
  }

  /**
   * After a failed start: undo it; false while another try is due (as kubelet retries a sandbox
   * whose CNI ADD failed: the pod stays Pending meanwhile), true when the pod is to be Failed.
   */
  private async retry(
    pod: { metadata: { name: string; namespace?: string } },
    status: PodStatus,
    uid: string,
  ): Promise<boolean> {
    await deletePod(this.ctx(), pod, status);
    const n = (this.tries.get(uid) ?? 0) + 1;
    this.tries.set(uid, n);
    if (!status.transient || n >= (this.o.attempts ?? 10)) return true;
    const name = `${pod.metadata.namespace ?? 'default'}/${pod.metadata.name}`;
    this.o.log.info({ pod: name, attempt: n }, `retrying: ${status.reason}`);
    setTimeout(() => this.kick(), this.o.retryMs ?? 1000).unref();
    return false;
  }

  /** network-status as Multus writes it (unless the real Multus did), then the status as kubelet writes it. */
  private async report(rec: PodRecord, pod: KubePod): Promise<void> {
    try {
      if (rec.status.phase === 'Running' && !this.o.multus) {
        await this.o.api.patchAnnotations(rec.namespace, rec.name, {
          [NETWORK_STATUS_ANNOTATION]: formatNetworkStatus(rec.status.networkStatus),
        });
        // Multus' AddedInterface events, one per delegate (best effort, as a recorder's are).
        const pod = { namespace: rec.namespace, name: rec.name, uid: rec.uid };
        for (const a of rec.status.attachments) {
          const message = addedInterfaceMessage(a.ifName, a.result, a.nad || DEFAULT_NETCONF_NAME);
          await this.o.api
            .event?.(pod, { type: 'Normal', reason: 'AddedInterface', message })
            .catch(() => undefined);
        }
      }
      await this.o.api.patchStatus(
        rec.namespace,
        rec.name,
        kubeletPodStatus(pod, rec.status, this.o.node, new Date().toISOString()),
      );
      this.save({ ...rec, reported: true });
    } catch (err) {
      // The API server may be away: the next pass (an event or the 5 s resync) writes it again.
      this.o.log.warn({ pod: `${rec.namespace}/${rec.name}`, err: String(err) }, 'status not written yet');
    }
  }

  /**
   * DEL of every attachment (reverse order), then the netns. False while it fails (an agent not
   * answering): the pod is kept and tried again, up to `attempts` passes, so no address leaks
   * because an agent restarted at the wrong moment; after that the pod is let go (and logged).
   */
  private async teardown(rec: PodRecord): Promise<boolean> {
    const pod = { metadata: { name: rec.name, namespace: rec.namespace } };
    const errors = await deletePod(this.ctx(), pod, rec.status);
    if (errors.length === 0) return true;
    const n = (this.tries.get(`del:${rec.uid}`) ?? 0) + 1;
    this.tries.set(`del:${rec.uid}`, n);
    for (const e of errors)
      this.o.log.warn({ pod: `${rec.namespace}/${rec.name}`, attempt: n }, `teardown: ${e}`);
    if (n < (this.o.attempts ?? 10)) {
      setTimeout(() => this.kick(), this.o.retryMs ?? 1000).unref();
      return false;
    }
    return true;
  }

  /** For tests: the pods this kubelet holds. */
  held(): string[] {
    return [...this.records.values()].map((r) => `${r.namespace}/${r.name}`).sort();
  }
}
