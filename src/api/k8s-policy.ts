// Kubernetes NetworkPolicy (networking.k8s.io/v1), with the API's meaning of null, empty and missing
// (kubernetes.io/docs/reference/kubernetes-api/policy-resources/network-policy-v1/): JSON null is
// the same as a missing field (Go pointers and slices decode it to nil), while `{}` is an empty
// selector that selects everything. So `namespaceSelector: null` is no namespace selector at all.
import { parseCidr, cidrContains, type Cidr } from './cidr.js';
import type { Fields } from './fields.js';
import type { FieldPath } from './issues.js';
import { labelSelectorFromObject, type LabelSelector } from './label-selector.js';
import { checkPortName } from './names.js';
import { L4_PROTOCOLS } from './pod.js';
import type {
  K8sPolicyPeer,
  K8sPolicyPort,
  K8sPolicyRule,
  KubernetesNetworkPolicy,
  L4Protocol,
  ObjectMeta,
  PolicyType,
  SourceRef,
} from './types.js';

/** Absent as the API server sees it: missing or JSON null (YAML `key:` with no value). */
const absent = (v: unknown): boolean => v === undefined || v === null;

function sel(f: Fields, path: FieldPath, v: unknown): LabelSelector | undefined {
  const r = labelSelectorFromObject(v);
  if (!r.ok) f.sink.error(path, r.error);
  return r.ok ? r.value : undefined;
}

function rule(f: Fields, path: FieldPath, v: unknown, peersKey: 'from' | 'to'): K8sPolicyRule | undefined {
  const o = f.object(path, v, true);
  if (!o) return undefined;
  f.onlyFields(path, o, ['ports', peersKey]);
  const ports: K8sPolicyPort[] = [];
  f.list([...path, 'ports'], o.ports)?.forEach((p, i) => {
    const pp = [...path, 'ports', i];
    const po = f.object(pp, p, true);
    if (!po) return;
    f.onlyFields(pp, po, ['protocol', 'port', 'endPort']);
    const protocol = (f.string([...pp, 'protocol'], po.protocol) ?? 'TCP') as L4Protocol;
    if (!L4_PROTOCOLS.includes(protocol))
      f.sink.error([...pp, 'protocol'], `"${protocol}" must be TCP, UDP or SCTP`);
    let port: number | string | undefined;
    if (typeof po.port === 'number') port = f.integer([...pp, 'port'], po.port, { min: 1, max: 65535 });
    else if (typeof po.port === 'string') {
      const err = checkPortName(po.port);
      if (err) f.sink.error([...pp, 'port'], err);
      else port = po.port;
    } else if (!absent(po.port)) f.sink.error([...pp, 'port'], 'must be a port number or name');
    const endPort = f.integer([...pp, 'endPort'], po.endPort, { min: 1, max: 65535 });
    if (endPort !== undefined && (typeof port !== 'number' || endPort < port)) {
      f.sink.error([...pp, 'endPort'], 'needs a numeric port not greater than it');
    }
    ports.push({
      protocol,
      ...(port !== undefined ? { port } : {}),
      ...(endPort !== undefined ? { endPort } : {}),
    });
  });
  const peers: K8sPolicyPeer[] = [];
  f.list([...path, peersKey], o[peersKey])?.forEach((p, i) => {
    const pp = [...path, peersKey, i];
    const po = f.object(pp, p, true);
    if (!po) return;
    f.onlyFields(pp, po, ['podSelector', 'namespaceSelector', 'ipBlock']);
    if (!absent(po.ipBlock) && (!absent(po.podSelector) || !absent(po.namespaceSelector))) {
      f.sink.error([...pp, 'ipBlock'], 'cannot be combined with podSelector or namespaceSelector');
    }
    // Kubernetes refuses an empty peer ("must specify a peer"); null selectors do not count.
    if (absent(po.ipBlock) && absent(po.podSelector) && absent(po.namespaceSelector)) {
      f.sink.error(
        pp,
        'needs podSelector, namespaceSelector or ipBlock (a null selector is no selector; {} selects all)',
      );
    }
    let ipBlock: K8sPolicyPeer['ipBlock'];
    const ib = f.object([...pp, 'ipBlock'], po.ipBlock);
    if (ib) {
      f.onlyFields([...pp, 'ipBlock'], ib, ['cidr', 'except']);
      const cs = f.string([...pp, 'ipBlock', 'cidr'], ib.cidr, true);
      const c = cs === undefined ? undefined : parseCidr(cs);
      if (c && !c.ok) f.sink.error([...pp, 'ipBlock', 'cidr'], c.error);
      const except: Cidr[] = [];
      f.list([...pp, 'ipBlock', 'except'], ib.except)?.forEach((e, j) => {
        const ep = [...pp, 'ipBlock', 'except', j];
        const ec = typeof e === 'string' ? parseCidr(e) : undefined;
        if (!ec || !ec.ok) f.sink.error(ep, ec && !ec.ok ? ec.error : 'must be a CIDR string');
        else if (c?.ok && !cidrContains(c.value, ec.value))
          f.sink.error(ep, `${ec.value.text} is not inside ${c.value.text}`);
        else except.push(ec.value);
      });
      if (c?.ok) ipBlock = { cidr: c.value, except };
    }
    const ps = absent(po.podSelector) ? undefined : sel(f, [...pp, 'podSelector'], po.podSelector);
    const ns = absent(po.namespaceSelector)
      ? undefined
      : sel(f, [...pp, 'namespaceSelector'], po.namespaceSelector);
    peers.push({
      ...(ps ? { podSelector: ps } : {}),
      ...(ns ? { namespaceSelector: ns } : {}),
      ...(ipBlock ? { ipBlock } : {}),
    });
  });
  return { ports, peers };
}

export function validateK8sPolicy(
  f: Fields,
  head: { apiVersion: string; kind: string; metadata: ObjectMeta; source: SourceRef },
  rawSpec: unknown,
): KubernetesNetworkPolicy | undefined {
  const spec = f.object(['spec'], rawSpec, true);
  if (!spec) return undefined;
  f.onlyFields(['spec'], spec, ['podSelector', 'policyTypes', 'ingress', 'egress']);
  // Optional since Kubernetes 1.31's API docs: missing (or null) is the empty selector, every pod.
  const podSelector = sel(f, ['spec', 'podSelector'], spec.podSelector) ?? [];
  const ingress: K8sPolicyRule[] = [];
  const egress: K8sPolicyRule[] = [];
  f.list(['spec', 'ingress'], spec.ingress)?.forEach((r, i) => {
    const rr = rule(f, ['spec', 'ingress', i], r, 'from');
    if (rr) ingress.push(rr);
  });
  f.list(['spec', 'egress'], spec.egress)?.forEach((r, i) => {
    const rr = rule(f, ['spec', 'egress', i], r, 'to');
    if (rr) egress.push(rr);
  });
  let policyTypes: PolicyType[] = egress.length > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
  // Kubernetes defaults policyTypes when the list is empty, not only when it is missing.
  const pt = f.list(['spec', 'policyTypes'], spec.policyTypes);
  if (pt && pt.length > 0) {
    policyTypes = [];
    pt.forEach((t, i) => {
      if (t !== 'Ingress' && t !== 'Egress')
        f.sink.error(['spec', 'policyTypes', i], `${JSON.stringify(t)} must be Ingress or Egress`);
      else if (!policyTypes.includes(t)) policyTypes.push(t);
    });
  }
  if (f.sink.errorCount > 0) return undefined;
  return { ...head, type: 'KubernetesNetworkPolicy', spec: { podSelector, policyTypes, ingress, egress } };
}
