// Calico NetworkPolicy and GlobalNetworkPolicy (crd.projectcalico.org/v1 and projectcalico.org/v3),
// with the multinet per-rule network annotation.
import { parseCidr, type Cidr } from './cidr.js';
import { parseCalicoSelector, usesGlobal, type CalicoSelector } from './calico-selector.js';
import type { Fields } from './fields.js';
import type { FieldPath } from './issues.js';
import { checkPortName } from './names.js';
import { NETWORK_ANNOTATION } from './service.js';
import type {
  CalicoPolicy,
  EntityRule,
  ObjectMeta,
  PolicyType,
  PortMatch,
  Protocol,
  Rule,
  RuleAction,
  SourceRef,
} from './types.js';

export const PROTOCOL_NUMBERS: Readonly<Record<string, number>> = {
  TCP: 6,
  UDP: 17,
  ICMP: 1,
  ICMPv6: 58,
  SCTP: 132,
  UDPLite: 136,
};
const PORT_PROTOCOLS = new Set([6, 17, 132, 136]);
const ACTIONS: readonly RuleAction[] = ['Allow', 'Deny', 'Log', 'Pass'];
const RULE_FIELDS = [
  'action',
  'protocol',
  'notProtocol',
  'icmp',
  'notICMP',
  'ipVersion',
  'source',
  'destination',
  'http',
  'metadata',
];
const ENTITY_FIELDS = [
  'nets',
  'notNets',
  'selector',
  'notSelector',
  'namespaceSelector',
  'ports',
  'notPorts',
  'serviceAccounts',
  'services',
];
const SPEC_FIELDS = [
  'order',
  'selector',
  'types',
  'ingress',
  'egress',
  'serviceAccountSelector',
  'tier',
  'performanceHints',
];
const GLOBAL_FIELDS = ['namespaceSelector', 'doNotTrack', 'preDNAT', 'applyOnForward'];

/** `TCP`, `tcp`, `6` -> {name: 'TCP', number: 6}; undefined when invalid. */
export function parseProtocol(v: unknown): Protocol | undefined {
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 1 || v > 255) return undefined;
    const name = Object.keys(PROTOCOL_NUMBERS).find((k) => PROTOCOL_NUMBERS[k] === v);
    return name ? { name, number: v } : { number: v };
  }
  if (typeof v !== 'string') return undefined;
  if (/^\d+$/.test(v)) return parseProtocol(Number(v));
  const name = Object.keys(PROTOCOL_NUMBERS).find((k) => k.toLowerCase() === v.toLowerCase());
  return name ? { name, number: PROTOCOL_NUMBERS[name]! } : undefined;
}

/** A Calico port: number, "min:max" range, or a named port. */
export function parsePort(v: unknown): { ok: true; value: PortMatch } | { ok: false; error: string } {
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 0 || v > 65535)
      return { ok: false, error: `${v} is not a port (0..65535)` };
    return { ok: true, value: { kind: 'range', min: v, max: v } };
  }
  if (typeof v !== 'string') return { ok: false, error: 'must be a port number, "min:max" or a port name' };
  const m = /^(\d{1,5})(?::(\d{1,5}))?$/.exec(v);
  if (m) {
    const min = Number(m[1]);
    const max = m[2] === undefined ? min : Number(m[2]);
    if (min > 65535 || max > 65535) return { ok: false, error: `"${v}" is out of range 0..65535` };
    if (min > max) return { ok: false, error: `"${v}": range start is after its end` };
    return { ok: true, value: { kind: 'range', min, max } };
  }
  const err = checkPortName(v);
  return err ? { ok: false, error: err } : { ok: true, value: { kind: 'named', name: v } };
}

/** Calico's CRD limit on every selector field. */
const MAX_SELECTOR = 1024;

/**
 * A selector field. Calico's fields are plain strings with omitempty: null, missing and "" are the
 * same (absent), which callers give their meaning (a rule: no restriction; a policy: all()).
 * `global()` is only valid in a rule's namespaceSelector (Calico's CRD validation).
 */
function selector(
  f: Fields,
  path: FieldPath,
  v: unknown,
  allowGlobal = false,
): { sel: CalicoSelector; text: string } | undefined {
  const text = f.string(path, v);
  if (text === undefined || text === '') return undefined;
  if (text.length > MAX_SELECTOR) {
    f.sink.error(path, `selector is ${text.length} characters long; Calico allows at most ${MAX_SELECTOR}`);
    return undefined;
  }
  const r = parseCalicoSelector(text);
  if (!r.ok) {
    f.sink.error(path, r.error);
    return undefined;
  }
  if (!allowGlobal && usesGlobal(r.value)) {
    f.sink.error(path, "global() can only be used in a rule's namespaceSelector");
    return undefined;
  }
  return { sel: r.value, text };
}

