// Null, empty and missing fields of policies, from the manifest to the pods a rule admits: the
// Kubernetes NetworkPolicy API reference (network-policy-v1) and Calico's rule conversion
// (libcalico-go updateprocessors/rules.go) give each case its meaning.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDocuments, validateObject } from '../api/index.js';
import { normalise, type NEntity, type NPolicy, type PodFacts } from './policy-model.js';
import type { PolicyResource } from './node-state.js';

function policy(yaml: string): NPolicy {
  const { documents } = parseDocuments(yaml, 't.yaml');
  const r = validateObject(documents[0]!);
  const errs = r.issues.filter((i) => i.severity === 'error').map((i) => `${i.path}: ${i.reason}`);
  assert.deepEqual(errs, []);
  return normalise(r.resource as PolicyResource);
}
function errors(yaml: string): string[] {
  const { documents } = parseDocuments(yaml, 't.yaml');
  return validateObject(documents[0]!)
    .issues.filter((i) => i.severity === 'error')
    .map((i) => `${i.path}: ${i.reason}`);
}
const pod = (namespace: string, labels: Record<string, string> = {}): PodFacts => ({
  namespace,
  name: 'p',
  labels,
  namedPorts: new Map(),
});
/** Does the entity admit this pod (peer selectors only; nets and ports are not used here)? */
const admits = (e: NEntity, p: PodFacts): boolean =>
  (!e.pods || e.pods.matches(p)) && (!e.notPods || !e.notPods.matches(p));

const k8s = (spec: string): string =>
  `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np, namespace: team}\nspec:\n${spec}`;

describe('Kubernetes NetworkPolicy: null, empty and missing', () => {
  const here = pod('team', { app: 'web' });
  const there = pod('other', { app: 'web' });

  test('namespaceSelector: null is no namespace selector (the policy namespace), never all namespaces', () => {
    const p = policy(
      k8s(
        '  podSelector: {}\n  ingress:\n    - from:\n        - podSelector: {}\n          namespaceSelector:\n',
      ),
    );
    const src = p.ingress![0]!.src;
    assert.equal(admits(src, here), true);
    assert.equal(admits(src, there), false);
  });

  test('namespaceSelector: {} is every namespace; with a podSelector, those pods in every namespace', () => {
    const all = policy(k8s('  podSelector: {}\n  ingress:\n    - from:\n        - namespaceSelector: {}\n'));
    assert.equal(admits(all.ingress![0]!.src, there), true);
    const some = policy(
      k8s(
        '  podSelector: {}\n  ingress:\n    - from:\n        - namespaceSelector: {}\n          podSelector: {matchLabels: {app: db}}\n',
      ),
    );
    assert.equal(admits(some.ingress![0]!.src, there), false);
    assert.equal(admits(some.ingress![0]!.src, pod('other', { app: 'db' })), true);
  });

  test('podSelector: null beside a namespaceSelector is absent: every pod of the selected namespaces', () => {
    const p = policy(
      k8s(
        '  podSelector: {}\n  ingress:\n    - from:\n        - podSelector: null\n          namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: other}}\n',
      ),
    );
    assert.equal(admits(p.ingress![0]!.src, there), true);
    assert.equal(admits(p.ingress![0]!.src, here), false);
  });

  test('a peer whose selectors are all null is refused, as the API server does ("must specify a peer")', () => {
    assert.match(
      errors(k8s('  ingress:\n    - from:\n        - namespaceSelector: null\n')).join('\n'),
      /^spec\.ingress\[0\]\.from\[0\]: needs podSelector, namespaceSelector or ipBlock/,
    );
    assert.match(errors(k8s('  egress:\n    - to: [{}]\n')).join('\n'), /spec\.egress\[0\]\.to\[0\]: needs/);
  });

  test('ipBlock: null does not conflict with a selector', () => {
    const p = policy(k8s('  ingress:\n    - from:\n        - ipBlock: null\n          podSelector: {}\n'));
    assert.equal(admits(p.ingress![0]!.src, here), true);
  });

  test('from missing, null or [] matches every source; ports missing, null or [] every port', () => {
    for (const rule of ['{}', '{from: null}', '{from: []}', '{ports: null}', '{ports: [], from: []}']) {
      const p = policy(k8s(`  podSelector: {}\n  ingress: [${rule}]\n`));
      assert.equal(p.ingress!.length, 1, rule);
      const r = p.ingress![0]!;
      assert.equal(r.src.pods, undefined, rule);
      assert.equal(r.protocol, undefined, rule);
      assert.deepEqual(r.dst.ports, [], rule);
    }
  });

  test('ingress missing, null or [] allows nothing: the pods are isolated for ingress', () => {
    for (const spec of ['  podSelector: {}\n', '  ingress: null\n', '  ingress: []\n']) {
      const p = policy(k8s(spec));
      assert.deepEqual(p.ingress, [], spec);
      assert.equal(p.egress, undefined, spec);
    }
  });

  test('spec.podSelector missing, null or {} selects every pod of the namespace (optional since 1.31)', () => {
    for (const spec of ['  ingress: []\n', '  podSelector: null\n', '  podSelector: {}\n']) {
      const p = policy(k8s(spec));
      assert.equal(p.selects(here), true, spec);
      assert.equal(p.selects(there), false, spec);
    }
  });

  test('policyTypes missing, null or [] default to Ingress, plus Egress when egress has rules', () => {
    for (const [spec, types] of [
      ['  podSelector: {}\n', ['ingress']],
      ['  policyTypes: []\n  egress: [{}]\n', ['ingress', 'egress']],
      ['  policyTypes: null\n  egress: []\n', ['ingress']],
      ['  policyTypes: [Egress]\n', ['egress']],
    ] as const) {
      const p = policy(k8s(spec));
      assert.deepEqual(
        (['ingress', 'egress'] as const).filter((d) => p[d] !== undefined),
        types,
        spec,
      );
    }
  });

  test('matchLabels: null, matchExpressions: null and values: null are absent', () => {
    const p = policy(
      k8s(
        '  podSelector: {matchLabels: null, matchExpressions: [{key: app, operator: Exists, values: null}]}\n',
      ),
    );
    assert.equal(p.selects(here), true);
    assert.equal(p.selects(pod('team')), false);
  });
});

