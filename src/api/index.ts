// Public API of the resource model: parse manifests, validate them one by one and together, and
// the selector/annotation parsers other modules need. Pure: no I/O (see load.ts for files).
import type { RawDocument } from './documents.js';
import { validateAll, type PresentRef } from './cross.js';
import type { Issue } from './issues.js';
import type { Resource } from './types.js';
import { validateObject, type ObjectResult } from './validate.js';

export { parseDocuments, lineOf, type RawDocument, type ParsedDocuments } from './documents.js';
export { validateObject, type ObjectResult } from './validate.js';
export { validateAll, CALICO_DEFAULT_VNI, type PresentRef } from './cross.js';
export { formatIssue, formatPath, type Issue, type Severity, type FieldPath } from './issues.js';
export {
  parseCalicoSelector,
  matchesCalico,
  formatCalicoSelector,
  type CalicoSelector,
} from './calico-selector.js';
export {
  parseLabelSelector,
  labelSelectorFromObject,
  matchesLabels,
  formatLabelSelector,
  type LabelSelector,
  type LabelRequirement,
  type LabelOperator,
} from './label-selector.js';
export {
  parseNetworksAnnotation,
  NETWORKS_ANNOTATION,
  DEFAULT_INTERFACE,
  type Attachment,
  type AnnotationError,
} from './networks-annotation.js';
export {
  parseCidr,
  parseIp,
  cidrsOverlap,
  cidrContains,
  cidrContainsIp,
  type Cidr,
  type Parsed,
} from './cidr.js';
export {
  checkInterfaceName,
  checkDns1123Label,
  checkDns1123Subdomain,
  checkLabelKey,
  checkLabelValue,
} from './names.js';
export { NETWORK_ANNOTATION, SERVICE_SELECTOR_ANNOTATION } from './service.js';
export { parseProtocol, parsePort, PROTOCOL_NUMBERS } from './policy.js';
export { parseLenientJson, OUR_PLUGIN_TYPES, AGENT_IPAM_TYPES, DELEGATE_IPAM_KEY } from './nad.js';
export { VNI_MIN, VNI_MAX, networkSpecSchema } from './network-schema.js';
export * from './types.js';
export * from './records.js';
export {
  STORED_DECODERS,
  STORED_KINDS,
  MANIFEST_KINDS,
  POLICY_KINDS,
  decodeStored,
  isStoredKind,
  storeKey,
  storedRef,
  formatDecodeError,
  type StoredValue,
  type StoredKind,
  type StoredKinds,
  type Decoded,
  type DecodeError,
} from './stored.js';
export { pluginFromNetConf } from './netconf.js';

export interface ValidationReport {
  /** One entry per document, in input order. */
  readonly objects: readonly ObjectResult[];
  /** The valid typed objects, in input order. */
  readonly resources: readonly Resource[];
  /** Every issue: per object, then across objects. */
  readonly issues: readonly Issue[];
  readonly errorCount: number;
}

/** validateObject on every document, then validateAll over the valid ones. */
export function validateDocuments(
  docs: readonly RawDocument[],
  extraIssues: readonly Issue[] = [],
): ValidationReport {
  const objects = docs.map(validateObject);
  const resources = objects.flatMap((o) => (o.resource ? [o.resource] : []));
  const present: PresentRef[] = [];
  for (const o of objects) {
    if (o.resource || o.skipped) continue;
    const parts = o.ref.split('/');
    if (parts.length === 2) present.push({ kind: parts[0]!, name: parts[1]! });
    if (parts.length === 3) present.push({ kind: parts[0]!, namespace: parts[1]!, name: parts[2]! });
  }
  const issues = [...extraIssues, ...objects.flatMap((o) => o.issues), ...validateAll(resources, present)];
  return { objects, resources, issues, errorCount: issues.filter((i) => i.severity === 'error').length };
}
