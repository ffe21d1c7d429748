// The decoded cluster: what list-then-watch delivers, decoded once per stored revision through the
// api's decoder table (src/api/stored.ts), so readers get typed resources and never re-validate.
// The agent keeps one and feeds it events; the lab loads one per command (src/lab/cluster.ts).
//
// A stored object that does not decode (written by another version, or by hand) is logged with its
// name and skipped. If an earlier revision of it decoded, that one is kept: dropping it would tear
// down the dataplane (interfaces, services, policies) of something that still exists.
import {
  decodeStored,
  isStoredKind,
  POLICY_KINDS,
  type DecodeError,
  type StoredKind,
  type StoredKinds,
} from '../api/index.js';
import type { StoredObject, WatchEvent } from '../store/types.js';
import type { ClusterView, NetworkInfo } from '../calc/node-state.js';
import { clusterView, networkInfo } from '../calc/cluster-view.js';
import { KIND_ATTACHMENT, KIND_NODE, type AttachmentRecord, type NodeRecord } from '../calc/records.js';
import { silentLogger, type Logger } from '../util/log.js';

export { POLICY_KINDS };
export const KIND_NETWORK = 'Network';
export const KIND_NAD = 'NetworkAttachmentDefinition';
export const KIND_POD = 'Pod';
export const KIND_SERVICE = 'Service';
export const KIND_NAMESPACE = 'Namespace';

/** Kinds the agent watches. */
export const WATCHED_KINDS = [
  KIND_NETWORK,
  KIND_NAD,
  KIND_NODE,
  KIND_ATTACHMENT,
  KIND_POD,
  KIND_SERVICE,
  KIND_NAMESPACE,
  ...POLICY_KINDS,
] as const satisfies readonly StoredKind[];

/** A decoded object and the stored revision it was decoded from. */
export interface CacheEntry<T> {
  readonly stored: StoredObject;
  readonly value: T;
}

const keyOf = (o: { namespace: string; name: string }): string => `${o.namespace}/${o.name}`;

export class ClusterCache {
  /** As stored, by kind then `ns/name` (the current revision, decodable or not). */
  private readonly objects = new Map<string, Map<string, StoredObject>>();
  private readonly decoded = new Map<StoredKind, Map<string, CacheEntry<unknown>>>();
  /** Objects whose current revision does not decode, by kind then `ns/name`. */
  private readonly problems = new Map<StoredKind, Map<string, DecodeError>>();
  /** Decoded Networks as calc reads them, by name. */
  readonly networks = new Map<string, NetworkInfo>();
  readonly nodes = new Map<string, NodeRecord>();
  /** Decoded attachments by `ns/name`, plus our own writes ahead of their watch events. */
  readonly attachments = new Map<string, AttachmentRecord>();
  /** Networks whose current stored revision does not decode (name -> `field: reason`). */
  readonly invalid = new Map<string, string>();

  constructor(private readonly log: Logger = silentLogger) {}

  /** Replaces everything of `kind` (a list-then-watch snapshot). */
  replace(kind: string, items: readonly StoredObject[]): void {
    const m = new Map<string, StoredObject>();
    for (const o of items) m.set(keyOf(o), o);
    this.objects.set(kind, m);
    if (!isStoredKind(kind)) return;
    for (const [key, e] of this.decoded.get(kind) ?? []) if (!m.has(key)) this.forget(kind, e.stored);
    for (const key of this.problems.get(kind)?.keys() ?? []) {
      const [namespace = '', name = ''] = key.split('/', 2);
      if (!m.has(key)) this.forget(kind, { kind, namespace, name, value: undefined, resourceVersion: '0' });
    }
    for (const o of items) this.decode(kind, o);
  }

  apply(kind: string, ev: WatchEvent): void {
    const m = this.objects.get(kind) ?? new Map<string, StoredObject>();
    this.objects.set(kind, m);
    if (ev.type === 'DELETED') m.delete(keyOf(ev.object));
    else m.set(keyOf(ev.object), ev.object);
    if (!isStoredKind(kind)) return;
    if (ev.type === 'DELETED') this.forget(kind, ev.object);
    else this.decode(kind, ev.object);
  }