function entity(
  f: Fields,
  path: FieldPath,
  v: unknown,
  protocol: Protocol | undefined,
  ipVersion: 4 | 6 | undefined,
): EntityRule {
  const o = f.object(path, v) ?? {};
  f.onlyFields(path, o, ENTITY_FIELDS);
  for (const k of ['serviceAccounts', 'services']) {
    if (o[k] !== undefined) f.sink.error([...path, k], 'is not supported by multinet');
  }
  const nets = (k: string): Cidr[] => {
    const out: Cidr[] = [];
    f.list([...path, k], o[k])?.forEach((n, i) => {
      const s = f.string([...path, k, i], n, true);
      if (s === undefined) return;
      const c = parseCidr(s);
      if (!c.ok) f.sink.error([...path, k, i], c.error);
      else if (ipVersion !== undefined && c.value.family !== ipVersion) {
        f.sink.error(
          [...path, k, i],
          `${c.value.text} is not IPv${ipVersion} (rule has ipVersion ${ipVersion})`,
        );
      } else out.push(c.value);
    });
    return out;
  };
  const ports = (k: string): PortMatch[] => {
    const out: PortMatch[] = [];
    const list = f.list([...path, k], o[k]);
    if (list && list.length > 0 && (!protocol || !PORT_PROTOCOLS.has(protocol.number))) {
      f.sink.error([...path, k], "needs the rule's protocol to be TCP, UDP, SCTP or UDPLite");
    }
    list?.forEach((p, i) => {
      const r = parsePort(p);
      if (!r.ok) f.sink.error([...path, k, i], r.error);
      else out.push(r.value);
    });
    return out;
  };
  const s = selector(f, [...path, 'selector'], o.selector);
  // Calico's CRD rule forbids global() in `selector` only; notSelector keeps the parser's word.
  const ns = selector(f, [...path, 'notSelector'], o.notSelector, true);
  const nss = selector(f, [...path, 'namespaceSelector'], o.namespaceSelector, true);
  return {
    ...(s ? { selector: s.sel, selectorText: s.text } : {}),
    ...(ns ? { notSelector: ns.sel, notSelectorText: ns.text } : {}),
    ...(nss ? { namespaceSelector: nss.sel, namespaceSelectorText: nss.text } : {}),
    nets: nets('nets'),
    notNets: nets('notNets'),
    ports: ports('ports'),
    notPorts: ports('notPorts'),
  };
}

function icmp(f: Fields, path: FieldPath, v: unknown, protocol: Protocol | undefined): Rule['icmp'] {
  const o = f.object(path, v);
  if (!o) return undefined;
  f.onlyFields(path, o, ['type', 'code']);
  if (!protocol || (protocol.number !== 1 && protocol.number !== 58)) {
    f.sink.error(path, "needs the rule's protocol to be ICMP or ICMPv6");
  }
  const type = f.integer([...path, 'type'], o.type, { min: 0, max: 254 });
  const code = f.integer([...path, 'code'], o.code, { min: 0, max: 255 });
  if (code !== undefined && type === undefined) f.sink.error([...path, 'code'], 'needs a type');
  return { ...(type !== undefined ? { type } : {}), ...(code !== undefined ? { code } : {}) };
}

function rule(f: Fields, path: FieldPath, v: unknown): Rule | undefined {
  const o = f.object(path, v, true);
  if (!o) return undefined;
  f.onlyFields(path, o, RULE_FIELDS);
  const action = f.string([...path, 'action'], o.action, true) as RuleAction | undefined;
  if (action !== undefined && !ACTIONS.includes(action)) {
    f.sink.error([...path, 'action'], `"${action}" must be one of ${ACTIONS.join(', ')}`);
  }
  const proto = (k: 'protocol' | 'notProtocol'): Protocol | undefined => {
    if (o[k] === undefined) return undefined;
    const p = parseProtocol(o[k]);
    if (!p)
      f.sink.error(
        [...path, k],
        `${JSON.stringify(o[k])} must be TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or 1..255`,
      );
    return p;
  };
  const protocol = proto('protocol');
  const notProtocol = proto('notProtocol');
  let ipVersion: 4 | 6 | undefined;
  if (o.ipVersion !== undefined) {
    if (o.ipVersion !== 4 && o.ipVersion !== 6) f.sink.error([...path, 'ipVersion'], 'must be 4 or 6');
    else ipVersion = o.ipVersion;
  }
  if (protocol?.number === 1 && ipVersion === 6)
    f.sink.error([...path, 'protocol'], 'ICMP with ipVersion 6: use ICMPv6');
  if (protocol?.number === 58 && ipVersion === 4)
    f.sink.error([...path, 'protocol'], 'ICMPv6 with ipVersion 4: use ICMP');
  const ic = icmp(f, [...path, 'icmp'], o.icmp, protocol);
  const nic = icmp(f, [...path, 'notICMP'], o.notICMP, protocol);
  if (o.http !== undefined) f.sink.error([...path, 'http'], 'HTTP match is not supported by multinet');
  let network: string | undefined;
  const meta = f.object([...path, 'metadata'], o.metadata);
  if (meta) {
    f.onlyFields([...path, 'metadata'], meta, ['annotations']);
    const ann = f.stringMap([...path, 'metadata', 'annotations'], meta.annotations);
    if (ann[NETWORK_ANNOTATION] !== undefined) {
      network = ann[NETWORK_ANNOTATION];
      if (network === '')
        f.sink.error([...path, 'metadata', 'annotations', NETWORK_ANNOTATION], 'must name a network');
    }
  }
  const source = entity(f, [...path, 'source'], o.source, protocol, ipVersion);
  const destination = entity(f, [...path, 'destination'], o.destination, protocol, ipVersion);
  if (action === undefined) return undefined;
  return {
    action,
    ...(protocol ? { protocol } : {}),
    ...(notProtocol ? { notProtocol } : {}),
    ...(ipVersion ? { ipVersion } : {}),
    source,
    destination,
    ...(network ? { network } : {}),
    ...(ic ? { icmp: ic } : {}),
    ...(nic ? { notICMP: nic } : {}),
  };
}

