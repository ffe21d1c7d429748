// The pod annotation `k8s.v1.cni.cncf.io/networks` (Network Plumbing WG spec, as Multus reads it):
// either a comma list of `[namespace/]name[@interface]`, or a JSON list of selection objects.
import { parseCidr, parseIp, type Parsed } from './cidr.js';
import { isObject } from './documents.js';
import { checkDns1123Label, checkDns1123Subdomain, checkInterfaceName } from './names.js';

export const NETWORKS_ANNOTATION = 'k8s.v1.cni.cncf.io/networks';
/** The pod's interface in the default (cluster) network; secondary attachments cannot take it. */
export const DEFAULT_INTERFACE = 'eth0';

export interface Attachment {
  /** Position in the annotation (0-based). */
  readonly index: number;
  /** Namespace of the NetworkAttachmentDefinition (the pod's own unless qualified). */
  readonly namespace: string;
  /** Name of the NetworkAttachmentDefinition. */
  readonly name: string;
  /** Interface name in the pod; Multus's default `net<index+1>` when not given. */
  readonly interface: string;
  readonly interfaceDefaulted: boolean;
  /** Requested addresses (IP with optional prefix, normalised) from the JSON form. */
  readonly ips: readonly string[];
  /** Requested MAC (lowercase, colon form). */
  readonly mac?: string;
  /** Gateways for which this attachment should carry the default route (JSON `default-route`). */
  readonly defaultRoute: readonly string[];
  /** Untouched extra Multus keys (cni-args, portMappings, ...). */
  readonly extra: Readonly<Record<string, unknown>>;
}

export interface AnnotationError {
  /** Sub-path inside the annotation, e.g. `[1].interface`; '' when it concerns the whole value. */
  readonly path: string;
  readonly reason: string;
}

const KNOWN_KEYS = new Set(['name', 'namespace', 'interface', 'ips', 'mac', 'default-route']);
const PASSTHROUGH_KEYS = new Set([
  'cni-args',
  'portMappings',
  'bandwidth',
  'infiniband-guid',
  'deviceID',
  'ipam-claim-reference',
  'interfaceRequest',
]);
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/**
 * Parses the annotation. Collects every problem (never throws); the attachments are returned only
 * when there is none.
 */
export function parseNetworksAnnotation(
  value: string,
  podNamespace: string,
): { ok: true; value: Attachment[] } | { ok: false; errors: AnnotationError[] } {
  const errors: AnnotationError[] = [];
  const out: Attachment[] = [];
  if (typeof value !== 'string') return { ok: false, errors: [{ path: '', reason: 'must be a string' }] };
  const trimmed = value.trim();
  if (trimmed === '') return { ok: true, value: [] };
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) {
    let list: unknown;
    try {
      list = JSON.parse(trimmed);
    } catch (e) {
      return { ok: false, errors: [{ path: '', reason: `invalid JSON: ${(e as Error).message}` }] };
    }
    if (!Array.isArray(list))
      return { ok: false, errors: [{ path: '', reason: 'JSON form must be a list' }] };
    list.forEach((el, index) => {
      const r = fromJson(el, index, podNamespace);
      if (r.ok) out.push(r.value);
      else errors.push(...r.errors);
    });
  } else {
    trimmed.split(',').forEach((part, index) => {
      const r = fromShort(part.trim(), index, podNamespace);
      if (r.ok) out.push(r.value);
      else errors.push({ path: `[${index}]`, reason: r.error });
    });
  }
  // NPWG spec v1.1 (default-route): only one element may ask for the pod's default route.
  let routeOwner: number | undefined;
  for (const a of out) {
    if (a.defaultRoute.length === 0) continue;
    if (routeOwner === undefined) routeOwner = a.index;
    else
      errors.push({
        path: `[${a.index}].default-route`,
        reason: `attachment [${routeOwner}] already asks for the default route; the Network Plumbing WG spec allows one element with "default-route"`,
      });
  }
  const seen = new Map<string, number>();
  for (const a of out) {
    if (a.interface === DEFAULT_INTERFACE) {
      errors.push({
        path: `[${a.index}]`,
        reason: `interface "${DEFAULT_INTERFACE}" belongs to the default network`,
      });
    }
    const prev = seen.get(a.interface);
    if (prev !== undefined) {
      errors.push({
        path: `[${a.index}]`,
        reason: `interface "${a.interface}" is already used by attachment [${prev}]${a.interfaceDefaulted ? ' (Multus names unnamed attachments net<position>)' : ''}`,
      });
    } else seen.set(a.interface, a.index);
  }
  return errors.length ? { ok: false, errors } : { ok: true, value: out };
}

function checkRef(namespace: string | undefined, name: string): string | undefined {
  const nerr = checkDns1123Subdomain(name);
  if (nerr) return `network attachment name: ${nerr}`;
  if (namespace !== undefined) {
    const serr = checkDns1123Label(namespace);
    if (serr) return `namespace: ${serr}`;
  }
  return undefined;
}