  /** Local write-through after our own store write, so the next sync sees it before the watch does. */
  putAttachment(namespace: string, name: string, rec: AttachmentRecord | undefined): void {
    const k = `${namespace}/${name}`;
    if (rec) this.attachments.set(k, rec);
    else this.attachments.delete(k);
  }

  /** Stored objects of `kind` as the store holds them. */
  list(kind: string): StoredObject[] {
    return [...(this.objects.get(kind)?.values() ?? [])];
  }

  get(kind: string, namespace: string, name: string): StoredObject | undefined {
    return this.objects.get(kind)?.get(`${namespace}/${name}`);
  }

  /** The decoded objects of `kind`, each with the stored revision it came from. */
  entries<K extends StoredKind>(kind: K): CacheEntry<StoredKinds[K]>[] {
    return [...((this.decoded.get(kind)?.values() ?? []) as Iterable<CacheEntry<StoredKinds[K]>>)];
  }

  resources<K extends StoredKind>(kind: K): StoredKinds[K][] {
    return this.entries(kind).map((e) => e.value);
  }

  /** Stored objects whose current revision does not decode, sorted by object. */
  undecodable(): DecodeError[] {
    return [...this.problems.values()]
      .flatMap((m) => [...m.values()])
      .sort((a, b) => (a.object < b.object ? -1 : a.object > b.object ? 1 : 0));
  }

  view(): ClusterView {
    return clusterView({
      networks: this.resources('Network'),
      nodes: this.nodes.values(),
      attachments: this.attachments.values(),
      pods: this.resources('Pod'),
      services: this.resources('Service'),
      policies: POLICY_KINDS.flatMap((k) => this.resources(k)),
      // Only a store that has Namespace objects (kubernetes://) lists any.
      ...(this.decoded.get(KIND_NAMESPACE)?.size ? { namespaces: this.resources(KIND_NAMESPACE) } : {}),
    });
  }

  private decode(kind: StoredKind, o: StoredObject): void {
    const key = keyOf(o);
    const problems = this.problems.get(kind) ?? new Map<string, DecodeError>();
    this.problems.set(kind, problems);
    const d = decodeStored(kind, o);
    if (d.ok) {
      problems.delete(key);
      if (kind === KIND_NETWORK) this.invalid.delete(o.name);
      this.set(kind, key, { stored: o, value: d.value });
      return;
    }
    const kept = this.decoded.get(kind)?.get(key);
    const known = problems.get(key);
    problems.set(key, d.error);
    if (kind === KIND_NETWORK)
      this.invalid.set(o.name, `${d.error.field ? `${d.error.field}: ` : ''}${d.error.reason}`);
    // Once per problem, not once per re-list.
    if (known?.field !== d.error.field || known.reason !== d.error.reason)
      this.log.warn(
        {
          object: d.error.object,
          resourceVersion: o.resourceVersion,
          field: d.error.field,
          reason: d.error.reason,
          ...(kept ? { keptResourceVersion: kept.stored.resourceVersion } : {}),
        },
        kept
          ? 'stored object does not decode; keeping its last valid revision'
          : 'stored object does not decode; skipped',
      );
  }

  private forget(kind: StoredKind, o: StoredObject): void {
    this.problems.get(kind)?.delete(keyOf(o));
    if (kind === KIND_NETWORK) this.invalid.delete(o.name);
    this.set(kind, keyOf(o), undefined);
  }

  private set(kind: StoredKind, key: string, e: CacheEntry<unknown> | undefined): void {
    const m = this.decoded.get(kind) ?? new Map<string, CacheEntry<unknown>>();
    this.decoded.set(kind, m);
    if (e) m.set(key, e);
    else m.delete(key);
    const name = key.slice(key.indexOf('/') + 1);
    if (kind === KIND_NETWORK) {
      if (e) this.networks.set(name, networkInfo(e.value as StoredKinds['Network']));
      else this.networks.delete(name);
    } else if (kind === KIND_NODE) {
      if (e) this.nodes.set(name, e.value as NodeRecord);
      else this.nodes.delete(name);
    } else if (kind === KIND_ATTACHMENT) {
      if (e) this.attachments.set(key, e.value as AttachmentRecord);
      else this.attachments.delete(key);
    }
  }
}
