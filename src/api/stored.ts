// The one decoder per stored kind: what the store holds (plain JSON, maybe written by another
// version) -> the validated typed resource, or the first reason it is not one. Every reader (the
// agent's cache, the lab, the CLI) decodes through this table, once per stored revision.
import { IssueSink, type Issue } from './issues.js';
import { attachmentRecordFrom, nodeRecordFrom, KIND_ATTACHMENT, KIND_NODE } from './records.js';
import type { AttachmentRecord, NodeRecord } from './records.js';
import type {
  CalicoPolicy,
  KubeNamespace,
  KubernetesNetworkPolicy,
  NetAttachDef,
  Network,
  Pod,
  Resource,
  Service,
} from './types.js';
import { checkLabelKey, checkLabelValue } from './names.js';
import { validateObject } from './validate.js';

/** One stored object as the store returns it (structural, so api imports nothing of ours). */
export interface StoredValue {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly value: unknown;
}

/** Why a stored object does not decode: which object, which field ('' = the whole), why. */
export interface DecodeError {
  /** `Kind/name` or `Kind/namespace/name`, as the store keys it. */
  readonly object: string;
  readonly field: string;
  readonly reason: string;
}

export type Decoded<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: DecodeError };

/** Stored kind -> the typed value its decoder returns. User manifests are stored under their api `type`. */
export interface StoredKinds {
  readonly Network: Network;
  readonly NetworkAttachmentDefinition: NetAttachDef;
  readonly Pod: Pod;
  readonly Service: Service;
  readonly CalicoNetworkPolicy: CalicoPolicy;
  readonly CalicoGlobalNetworkPolicy: CalicoPolicy;
  readonly KubernetesNetworkPolicy: KubernetesNetworkPolicy;
  readonly Node: NodeRecord;
  readonly Attachment: AttachmentRecord;
  /** Only kubernetes:// has Namespace objects (read for their labels). */
  readonly Namespace: KubeNamespace;
}
export type StoredKind = keyof StoredKinds;

/** Policy kinds as stored (the api's resource `type`s). */
export const POLICY_KINDS = [
  'CalicoNetworkPolicy',
  'CalicoGlobalNetworkPolicy',
  'KubernetesNetworkPolicy',
] as const satisfies readonly StoredKind[];

/** User manifest kinds, in the order they are applied (what others refer to first). */
export const MANIFEST_KINDS = [
  'Network',
  'NetworkAttachmentDefinition',
  'Service',
  ...POLICY_KINDS,
  'Pod',
] as const satisfies readonly StoredKind[];

export function storedRef(o: { kind: string; namespace: string; name: string }): string {
  return o.namespace ? `${o.kind}/${o.namespace}/${o.name}` : `${o.kind}/${o.name}`;
}

/** Where a resource is stored: its api `type` as kind, '' namespace when cluster-scoped. */
export function storeKey(r: Resource): { kind: StoredKind; namespace: string; name: string } {
  return { kind: r.type, namespace: r.metadata.namespace ?? '', name: r.metadata.name };
}

export function formatDecodeError(e: DecodeError): string {
  return `${e.object}${e.field ? ` ${e.field}` : ''}: ${e.reason}`;
}

function failed(o: StoredValue, issues: readonly Issue[]): { ok: false; error: DecodeError } {
  const e = issues.find((i) => i.severity === 'error');
  return {
    ok: false,
    error: { object: storedRef(o), field: e?.path ?? '', reason: e?.reason ?? 'invalid' },
  };
}

const sinkFor = (o: StoredValue): IssueSink => new IssueSink('<store>', () => 0, storedRef(o));

/**
 * A user manifest: validated as `multinet validate` does. What a real API server adds to what the
 * user wrote is not validated, field by field:
 * - `status` (Pod phase/podIPs/conditions, Service loadBalancer): written by kubelet/controllers
 *   (or the lab), not the manifest: dropped before validation.
 * - metadata.uid, resourceVersion, generation, creationTimestamp, ownerReferences, finalizers,
 *   deletionTimestamp (managedFields is dropped by the store): the validators read only name,
 *   namespace, labels and annotations, so these pass untouched. The annotation
 *   `kubectl.kubernetes.io/last-applied-configuration` is a valid annotation key and is kept.
 * - Server defaults (Pod spec.restartPolicy, dnsPolicy, schedulerName, tolerations,
 *   terminationGracePeriodSeconds, containers[].terminationMessagePath/imagePullPolicy/resources;
 *   Service spec.clusterIPs, ipFamilies, ipFamilyPolicy, internalTrafficPolicy, sessionAffinity):
 *   the Pod and Service validators read only the fields calc uses and ignore the others, so no
 *   per-field exemption is needed; spec.clusterIP (assigned by the API server) is validated as an
 *   IP and is what calc programs. Where a validator lists allowed fields (Network, NAD, policies),
 *   the API server adds none: our Network CRD has no defaults, Multus's NAD CRD and Calico's
 *   crd.projectcalico.org/v1 CRD keep spec as written. So nothing a user writes is checked less.
 */