function fromShort(part: string, index: number, podNamespace: string): Parsed<Attachment> {
  if (part === '') return { ok: false, error: 'empty entry (stray comma?)' };
  let rest = part;
  let iface: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    iface = rest.slice(at + 1);
    rest = rest.slice(0, at);
    const ierr = checkInterfaceName(iface);
    if (ierr) return { ok: false, error: ierr };
  }
  let namespace: string | undefined;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    namespace = rest.slice(0, slash);
    rest = rest.slice(slash + 1);
  }
  const err = checkRef(namespace, rest);
  if (err) return { ok: false, error: `"${part}": ${err}` };
  return {
    ok: true,
    value: {
      index,
      namespace: namespace ?? podNamespace,
      name: rest,
      interface: iface ?? `net${index + 1}`,
      interfaceDefaulted: iface === undefined,
      ips: [],
      defaultRoute: [],
      extra: {},
    },
  };
}

function fromJson(
  el: unknown,
  index: number,
  podNamespace: string,
): { ok: true; value: Attachment } | { ok: false; errors: AnnotationError[] } {
  const errors: AnnotationError[] = [];
  const p = (k?: string): string => (k === undefined ? `[${index}]` : `[${index}].${k}`);
  if (!isObject(el))
    return { ok: false, errors: [{ path: p(), reason: 'must be an object with at least "name"' }] };
  const extra: Record<string, unknown> = {};
  for (const k of Object.keys(el)) {
    // The spec reserves keys without a '.'; implementations name theirs in reverse domain notation
    // (e.g. "org.example.key"), which are kept untouched like Multus's own extras.
    if (PASSTHROUGH_KEYS.has(k) || k.includes('.')) extra[k] = el[k];
    else if (!KNOWN_KEYS.has(k))
      errors.push({
        path: p(k),
        reason: `unknown field "${k}" (keys without a '.' are reserved by the spec; implementation keys look like "org.example.${k}")`,
      });
  }
  if (typeof el.name !== 'string')
    errors.push({ path: p('name'), reason: 'is required and must be a string' });
  if (el.namespace !== undefined && typeof el.namespace !== 'string') {
    errors.push({ path: p('namespace'), reason: 'must be a string' });
  }
  if (typeof el.name === 'string') {
    const ns = typeof el.namespace === 'string' && el.namespace !== '' ? el.namespace : undefined;
    const err = checkRef(ns, el.name);
    if (err) errors.push({ path: p(err.startsWith('namespace') ? 'namespace' : 'name'), reason: err });
  }
  let iface: string | undefined;
  if (el.interface !== undefined) {
    if (typeof el.interface !== 'string') errors.push({ path: p('interface'), reason: 'must be a string' });
    else {
      const ierr = checkInterfaceName(el.interface);
      if (ierr) errors.push({ path: p('interface'), reason: ierr });
      iface = el.interface;
    }
  }
  const ips: string[] = [];
  if (el.ips !== undefined) {
    if (!Array.isArray(el.ips)) errors.push({ path: p('ips'), reason: 'must be a list of IP addresses' });
    else if (el.ips.length === 0)
      errors.push({ path: p('ips'), reason: 'must list at least one IP address (spec: omit "ips" instead)' });
    else
      el.ips.forEach((ip, n) => {
        const r = typeof ip === 'string' ? normaliseIp(ip) : undefined;
        if (!r || !r.ok)
          errors.push({ path: `${p('ips')}[${n}]`, reason: r && !r.ok ? r.error : 'must be a string' });
        else ips.push(r.value);
      });
  }
  let mac: string | undefined;
  if (el.mac !== undefined) {
    if (typeof el.mac !== 'string' || !MAC.test(el.mac.toLowerCase())) {
      errors.push({
        path: p('mac'),
        reason: `${JSON.stringify(el.mac)} is not a MAC address like 02:00:00:00:00:01`,
      });
    } else if (parseInt(el.mac.slice(0, 2), 16) & 1) {
      errors.push({ path: p('mac'), reason: `${el.mac} is a multicast address` });
    } else mac = el.mac.toLowerCase();
  }
  const defaultRoute: string[] = [];
  if (el['default-route'] !== undefined) {
    const dr = el['default-route'];
    if (!Array.isArray(dr))
      errors.push({ path: p('default-route'), reason: 'must be a list of gateway IPs' });
    else
      dr.forEach((g, n) => {
        const r = typeof g === 'string' ? parseIp(g) : undefined;
        if (!r || !r.ok)
          errors.push({
            path: `${p('default-route')}[${n}]`,
            reason: r && !r.ok ? r.error : 'must be a string',
          });
        else defaultRoute.push(r.value.text);
      });
  }
  if (errors.length) return { ok: false, errors };
  return {
    ok: true,
    value: {
      index,
      namespace: typeof el.namespace === 'string' && el.namespace !== '' ? el.namespace : podNamespace,
      name: el.name as string,
      interface: iface ?? `net${index + 1}`,
      interfaceDefaulted: iface === undefined,
      ips,
      ...(mac ? { mac } : {}),
      defaultRoute,
      extra,
    },
  };
}

/** `10.1.1.1` or `10.1.1.1/24` (host bits allowed: it is an address with its prefix), normalised. */
function normaliseIp(s: string): Parsed<string> {
  const slash = s.indexOf('/');
  const ip = parseIp(slash < 0 ? s : s.slice(0, slash));
  if (!ip.ok) return ip;
  if (slash < 0) return { ok: true, value: ip.value.text };
  const c = parseCidr(s, false);
  return c.ok ? { ok: true, value: `${ip.value.text}/${c.value.prefixLength}` } : c;
}
