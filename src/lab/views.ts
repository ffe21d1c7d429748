// What `lab get` shows, per kind, from the decoded cluster (src/lab/cluster.ts): plain rows, with
// the stored manifest for -o json/yaml. Derived columns (endpoints, policed interfaces) come from
// the same pure calc the agents run, over the same ClusterView. The CLI only formats these.
import type { ClusterCache } from '../agent/cache.js';
import { serviceState } from '../calc/services.js';
import { policyBindings } from '../calc/policies.js';
import { policyId } from '../calc/policy-model.js';
import { podViewOf } from './cluster.js';

/** Names to show: none = all (kubectl get TYPE [NAME...]). */
export type NameFilter = readonly string[];
const wanted = (names: NameFilter, n: string): boolean => names.length === 0 || names.includes(n);

export interface NetworkRow {
  readonly name: string;
  readonly vni: number;
  readonly range: string;
  readonly vxlanPort?: number;
  /** `ns/name` of the pods with an interface in it. */
  readonly pods: readonly string[];
  readonly manifest: unknown;
}

export function networkRows(c: ClusterCache, names: NameFilter): NetworkRow[] {
  const atts = [...c.attachments.values()];
  return c
    .entries('Network')
    .filter((e) => wanted(names, e.value.metadata.name))
    .map(({ stored, value: n }) => ({
      name: n.metadata.name,
      vni: n.spec.vni,
      range: n.spec.range.text,
      ...(n.spec.vxlanPort !== undefined ? { vxlanPort: n.spec.vxlanPort } : {}),
      pods: [
        ...new Set(
          atts.filter((a) => a.network === n.metadata.name).map((a) => `${a.podNamespace}/${a.podName}`),
        ),
      ],
      manifest: stored.value,
    }));
}

export interface NadRow {
  readonly namespace: string;
  readonly name: string;
  readonly network: string;
  readonly ipam: string;
  /** Explicit ranges; none = the Network's range. */
  readonly ranges?: readonly string[];
  readonly manifest: unknown;
}

export function nadRows(c: ClusterCache, names: NameFilter): NadRow[] {
  return c
    .entries('NetworkAttachmentDefinition')
    .filter((e) => wanted(names, e.value.metadata.name))
    .map(({ stored, value: r }) => {
      const ipam = r.spec.plugin.ipam;
      return {
        namespace: r.metadata.namespace ?? '',
        name: r.metadata.name,
        network: r.spec.plugin.network,
        ipam: ipam.type,
        ...(ipam.rangeFromNetwork ? {} : { ranges: ipam.ranges.map((x) => x.range.text) }),
        manifest: stored.value,
      };
    });
}

export interface PodRow {
  readonly namespace: string;
  readonly name: string;
  readonly node: string;
  readonly phase: string;
  /** `ifName=network:ip,ip`, by interface name. */
  readonly interfaces: readonly string[];
  readonly reason: string;
  readonly netns: string;
  readonly manifest: unknown;
}

/** Every stored pod, decodable or not: its lab status says where it runs either way. */
export function podRows(c: ClusterCache, names: NameFilter, lab: string): PodRow[] {
  const atts = [...c.attachments.values()];
  return c
    .list('Pod')
    .filter((o) => wanted(names, o.name))
    .map((o) => {
      const st = podViewOf(o, lab);
      return {
        namespace: o.namespace,
        name: o.name,
        node: st?.nodeName ?? '',
        phase: st?.phase ?? 'Pending',
        interfaces: atts
          .filter((a) => st && a.containerId === st.containerId)
          .sort((a, b) => a.ifName.localeCompare(b.ifName))
          .map((a) => `${a.ifName}=${a.network}:${a.ips.join(',')}`),
        reason: st?.reason ?? '',
        netns: st?.netns ?? '',
        manifest: o.value,
      };
    });
}

export interface ServiceRow {
  readonly namespace: string;
  readonly name: string;
  /** undefined = the default network (a plain Service). */
  readonly network?: string;
  /** '' = not allocated yet. */
  readonly clusterIP: string;
  /** `port->targetPort/PROTO`. */
  readonly ports: readonly string[];
  readonly selector: string;
  /** With endpoints: `port/PROTO` -> `ip:port` as the agents program them; undefined = none. */
  readonly endpoints?: ReadonlyMap<string, readonly string[]>;
  readonly manifest: unknown;
}

export function serviceRows(c: ClusterCache, names: NameFilter, opts: { endpoints: boolean }): ServiceRow[] {
  const state = opts.endpoints ? serviceState(c.view()) : undefined;
  return c
    .entries('Service')
    .filter((e) => wanted(names, e.value.metadata.name))
    .map(({ stored, value: r }) => {
      const eps = state?.services.get(`${r.metadata.namespace ?? 'default'}/${r.metadata.name}`)?.endpoints;
      return {
        namespace: r.metadata.namespace ?? '',
        name: r.metadata.name,
        ...(r.multinet ? { network: r.multinet.network } : {}),
        clusterIP: r.spec.clusterIP,
        ports: r.spec.ports.map((p) => `${p.port}->${p.targetPort}/${p.protocol}`),
        selector: r.multinet?.selectorText ?? JSON.stringify(r.spec.selector ?? {}),
        ...(eps ? { endpoints: eps } : {}),
        manifest: stored.value,
      };
    });
}

export interface PolicyRow {
  readonly namespace: string;
  readonly name: string;
  readonly order?: number;
  readonly selector: string;
  readonly types: readonly string[];
  /** Networks its rules act on; undefined entries are the default network. */
  readonly networks: readonly (string | undefined)[];
  /** With bindings: network -> `pod/ifName` policed there (default namespace left out). */
  readonly appliesTo?: ReadonlyMap<string, readonly string[]>;
  readonly metadata: unknown;
}

/** Calico policies (Kubernetes NetworkPolicies police through them but are not listed). */
export function policyRows(c: ClusterCache, names: NameFilter, opts: { bindings: boolean }): PolicyRow[] {
  const bindings = opts.bindings ? policyBindings(c.view()) : undefined;
  return [...c.resources('CalicoNetworkPolicy'), ...c.resources('CalicoGlobalNetworkPolicy')]
    .filter((r) => wanted(names, r.metadata.name))
    .map((r) => {
      const row: PolicyRow = {
        namespace: r.metadata.namespace ?? '',
        name: r.metadata.name,
        ...(r.spec.order !== undefined ? { order: r.spec.order } : {}),
        selector: r.spec.selectorText,
        types: r.spec.types,
        networks: [...new Set([...r.spec.ingress, ...r.spec.egress].map((x) => x.network))],
        metadata: r.metadata,
      };
      if (!bindings) return row;
      const id = policyId(r);
      const perNet = new Map<string, string[]>();
      for (const b of bindings.filter((x) => x.policy === id))
        perNet.set(b.network, [
          ...(perNet.get(b.network) ?? []),
          `${b.pod.replace(/^default\//, '')}/${b.ifName}`,
        ]);
      return { ...row, appliesTo: perNet };
    });
}