function manifest<K extends StoredKind>(kind: K) {
  return (o: StoredValue): Decoded<StoredKinds[K]> => {
    let value = o.value;
    if (typeof value === 'object' && value !== null && !Array.isArray(value) && 'status' in value) {
      const { status: _s, ...rest } = value as Record<string, unknown>;
      value = rest;
    }
    const r = validateObject({ file: '<store>', line: 0, index: 0, value, lines: new Map() });
    if (!r.resource) return failed(o, r.issues);
    const got = storeKey(r.resource);
    const where = (field: string, reason: string): { ok: false; error: DecodeError } => ({
      ok: false,
      error: { object: storedRef(o), field, reason },
    });
    if (got.kind !== kind) return where('kind', `is ${got.kind}, stored as ${kind}`);
    if (got.name !== o.name) return where('metadata.name', `is ${got.name}, stored as ${o.name}`);
    if (got.namespace !== o.namespace)
      return where('metadata.namespace', `is "${got.namespace}", stored as "${o.namespace}"`);
    return { ok: true, value: r.resource as StoredKinds[K] };
  };
}

function record<T>(from: (sink: IssueSink, v: unknown) => T | undefined) {
  return (o: StoredValue): Decoded<T> => {
    const sink = sinkFor(o);
    const v = from(sink, o.value);
    return v === undefined ? failed(o, sink.issues) : { ok: true, value: v };
  };
}

/** The decoder table: one entry per stored kind that multinet reads back. */
export const STORED_DECODERS: { readonly [K in StoredKind]: (o: StoredValue) => Decoded<StoredKinds[K]> } = {
  Network: manifest('Network'),
  NetworkAttachmentDefinition: manifest('NetworkAttachmentDefinition'),
  Pod: manifest('Pod'),
  Service: manifest('Service'),
  CalicoNetworkPolicy: manifest('CalicoNetworkPolicy'),
  CalicoGlobalNetworkPolicy: manifest('CalicoGlobalNetworkPolicy'),
  KubernetesNetworkPolicy: manifest('KubernetesNetworkPolicy'),
  [KIND_NODE]: (o) => {
    const d = record(nodeRecordFrom)(o);
    return d.ok && d.value.name !== o.name
      ? {
          ok: false,
          error: { object: storedRef(o), field: 'name', reason: `is ${d.value.name}, stored as ${o.name}` },
        }
      : d;
  },
  [KIND_ATTACHMENT]: record(attachmentRecordFrom),
  Namespace: decodeNamespace,
};

/**
 * A Kubernetes Namespace (kubernetes:// only): its name and labels, nothing else (spec.finalizers,
 * status.phase and the server's metadata are ignored). The API server has validated it; the
 * labels are checked again since policies select on them.
 */
function decodeNamespace(o: StoredValue): Decoded<KubeNamespace> {
  const err = (field: string, reason: string): { ok: false; error: DecodeError } => ({
    ok: false,
    error: { object: storedRef(o), field, reason },
  });
  const v = o.value as { kind?: unknown; metadata?: { name?: unknown; labels?: unknown } } | null;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return err('', 'is not an object');
  if (v.kind !== 'Namespace') return err('kind', `is ${JSON.stringify(v.kind)}, stored as Namespace`);
  if (o.namespace !== '') return err('metadata.namespace', 'a Namespace is cluster-scoped');
  if (v.metadata?.name !== o.name)
    return err('metadata.name', `is ${String(v.metadata?.name)}, stored as ${o.name}`);
  const raw = v.metadata.labels ?? {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    return err('metadata.labels', 'must be a map');
  const labels: Record<string, string> = {};
  for (const [k, l] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof l !== 'string') return err(`metadata.labels.${k}`, 'must be a string');
    const bad = checkLabelKey(k) ?? checkLabelValue(l);
    if (bad) return err(`metadata.labels.${k}`, bad);
    labels[k] = l;
  }
  return { ok: true, value: { name: o.name, labels } };
}

export const STORED_KINDS = Object.keys(STORED_DECODERS) as readonly StoredKind[];

export function isStoredKind(kind: string): kind is StoredKind {
  return Object.hasOwn(STORED_DECODERS, kind);
}

/** Decodes one stored object of `kind` (which must be the object's stored kind). */
export function decodeStored<K extends StoredKind>(kind: K, o: StoredValue): Decoded<StoredKinds[K]> {
  return STORED_DECODERS[kind](o);
}
