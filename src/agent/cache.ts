// The agent's in-memory copy of the cluster, fed by list-then-watch per kind. Raw manifests are
// kept as stored; typed views (networks) are derived on change so calc stays pure and cheap.
import type { StoredObject, WatchEvent } from '../store/types.js';
import type { ClusterView, NetworkInfo } from '../calc/node-state.js';
import { KIND_ATTACHMENT, KIND_NODE, type AttachmentRecord, type NodeRecord } from '../calc/records.js';
import { networkInfoFromManifest, resourceFromStored } from './manifests.js';
import type { Pod, Resource, Service } from '../api/index.js';
import type { PolicyResource } from '../calc/node-state.js';

export const KIND_NETWORK = 'Network';
export const KIND_NAD = 'NetworkAttachmentDefinition';
export const KIND_POD = 'Pod';
export const KIND_SERVICE = 'Service';
/** Store kinds of policies (the api's resource `type`s). */
export const POLICY_KINDS = [
  'CalicoNetworkPolicy',
  'CalicoGlobalNetworkPolicy',
  'KubernetesNetworkPolicy',
] as const;

/** Kinds the agent watches. */
export const WATCHED_KINDS = [
  KIND_NETWORK,
  KIND_NAD,
  KIND_NODE,
  KIND_ATTACHMENT,
  KIND_POD,
  KIND_SERVICE,
  ...POLICY_KINDS,
] as const;

/** Kinds kept as typed api resources (re-validated from the stored manifest). */
const TYPED_KINDS: ReadonlySet<string> = new Set([KIND_POD, KIND_SERVICE, ...POLICY_KINDS]);

const keyOf = (o: { namespace: string; name: string }): string => `${o.namespace}/${o.name}`;

export class ClusterCache {
  private readonly objects = new Map<string, Map<string, StoredObject>>();
  readonly networks = new Map<string, NetworkInfo>();
  readonly nodes = new Map<string, NodeRecord>();
  readonly attachments = new Map<string, AttachmentRecord>();
  /** Networks whose stored manifest could not be read (name -> reason), shown in logs/status. */
  readonly invalid = new Map<string, string>();
  /** Pods, services and policies as typed resources, by kind then `ns/name`. */
  private readonly typed = new Map<string, Map<string, Resource>>();

  /** Replaces everything of `kind` (a list-then-watch snapshot). */
  replace(kind: string, items: readonly StoredObject[]): void {
    const m = new Map<string, StoredObject>();
    for (const o of items) m.set(keyOf(o), o);
    this.objects.set(kind, m);
    this.rebuild(kind);
  }

  apply(kind: string, ev: WatchEvent): void {
    const m = this.objects.get(kind) ?? new Map<string, StoredObject>();
    this.objects.set(kind, m);
    if (ev.type === 'DELETED') m.delete(keyOf(ev.object));
    else m.set(keyOf(ev.object), ev.object);
    this.rebuildOne(kind, ev);
  }

  /** Local write-through after our own store write, so the next sync sees it before the watch does. */
  putAttachment(namespace: string, name: string, rec: AttachmentRecord | undefined): void {
    const k = `${namespace}/${name}`;
    if (rec) this.attachments.set(k, rec);
    else this.attachments.delete(k);
  }

  list(kind: string): StoredObject[] {
    return [...(this.objects.get(kind)?.values() ?? [])];
  }

  get(kind: string, namespace: string, name: string): StoredObject | undefined {
    return this.objects.get(kind)?.get(`${namespace}/${name}`);
  }

  view(): ClusterView {
    return {
      networks: this.networks,
      nodes: this.nodes,
      attachments: [...this.attachments.values()],
      pods: this.typedList(KIND_POD) as Pod[],
      services: this.typedList(KIND_SERVICE) as Service[],
      policies: POLICY_KINDS.flatMap((k) => this.typedList(k)) as PolicyResource[],
    };
  }

  private typedList(kind: string): Resource[] {
    return [...(this.typed.get(kind)?.values() ?? [])];
  }

  private setTyped(kind: string, key: string, o: StoredObject | undefined): void {
    const m = this.typed.get(kind) ?? new Map<string, Resource>();
    this.typed.set(kind, m);
    if (!o) {
      m.delete(key);
      return;
    }
    const r = resourceFromStored(o);
    if (r) m.set(key, r);
    else m.delete(key);
  }

  private rebuild(kind: string): void {
    const items = this.list(kind);
    if (TYPED_KINDS.has(kind)) {
      this.typed.delete(kind);
      for (const o of items) this.setTyped(kind, keyOf(o), o);
    }
    if (kind === KIND_NETWORK) {
      this.networks.clear();
      this.invalid.clear();
      for (const o of items) this.setNetwork(o);
    } else if (kind === KIND_NODE) {
      this.nodes.clear();
      for (const o of items) this.nodes.set(o.name, o.value as NodeRecord);
    } else if (kind === KIND_ATTACHMENT) {
      this.attachments.clear();
      for (const o of items) this.attachments.set(keyOf(o), o.value as AttachmentRecord);
    }
  }

  private rebuildOne(kind: string, ev: WatchEvent): void {
    const o = ev.object;
    const del = ev.type === 'DELETED';
    if (TYPED_KINDS.has(kind)) this.setTyped(kind, keyOf(o), del ? undefined : o);
    if (kind === KIND_NETWORK) {
      this.networks.delete(o.name);
      this.invalid.delete(o.name);
      if (!del) this.setNetwork(o);
    } else if (kind === KIND_NODE) {
      if (del) this.nodes.delete(o.name);
      else this.nodes.set(o.name, o.value as NodeRecord);
    } else if (kind === KIND_ATTACHMENT) {
      if (del) this.attachments.delete(keyOf(o));
      else this.attachments.set(keyOf(o), o.value as AttachmentRecord);
    }
  }

  private setNetwork(o: StoredObject): void {
    const r = networkInfoFromManifest(o.value);
    if (r.ok) this.networks.set(o.name, r.value);
    else this.invalid.set(o.name, r.error);
  }
}
