// One document -> one typed resource (or its errors). Dispatches on apiVersion/kind and checks
// the metadata common to all kinds.
import { isObject, lineOf, type RawDocument } from './documents.js';
import { Fields } from './fields.js';
import { IssueSink, type Issue } from './issues.js';
import { validateK8sPolicy } from './k8s-policy.js';
import { validateNad } from './nad.js';
import { checkDns1123Label, checkDns1123Subdomain, checkLabelKey, checkLabelValue } from './names.js';
import { validateNetwork } from './network.js';
import { validatePod } from './pod.js';
import { validateCalicoPolicy } from './policy.js';
import { validateService } from './service.js';
import { objectRef, type ObjectMeta, type Resource, type SourceRef } from './types.js';

type Validator = (
  f: Fields,
  head: { apiVersion: string; kind: string; metadata: ObjectMeta; source: SourceRef },
  spec: unknown,
) => Resource | undefined;

interface KindRule {
  readonly apiVersions: readonly string[];
  readonly namespaced: boolean;
  readonly validate: Validator;
  /** Services need DNS-1035 labels; others DNS-1123 subdomains. */
  readonly nameRule?: 'dns1035';
}

const CALICO_VERSIONS = ['projectcalico.org/v3', 'crd.projectcalico.org/v1'];

/** Kinds multinet understands, by kind then apiVersion. */
const KINDS: Readonly<Record<string, readonly KindRule[]>> = {
  Network: [{ apiVersions: ['projectcalico.org/v3'], namespaced: false, validate: validateNetwork }],
  NetworkAttachmentDefinition: [
    { apiVersions: ['k8s.cni.cncf.io/v1'], namespaced: true, validate: validateNad },
  ],
  Pod: [{ apiVersions: ['v1'], namespaced: true, validate: validatePod }],
  Service: [{ apiVersions: ['v1'], namespaced: true, validate: validateService, nameRule: 'dns1035' }],
  NetworkPolicy: [
    { apiVersions: CALICO_VERSIONS, namespaced: true, validate: validateCalicoPolicy },
    { apiVersions: ['networking.k8s.io/v1'], namespaced: true, validate: validateK8sPolicy },
  ],
  GlobalNetworkPolicy: [{ apiVersions: CALICO_VERSIONS, namespaced: false, validate: validateCalicoPolicy }],
};

export interface ObjectResult {
  readonly file: string;
  readonly line: number;
  /** `Kind/name`, `Kind/namespace/name`, or `document#N` when unidentifiable. */
  readonly ref: string;
  /** The typed object when the document has no error. */
  readonly resource?: Resource;
  /** True for kinds multinet does not check (listed, not validated). */
  readonly skipped: boolean;
  readonly issues: readonly Issue[];
}

export function validateObject(doc: RawDocument): ObjectResult {
  const sink = new IssueSink(doc.file, (p) => lineOf(doc, p), `document#${doc.index}`);
  const f = new Fields(sink);
  const result = (resource: Resource | undefined, skipped = false): ObjectResult => ({
    file: doc.file,
    line: doc.line,
    ref: sink.object,
    ...(resource && sink.errorCount === 0 ? { resource } : {}),
    skipped,
    issues: sink.issues,
  });
  const v = doc.value;
  if (!isObject(v)) {
    sink.error([], 'a manifest must be an object with apiVersion, kind and metadata');
    return result(undefined);
  }
  const kind = f.string(['kind'], v.kind, true);
  const apiVersion = f.string(['apiVersion'], v.apiVersion, true);
  const metaRaw = f.object(['metadata'], v.metadata, true);
  const name = typeof metaRaw?.name === 'string' ? metaRaw.name : undefined;
  const rawNs = typeof metaRaw?.namespace === 'string' ? metaRaw.namespace : undefined;
  const rules = kind !== undefined ? KINDS[kind] : undefined;
  const rule = rules?.find((r) => apiVersion !== undefined && r.apiVersions.includes(apiVersion));
  const namespace = rule?.namespaced ? rawNs || 'default' : rawNs;
  if (kind !== undefined && name !== undefined) {
    sink.object = objectRef({ kind, metadata: { name, ...(namespace !== undefined ? { namespace } : {}) } });
  } else if (kind !== undefined) sink.object = `${kind}/?`;
  if (kind === undefined || apiVersion === undefined || !metaRaw) return result(undefined);
  if (!rules) {
    sink.note([], `kind ${kind} (${apiVersion}) is not checked by multinet`);
    return result(undefined, true);
  }
  if (!rule) {
    const all = rules.flatMap((r) => r.apiVersions);
    sink.error(
      ['apiVersion'],
      `"${apiVersion}" is not an apiVersion of ${kind} (expected ${all.join(' or ')})`,
    );
    return result(undefined);
  }
  const metadata = checkMetadata(f, metaRaw, rule, namespace);
  const source: SourceRef = { file: doc.file, line: doc.line, fieldLines: doc.lines };
  const resource = rule.validate(f, { apiVersion, kind, metadata, source }, v.spec);
  return result(resource);
}

function checkMetadata(
  f: Fields,
  m: Record<string, unknown>,
  rule: KindRule,
  namespace: string | undefined,
): ObjectMeta {
  const name = f.string(['metadata', 'name'], m.name, true);
  if (name !== undefined) {
    const err =
      rule.nameRule === 'dns1035'
        ? /^[a-z]/.test(name)
          ? checkDns1123Label(name)
          : `"${name}" must start with a lowercase letter`
        : checkDns1123Subdomain(name);
    if (err) f.sink.error(['metadata', 'name'], err);
  }
  if (!rule.namespaced && m.namespace !== undefined) {
    f.sink.error(['metadata', 'namespace'], 'this kind is cluster-scoped: remove the namespace');
  } else if (m.namespace !== undefined) {
    const ns = f.string(['metadata', 'namespace'], m.namespace);
    const err = ns ? checkDns1123Label(ns) : undefined;
    if (err) f.sink.error(['metadata', 'namespace'], err);
  }
  const labels = f.stringMap(['metadata', 'labels'], m.labels);
  for (const [k, v] of Object.entries(labels)) {
    const err = checkLabelKey(k) ?? checkLabelValue(v);
    if (err) f.sink.error(['metadata', 'labels', k], err);
  }
  const annotations = f.stringMap(['metadata', 'annotations'], m.annotations);
  for (const k of Object.keys(annotations)) {
    const err = checkLabelKey(k);
    if (err) f.sink.error(['metadata', 'annotations', k], err.replace('label key', 'annotation key'));
  }
  // Go on with the spec even when metadata is wrong, to report every error at once.
  return { name: name ?? '', ...(namespace !== undefined ? { namespace } : {}), labels, annotations };
}
