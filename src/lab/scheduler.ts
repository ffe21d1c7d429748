// The kube lab's scheduler: binds each unscheduled pod (no spec.nodeName) to the lab node that
// holds the fewest pods (ties by name), through the pods/binding subresource, as kube-scheduler
// does, authenticated as system:kube-scheduler. One process for the lab.
import { listThenWatch } from '../store/list-watch.js';
import type { Store, StoredObject } from '../store/types.js';
import { KubeApiError, type KubeClient } from '../store/kube-client.js';
import type { Logger } from '../util/log.js';
import type { KubePod } from './kube-pod-status.js';

export type Bind = (namespace: string, name: string, uid: string, node: string) => Promise<void>;

export function kubeBinder(client: KubeClient): Bind {
  return async (namespace, name, uid, node) => {
    const ns = encodeURIComponent(namespace);
    try {
      await client.request({
        method: 'POST',
        path: `/api/v1/namespaces/${ns}/pods/${encodeURIComponent(name)}/binding`,
        body: {
          apiVersion: 'v1',
          kind: 'Binding',
          metadata: { name, namespace, uid },
          target: { apiVersion: 'v1', kind: 'Node', name: node },
        },
      });
    } catch (err) {
      // 409: bound meanwhile (or another pod's UID now); 404: deleted meanwhile. Both: not ours to bind.
      if (err instanceof KubeApiError && (err.status === 409 || err.status === 404)) return;
      throw err;
    }
  };
}

/** The node for a pod: the fewest pods (terminating ones excluded), then by name. Pure. */
export function pickLeastLoaded(nodes: readonly string[], pods: readonly KubePod[]): string {
  const counts = new Map(nodes.map((n) => [n, 0]));
  for (const p of pods) {
    const n = p.spec?.nodeName;
    if (n && counts.has(n) && !p.metadata?.deletionTimestamp) counts.set(n, counts.get(n)! + 1);
  }
  return [...counts].sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]))[0]![0];
}

export class LabScheduler {
  constructor(
    private readonly o: {
      nodes: readonly string[];
      store: Store;
      bind: Bind;
      log: Logger;
      /** Wait before binding again after a failure (default 2 s). */
      retryMs?: number;
    },
  ) {}

  async run(signal: AbortSignal): Promise<void> {
    const pods = new Map<string, StoredObject>();
    const key = (x: StoredObject): string => `${x.namespace}/${x.name}`;
    let timer: NodeJS.Timeout | undefined;
    // A binding that failed (API server away) is tried again even if no event comes, until it works.
    const retry = (failed: boolean): void => {
      clearTimeout(timer);
      timer = undefined;
      if (failed && !signal.aborted)
        timer = setTimeout(() => void this.schedule(pods).then(retry), this.o.retryMs ?? 2000).unref();
    };
    const onError = (err: Error, info: { attempt: number; delayMs: number }): void =>
      this.o.log.warn({ attempt: info.attempt, retryInMs: info.delayMs }, `watch: ${err.message}`);
    for await (const item of listThenWatch(this.o.store, 'Pod', { signal, onError })) {
      if (item.type === 'SYNCED') {
        pods.clear();
        for (const x of item.items) pods.set(key(x), x);
      } else if (item.type === 'DELETED') pods.delete(key(item.object));
      else pods.set(key(item.object), item.object);
      retry(await this.schedule(pods));
    }
    clearTimeout(timer);
  }

  /** Binds every unscheduled pod; true if some binding failed. */
  private async schedule(pods: Map<string, StoredObject>): Promise<boolean> {
    let failed = false;
    for (const o of pods.values()) {
      const p = o.value as KubePod & { spec?: { nodeName?: string } };
      if (p.spec?.nodeName || p.metadata?.deletionTimestamp || !p.metadata?.uid) continue;
      const node = pickLeastLoaded(
        this.o.nodes,
        [...pods.values()].map((x) => x.value as KubePod),
      );
      try {
        await this.o.bind(o.namespace, o.name, p.metadata.uid, node);
        // Counted at once, so that several pods in one pass spread over the nodes.
        pods.set(`${o.namespace}/${o.name}`, { ...o, value: { ...p, spec: { ...p.spec, nodeName: node } } });
        this.o.log.info({ pod: `${o.namespace}/${o.name}`, node }, 'bound');
      } catch (err) {
        failed = true;
        this.o.log.warn({ pod: `${o.namespace}/${o.name}`, err: String(err) }, 'binding failed');
      }
    }
    return failed;
  }
}