export function validateCalicoPolicy(
  f: Fields,
  head: { apiVersion: string; kind: string; metadata: ObjectMeta; source: SourceRef },
  rawSpec: unknown,
): CalicoPolicy | undefined {
  const global = head.kind === 'GlobalNetworkPolicy';
  const spec = f.object(['spec'], rawSpec) ?? {};
  f.onlyFields(['spec'], spec, global ? [...SPEC_FIELDS, ...GLOBAL_FIELDS] : SPEC_FIELDS);
  for (const k of ['doNotTrack', 'preDNAT', 'applyOnForward']) {
    if (spec[k] === true) f.sink.error(['spec', k], 'is not supported by multinet');
  }
  let order: number | undefined;
  if (spec.order !== undefined) {
    if (typeof spec.order !== 'number' || !Number.isFinite(spec.order))
      f.sink.error(['spec', 'order'], 'must be a number');
    else order = spec.order;
  }
  // An absent or empty policy selector selects every endpoint in scope.
  const ALL = { sel: { op: 'all' } as CalicoSelector, text: 'all()' };
  const before = f.sink.errorCount;
  const sel =
    selector(f, ['spec', 'selector'], spec.selector) ?? (f.sink.errorCount > before ? undefined : ALL);
  const nsSel = global ? selector(f, ['spec', 'namespaceSelector'], spec.namespaceSelector) : undefined;
  const rules = (k: 'ingress' | 'egress'): Rule[] => {
    const out: Rule[] = [];
    f.list(['spec', k], spec[k])?.forEach((r, i) => {
      const rr = rule(f, ['spec', k, i], r);
      if (rr) out.push(rr);
    });
    return out;
  };
  const ingress = rules('ingress');
  const egress = rules('egress');
  let types: PolicyType[];
  const tl = f.list(['spec', 'types'], spec.types);
  // `types: []` is unset to Calico (omitempty), so it takes the defaults below.
  if (tl && tl.length > 0) {
    types = [];
    tl.forEach((t, i) => {
      if (t !== 'Ingress' && t !== 'Egress')
        f.sink.error(['spec', 'types', i], `${JSON.stringify(t)} must be Ingress or Egress`);
      else if (types.includes(t)) f.sink.error(['spec', 'types', i], `${t} is listed twice`);
      else types.push(t);
    });
    if (ingress.length > 0 && !types.includes('Ingress'))
      f.sink.error(['spec', 'ingress'], 'has rules but types does not include Ingress');
    if (egress.length > 0 && !types.includes('Egress'))
      f.sink.error(['spec', 'egress'], 'has rules but types does not include Egress');
  } else {
    // Calico's defaults: Egress alone when only egress rules are given, else Ingress (+ Egress if any).
    types =
      ingress.length === 0 && egress.length > 0
        ? ['Egress']
        : egress.length > 0
          ? ['Ingress', 'Egress']
          : ['Ingress'];
  }
  if (f.sink.errorCount > 0 || !sel) return undefined;
  return {
    ...head,
    type: global ? 'CalicoGlobalNetworkPolicy' : 'CalicoNetworkPolicy',
    spec: {
      ...(order !== undefined ? { order } : {}),
      selector: sel.sel,
      selectorText: sel.text,
      ...(nsSel ? { namespaceSelector: nsSel.sel } : {}),
      types,
      ingress,
      egress,
    },
  };
}
