// Typed results of validateObject for each kind (the seed's forms and a few variants).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDocuments, validateObject, type Resource } from './index.js';

function one(yaml: string): Resource {
  const { documents, issues } = parseDocuments(yaml, 't.yaml');
  assert.deepEqual(issues, []);
  const r = validateObject(documents[0]!);
  assert.deepEqual(
    r.issues.filter((i) => i.severity === 'error'),
    [],
  );
  assert.ok(r.resource);
  return r.resource;
}
function errors(yaml: string): string[] {
  const { documents } = parseDocuments(yaml, 't.yaml');
  return validateObject(documents[0]!)
    .issues.filter((i) => i.severity === 'error')
    .map((i) => `${i.path}: ${i.reason}`);
}

describe('validateObject', () => {
  test('Network', () => {
    const n = one(
      'apiVersion: projectcalico.org/v3\nkind: Network\nmetadata: {name: blue}\nspec: {vni: 56, range: "fd00:0:0::/48"}\n',
    );
    assert.equal(n.type, 'Network');
    if (n.type !== 'Network') return;
    assert.deepEqual(n.spec, {
      vni: 56,
      range: { family: 6, address: 'fd00::', prefixLength: 48, text: 'fd00::/48' },
      physicalNetworkName: '',
    });
    assert.equal(n.metadata.namespace, undefined);
  });

  test('NAD: the seed form, with a trailing comma, resolves plugin, network and ipam', () => {
    const yaml = `apiVersion: "k8s.cni.cncf.io/v1"
kind: NetworkAttachmentDefinition
metadata:
  name: network-blue-conf
spec:
  config: |-
    { "name": "network-blue", "plugins": [ {"type": "portmap"},
      { "type": "calico", "ipam": { "type": "whereabouts", },
        "dataplane_options": { "network_name": "blue" } } ] }
`;
    const { documents } = parseDocuments(yaml, 't.yaml');
    const r = validateObject(documents[0]!);
    const warnings = r.issues.filter((i) => i.severity === 'warning').map((i) => `${i.path}: ${i.reason}`);
    assert.match(
      warnings.join('\n'),
      /^spec\.config: 1 trailing comma\(s\): .*Multus parses spec\.config as strict JSON/m,
    );
    assert.match(warnings.join('\n'), /^spec\.config\.cniVersion: missing: .*0\.1\.0/m);
    const n = r.resource;
    assert.ok(n && n.type === 'NetworkAttachmentDefinition');
    assert.equal(n.metadata.namespace, 'default');
    assert.equal(n.spec.pluginIndex, 1);
    assert.equal(n.spec.plugin.network, 'blue');
    assert.equal(n.spec.plugin.ipam.rangeFromNetwork, true);
    assert.equal(n.spec.configName, 'network-blue');
  });

  test('NAD: single-plugin multinet config with whereabouts ranges', () => {
    const cfg = JSON.stringify({
      cniVersion: '1.0.0',
      type: 'multinet',
      network: 'blue',
      ipam: {
        type: 'whereabouts',
        range: '172.19.0.5/24',
        exclude: ['172.19.0.0/30'],
        ipRanges: [{ range: 'fd00::/64', range_end: 'fd00::ff' }],
      },
    });
    const n = one(
      `apiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\nmetadata: {name: x, namespace: ns1}\nspec:\n  config: '${cfg}'\n`,
    );
    assert.ok(n.type === 'NetworkAttachmentDefinition');
    const ipam = n.spec.plugin.ipam;
    assert.equal(ipam.rangeFromNetwork, false);
    assert.deepEqual(
      ipam.ranges.map((r) => [r.range.text, r.rangeStart, r.rangeEnd, r.exclude.map((e) => e.text)]),
      [
        // Host bits in range are masked, the whole network is used (Whereabouts since v0.4).
        ['172.19.0.0/24', undefined, undefined, ['172.19.0.0/30']],
        ['fd00::/64', undefined, 'fd00::ff', []],
      ],
    );
  });

  test('NAD: whereabouts is ours unless "delegateIpam": true asks for the real plugin', () => {
    const nad = (plugin: Record<string, unknown>) => {
      const cfg = JSON.stringify({ cniVersion: '1.0.0', type: 'multinet', network: 'blue', ...plugin });
      const { documents } = parseDocuments(
        `apiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\nmetadata: {name: x}\nspec:\n  config: '${cfg}'\n`,
        't.yaml',
      );
      const r = validateObject(documents[0]!);
      return {
        resource: r.resource,
        errors: r.issues.filter((i) => i.severity === 'error').map((i) => `${i.path}: ${i.reason}`),
        notes: r.issues.filter((i) => i.severity === 'note').map((i) => `${i.path}: ${i.reason}`),
      };
    };
    // The seed's form: served by our IPAM, and validate says how to get the real one.
    const ours = nad({ ipam: { type: 'whereabouts' } });
    assert.deepEqual(ours.errors, []);
    assert.equal(ours.notes.length, 1);
    assert.match(
      ours.notes[0]!,
      /^spec\.config\.ipam\.type: served by multinet's own IPAM .*"delegateIpam": true/,
    );
    // The real Whereabouts: its own keys (kubeconfig, node slices...) are its business.
    const real = {
      ipam: {
        type: 'whereabouts',
        range: '10.88.0.0/24',
        node_slice_size: '/26',
        kubernetes: { kubeconfig: '/etc/cni/net.d/whereabouts.d/whereabouts.kubeconfig' },
      },
      delegateIpam: true,
    };
    const r = nad(real);
    assert.deepEqual(r.errors, []);
    assert.match(r.notes.join('\n'), /ipam\.type: run as the Whereabouts plugin from CNI_PATH/);
    assert.ok(r.resource?.type === 'NetworkAttachmentDefinition');
    assert.equal(r.resource.spec.plugin.ipam.type, 'whereabouts');
    assert.deepEqual(
      r.resource.spec.plugin.ipam.ranges.map((x) => x.range.text),
      ['10.88.0.0/24'],
    );
    assert.equal(r.resource.spec.plugin.ipam.raw.range, '10.88.0.0/24');
    // Without the key those same keys are refused or noted as ours.
    assert.match(nad({ ipam: real.ipam }).errors.join(), /node_slice_size/);
    assert.match(
      nad({ ...real, delegateIpam: 'yes' }).errors.join(),
      /spec\.config\.delegateIpam: must be true or false, not string "yes"/,
    );
    assert.match(
      nad({ ipam: { type: 'multinet-ipam' }, delegateIpam: true }).errors.join(),
      /no such plugin/,
    );
    assert.match(
      nad({ ipam: { type: 'static' }, delegateIpam: true }).notes.join(),
      /delegateIpam: has no effect/,
    );
  });

  test('Pod: attachments in the pod namespace and container ports', () => {
    const p = one(`apiVersion: v1
kind: Pod
metadata:
  name: samplepod
  namespace: team
  annotations:
    k8s.v1.cni.cncf.io/networks: network-blue-conf@eth1, other/network-red-conf@eth2
spec:
  containers:
    - name: c
      ports: [{containerPort: 9376, name: web}]
`);
    assert.ok(p.type === 'Pod');
    assert.deepEqual(
      p.attachments.map((a) => `${a.namespace}/${a.name}@${a.interface}`),
      ['team/network-blue-conf@eth1', 'other/network-red-conf@eth2'],
    );
    assert.deepEqual(p.spec.containers[0]!.ports, [{ name: 'web', containerPort: 9376, protocol: 'TCP' }]);
  });

  test('Service: multinet annotations, defaults', () => {
    const s = one(`apiVersion: v1
kind: Service
metadata:
  name: my-service
  annotations:
    extensions.projectcalico.org/selector: "app=MyApp"
    extensions.projectcalico.org/network: "blue"
spec:
  ports:
  - protocol: TCP
    port: 80
    targetPort: 9376
`);
    assert.ok(s.type === 'Service');
    assert.deepEqual(s.multinet, {
      network: 'blue',
      selector: [{ key: 'app', op: 'eq', values: ['MyApp'] }],
      selectorText: 'app=MyApp',
    });
    assert.deepEqual(s.spec, {
      type: 'ClusterIP',
      ports: [{ protocol: 'TCP', port: 80, targetPort: 9376 }],
      clusterIP: '',
      sessionAffinity: 'None',
    });
    const plain = one(
      'apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  selector: {app: web}\n  ports: [{port: 80, targetPort: http, protocol: UDP}]\n',
    );
    assert.ok(plain.type === 'Service' && plain.multinet === undefined);
    assert.deepEqual(plain.spec.ports, [{ protocol: 'UDP', port: 80, targetPort: 'http' }]);
  });

  test('Calico policy: rules, networks, ports, default types, both API groups', () => {
    const yaml = (api: string) => `apiVersion: ${api}
kind: NetworkPolicy
metadata: {name: pol}
spec:
  selector: demo == 'demo'
  ingress:
    - action: Allow
      protocol: tcp
      destination: {ports: [3434, "8000:8080", web]}
    - action: Deny
      protocol: 132
      source: {nets: [10.0.0.0/8], notSelector: "has(x)"}
      metadata: {annotations: {extensions.projectcalico.org/network: blue}}
  egress:
    - action: Pass
      protocol: ICMP
      icmp: {type: 8, code: 0}
`;
    for (const api of ['crd.projectcalico.org/v1', 'projectcalico.org/v3']) {
      const p = one(yaml(api));
      assert.ok(p.type === 'CalicoNetworkPolicy');
      assert.deepEqual(p.spec.types, ['Ingress', 'Egress']);
      const [r0, r1] = p.spec.ingress;
      assert.deepEqual(r0!.protocol, { name: 'TCP', number: 6 });
      assert.equal(r0!.network, undefined);
      assert.deepEqual(r0!.destination.ports, [
        { kind: 'range', min: 3434, max: 3434 },
        { kind: 'range', min: 8000, max: 8080 },
        { kind: 'named', name: 'web' },
      ]);
      assert.deepEqual(r1!.protocol, { name: 'SCTP', number: 132 });
      assert.equal(r1!.network, 'blue');
      assert.equal(r1!.source.nets[0]!.text, '10.0.0.0/8');
      assert.deepEqual(p.spec.egress[0]!.icmp, { type: 8, code: 0 });
    }
    const onlyEgress = one(
      'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: g}\nspec:\n  egress: [{action: Allow}]\n',
    );
    assert.ok(onlyEgress.type === 'CalicoGlobalNetworkPolicy');
    assert.deepEqual(onlyEgress.spec.types, ['Egress']);
    assert.deepEqual(onlyEgress.spec.selector, { op: 'all' });
  });

  test('Kubernetes NetworkPolicy is parsed', () => {
    const p = one(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: np}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
    - from: [{namespaceSelector: {}}, {ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}]
      ports: [{port: 80, endPort: 90}]
`);
    assert.ok(p.type === 'KubernetesNetworkPolicy');
    assert.deepEqual(p.spec.policyTypes, ['Ingress']);
    assert.equal(p.spec.ingress[0]!.peers.length, 2);
    assert.deepEqual(p.spec.ingress[0]!.ports, [{ protocol: 'TCP', port: 80, endPort: 90 }]);
  });

  test('unknown kinds are skipped with a note, not errors', () => {
    const { documents } = parseDocuments(
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n',
      't.yaml',
    );
    const r = validateObject(documents[0]!);
    assert.equal(r.skipped, true);
    assert.deepEqual(
      r.issues.map((i) => i.severity),
      ['note'],
    );
  });

  test('every error of a document is reported at once', () => {
    const e = errors(
      'apiVersion: projectcalico.org/v3\nkind: Network\nmetadata: {name: Blue}\nspec: {vni: 0, range: 10.0.0.1/8}\n',
    );
    assert.equal(e.length, 3, e.join('\n'));
  });
});