const calico = (spec: string, kind = 'NetworkPolicy'): string =>
  `apiVersion: projectcalico.org/v3\nkind: ${kind}\nmetadata: {name: p${kind === 'NetworkPolicy' ? ', namespace: team' : ''}}\nspec:\n${spec}`;

describe('Calico policies: empty and missing selectors', () => {
  const here = pod('team', { app: 'web' });
  const there = pod('other', { app: 'web' });

  test('spec.selector missing, null or "" selects every endpoint in scope', () => {
    for (const s of ['  types: [Ingress]\n', '  selector: null\n', '  selector: ""\n']) {
      const p = policy(calico(s));
      assert.equal(p.selects(here), true, s);
      assert.equal(p.selects(there), false, s);
    }
  });

  test('rule namespaceSelector "" is absent: the policy namespace, not all()', () => {
    const p = policy(
      calico(
        '  ingress:\n    - action: Allow\n      source: {namespaceSelector: "", selector: "app == \'web\'"}\n',
      ),
    );
    assert.equal(admits(p.ingress![0]!.src, here), true);
    assert.equal(admits(p.ingress![0]!.src, there), false);
    const all = policy(calico('  ingress:\n    - action: Allow\n      source: {namespaceSelector: all()}\n'));
    assert.equal(admits(all.ingress![0]!.src, there), true);
  });

  test('rule selector "" or null is no selector: any source, pods or not', () => {
    for (const v of ['""', 'null']) {
      const p = policy(
        calico(`  ingress:\n    - action: Allow\n      source: {selector: ${v}, notSelector: ${v}}\n`),
      );
      assert.equal(p.ingress![0]!.src.pods, undefined, v);
      assert.equal(p.ingress![0]!.src.notPods, undefined, v);
    }
  });

  test('a notSelector alone in a NetworkPolicy keeps the rule to the policy namespace', () => {
    const p = policy(
      calico('  ingress:\n    - action: Allow\n      source: {notSelector: "app == \'db\'"}\n'),
    );
    const src = p.ingress![0]!.src;
    assert.equal(admits(src, here), true);
    assert.equal(admits(src, there), false);
    assert.equal(admits(src, pod('team', { app: 'db' })), false);
    // In a GlobalNetworkPolicy it does not scope: any source but the excluded pods.
    const g = policy(
      calico(
        '  ingress:\n    - action: Allow\n      source: {notSelector: "app == \'db\'"}\n',
        'GlobalNetworkPolicy',
      ),
    );
    assert.equal(g.ingress![0]!.src.pods, undefined);
  });

  test('namespaceSelector global() selects no pod (only host endpoints and global network sets)', () => {
    const p = policy(
      calico('  ingress:\n    - action: Allow\n      source: {namespaceSelector: global()}\n'),
    );
    const src = p.ingress![0]!.src;
    assert.ok(src.pods);
    assert.equal(admits(src, here), false);
    assert.equal(admits(src, there), false);
  });

  test('types: [] takes the defaults', () => {
    const p = policy(calico('  types: []\n  egress: [{action: Allow}]\n'));
    assert.equal(p.ingress, undefined);
    assert.ok(p.egress);
  });
});
