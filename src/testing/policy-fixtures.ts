// Building ClusterViews for the policy tests and benchmark: manifests as YAML text, plus
// attachments written by hand. Pure (no I/O).
import { parseDocuments, validateObject, type Pod, type Resource } from '../api/index.js';
import type { ClusterView, NetworkInfo, PolicyResource } from '../calc/node-state.js';
import type { AttachmentRecord, NodeRecord } from '../calc/records.js';

/** Typed resources from YAML text; throws on any validation error (fixtures must be valid). */
export function resources(yaml: string): Resource[] {
  const parsed = parseDocuments(yaml, 'fixture.yaml');
  if (parsed.issues.length) throw new Error(parsed.issues.map((i) => i.reason).join('; '));
  return parsed.documents.map((d) => {
    const r = validateObject(d);
    if (!r.resource)
      throw new Error(`fixture ${r.ref}: ${r.issues.map((i) => `${i.path} ${i.reason}`).join('; ')}`);
    return r.resource;
  });
}

export function attachment(o: {
  pod: string;
  namespace?: string;
  node: string;
  network: string;
  ifName: string;
  ip: string;
  netns?: string;
}): AttachmentRecord {
  const ns = o.namespace ?? 'default';
  return {
    containerId: `c-${ns}-${o.pod}`,
    ifName: o.ifName,
    podNamespace: ns,
    podName: o.pod,
    node: o.node,
    netns: o.netns ?? `mn-x-${o.pod}`,
    network: o.network,
    netConfName: o.network,
    ips: [o.ip],
    mac: '02:00:00:00:00:01',
    delegatedIpam: false,
    defaultRoute: o.ifName === 'eth0',
    createdAt: '2024-01-01T00:00:00Z',
  };
}

export const NETWORKS: Record<string, NetworkInfo> = {
  default: { name: 'default', vni: 4096, ranges: ['10.244.0.0/16'] },
  blue: { name: 'blue', vni: 56, ranges: ['172.19.0.0/16'] },
  red: { name: 'red', vni: 88, ranges: ['172.21.0.0/16'] },
};

export function view(o: {
  networks?: readonly string[];
  resources: readonly Resource[];
  attachments: readonly AttachmentRecord[];
}): ClusterView {
  const nodes = new Map<string, NodeRecord>();
  for (const a of o.attachments)
    nodes.set(a.node, { name: a.node, underlay: '10.99.0.1', mtu: 1500, netns: `mn-${a.node}` });
  return {
    networks: new Map(
      (o.networks ?? Object.keys(NETWORKS)).map((n) => [
        n,
        NETWORKS[n] ?? { name: n, vni: 100, ranges: ['192.168.0.0/16'] },
      ]),
    ),
    nodes,
    attachments: o.attachments,
    pods: o.resources.filter((r): r is Pod => r.type === 'Pod'),
    services: [],
    policies: o.resources.filter(
      (r): r is PolicyResource =>
        r.type === 'CalicoNetworkPolicy' ||
        r.type === 'CalicoGlobalNetworkPolicy' ||
        r.type === 'KubernetesNetworkPolicy',
    ),
  };
}

export function pod(
  name: string,
  labels: Record<string, string>,
  opts: { namespace?: string; ports?: { name?: string; port: number; protocol?: string }[] } = {},
): string {
  const lab = Object.entries(labels)
    .map(([k, v]) => `    ${k}: "${v}"`)
    .join('\n');
  const ports = (opts.ports ?? [])
    .map(
      (p) =>
        `        - containerPort: ${p.port}\n          protocol: ${p.protocol ?? 'TCP'}${p.name ? `\n          name: ${p.name}` : ''}`,
    )
    .join('\n');
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: ${opts.namespace ?? 'default'}
${lab ? `  labels:\n${lab}\n` : ''}spec:
  containers:
    - name: c
      image: busybox
${ports ? `      ports:\n${ports}\n` : ''}---
`;
}
