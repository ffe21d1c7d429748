// The lab's read of the cluster: every kind the agents watch, decoded once through the api's
// decoder table into the same ClusterCache the agents keep, so lab commands and agents see one
// model (and build their ClusterView with one builder).
import type { Store, StoredObject } from '../store/types.js';
import { ClusterCache, WATCHED_KINDS } from '../agent/cache.js';
import type { PodStatus } from './pods.js';
import { kubePodView, type KubePod, type PodView } from './kube-pod-status.js';

export async function readCluster(store: Store): Promise<ClusterCache> {
  const c = new ClusterCache();
  for (const k of WATCHED_KINDS) c.replace(k, (await store.list(k)).items);
  return c;
}

/** The lab's status of a stored Pod (written by `lab apply`, as the kubelet would). */
export function podStatusOf(o: Pick<StoredObject, 'value'> | undefined): PodStatus | undefined {
  const v = o?.value;
  if (typeof v !== 'object' || v === null) return undefined;
  return (v as { status?: PodStatus }).status;
}

/** The pod as the lab commands see it: the embedded lab's status, or a kube lab's Pod. */
export function podViewOf(o: Pick<StoredObject, 'value'> | undefined, lab: string): PodView | undefined {
  const embedded = podStatusOf(o);
  if (embedded && typeof embedded.containerId === 'string') return embedded;
  const v = o?.value as KubePod | undefined;
  return v?.metadata?.uid ? kubePodView(lab, v) : undefined;
}
