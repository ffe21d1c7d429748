import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { matchesCalico, parseCalicoSelector } from '../api/calico-selector.js';
import {
  podFacts,
  policyBindings,
  policySelectedInterfaces,
  policyTables,
  DEFAULT_NETWORK,
} from './policies.js';
import { hostVethName } from '../dataplane/naming.js';
import { calicoNamespaceLabels, normalise } from './policy-model.js';
import type { PolicyResource } from './node-state.js';
import { attachment, pod, resources, view } from '../testing/policy-fixtures.js';
import { PolicyNetLab } from '../testing/policy-netlab.js';
import type { AttachmentRecord } from './records.js';
import type { Resource } from '../api/types.js';

const root = process.getuid?.() === 0;

const SEED_POL = `apiVersion: crd.projectcalico.org/v1
kind: NetworkPolicy
metadata:
  name: pol
spec:
  selector: demo == 'demo'
  types: [Ingress, Egress]
  ingress:
    - action: Allow
      protocol: TCP
      destination: { ports: [3434] }
    - action: Allow
      protocol: TCP
      metadata: { annotations: { extensions.projectcalico.org/network: blue } }
      destination: { ports: [7809] }
  egress:
    - action: Allow
      protocol: TCP
      metadata: { annotations: { extensions.projectcalico.org/network: red } }
      destination: { ports: [5555, 5588] }
---
`;

function seedView(extra: Resource[] = [], networks?: string[]): ReturnType<typeof view> {
  const rs = resources(SEED_POL + pod('samplepod', { demo: 'demo' }) + pod('client', { app: 'c' }));
  const atts: AttachmentRecord[] = [
    attachment({ pod: 'samplepod', node: 'n1', network: 'default', ifName: 'eth0', ip: '10.244.0.2' }),
    attachment({ pod: 'samplepod', node: 'n1', network: 'blue', ifName: 'eth1', ip: '172.19.0.2' }),
    attachment({ pod: 'samplepod', node: 'n1', network: 'red', ifName: 'eth2', ip: '172.21.0.2' }),
    attachment({ pod: 'client', node: 'n2', network: 'default', ifName: 'eth0', ip: '10.244.1.2' }),
  ];
  return view({ resources: [...rs, ...extra], attachments: atts, ...(networks ? { networks } : {}) });
}

describe('selector language at the calc level (namespace labels)', () => {
  const cases: [string, Record<string, string>, boolean][] = [
    ["demo == 'demo'", { demo: 'demo' }, true],
    ["demo == 'demo'", {}, false],
    ["projectcalico.org/name == 'prod'", calicoNamespaceLabels('prod'), true],
    ["projectcalico.org/name in {'a','b'}", calicoNamespaceLabels('c'), false],
    ['has(projectcalico.org/name)', calicoNamespaceLabels('x'), true],
    ["!has(env) && tier != 'db'", { tier: 'web' }, true],
    ["env == 'a' || env == 'b'", { env: 'b' }, true],
    ["(a == '1' || b == '2') && !has(c)", { b: '2', c: '' }, false],
    ['all()', {}, true],
  ];
  for (const [expr, labels, want] of cases)
    test(`${expr} on ${JSON.stringify(labels)} -> ${want}`, () => {
      const s = parseCalicoSelector(expr);
      assert.ok(s.ok);
      assert.equal(matchesCalico(s.value, labels), want);
    });
});

describe('policyTables', () => {
  test('seed pol: 3434 on the default network, 7809 on blue, egress 5555/5588 on red only', () => {
    const t = policyTables(seedView(), 'n1');
    assert.deepEqual([...t.keys()], ['blue', 'default', 'red']);
    assert.match(t.get('default')!.skeleton, /th dport 3434 accept/);
    assert.doesNotMatch(t.get('default')!.skeleton, /7809|5555/);
    assert.match(t.get('blue')!.skeleton, /th dport 7809 accept/);
    assert.doesNotMatch(t.get('blue')!.skeleton, /3434|5555/);
    assert.match(t.get('red')!.skeleton, /th dport \{ 5555, 5588 \} accept/);
    // every interface of the selected pod is policed both ways (default deny), red included
    for (const n of ['default', 'blue', 'red']) {
      assert.equal(t.get(n)!.elements['from_pod']!.length, 1);
      assert.equal(t.get(n)!.elements['to_pod']!.length, 1);
    }
    assert.equal(
      policyTables(seedView(), 'n2').get('default')!.elements['to_pod']!.length,
      0,
      'client is not selected',
    );
  });

  test('policySelectedInterfaces: the local interfaces some policy selects, on every network of the pod', () => {
    const v = seedView(resources(pod('other', { app: 'x' })));
    const withOther = {
      ...v,
      attachments: [
        ...v.attachments,
        attachment({ pod: 'other', node: 'n1', network: 'blue', ifName: 'memif1', ip: '172.19.0.9' }),
      ],
    };
    const sel = policySelectedInterfaces(withOther, 'n1');
    const veth = (a: AttachmentRecord) =>
      hostVethName({ network: a.network, netns: a.netns, ifname: a.ifName });
    const mine = withOther.attachments.filter((a) => a.node === 'n1');
    assert.deepEqual(
      [...sel].sort(),
      mine
        .filter((a) => a.podName === 'samplepod')
        .map(veth)
        .sort(),
      'samplepod (demo) on default, blue and red; not the unselected memif pod',
    );
    assert.equal(policySelectedInterfaces(withOther, 'n2').size, 0, 'client on n2 is not selected');
    assert.equal(policySelectedInterfaces({ ...withOther, policies: [] }, 'n1').size, 0);
  });

  test('a network created after the policy gets it', () => {
    const v1 = seedView([], ['default', 'blue']);
    assert.equal(policyTables(v1, 'n1').has('red'), false);
    const v2 = seedView([], ['default', 'blue', 'red']);
    assert.equal(policyTables(v2, 'n1').get('red')!.elements['from_pod']!.length, 1);
  });

  test('output does not depend on the order of policies or attachments', () => {
    const a = seedView(resources(pod('x', { demo: 'demo' })));
    const b = {
      ...a,
      policies: [...(a.policies ?? [])].reverse(),
      attachments: [...a.attachments].reverse(),
      pods: [...(a.pods ?? [])].reverse(),
    };
    assert.deepEqual(policyTables(a, 'n1'), policyTables(b, 'n1'));
  });

  test('relabelling or adding a pod changes elements only; a policy change changes the skeleton', () => {
    const selRule = resources(`apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: { name: g }
spec:
  order: 5
  selector: app == 'c'
  ingress:
    - action: Allow
      source: { selector: "role == 'friend'" }
`);
    const base = policyTables(seedView(selRule), 'n2').get(DEFAULT_NETWORK)!;
    const extra = attachment({ pod: 'f', node: 'n1', network: 'default', ifName: 'eth0', ip: '10.244.0.9' });
    const v = seedView([...selRule, ...resources(pod('f', { role: 'friend' }))]);
    const more = policyTables({ ...v, attachments: [...v.attachments, extra] }, 'n2').get(DEFAULT_NETWORK)!;
    assert.equal(more.skeleton, base.skeleton);
    const set = Object.keys(more.elements).find((k) => k.startsWith('a4-'))!;
    assert.deepEqual(more.elements[set], ['10.244.0.9']);
    const changed = resources(SEED_POL.replace('3434', '3435'));
    const v3 = seedView(selRule);
    const other = policyTables(
      {
        ...v3,
        policies: [
          ...v3.policies!.filter((p) => p.metadata.name !== 'pol'),
          ...(changed as typeof v3.policies & object),
        ],
      },
      'n2',
    ).get(DEFAULT_NETWORK)!;
    assert.notEqual(other.skeleton, base.skeleton);
  });

  test('namespaced policy selects only its namespace; Kubernetes policies only the default network', () => {
    const rs = resources(
      `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: k, namespace: prod }
spec:
  podSelector: {}
  ingress:
    - from: [{ podSelector: { matchLabels: { app: c } } }]
      ports: [{ protocol: TCP, port: web }]
---
` + pod('p1', { a: 'b' }, { namespace: 'prod', ports: [{ name: 'web', port: 8080 }] }),
    );
    const atts = [
      attachment({
        pod: 'p1',
        namespace: 'prod',
        node: 'n1',
        network: 'default',
        ifName: 'eth0',
        ip: '10.244.0.5',
      }),
      attachment({
        pod: 'p1',
        namespace: 'prod',
        node: 'n1',
        network: 'blue',
        ifName: 'eth1',
        ip: '172.19.0.5',
      }),
      attachment({ pod: 'q', node: 'n1', network: 'default', ifName: 'eth0', ip: '10.244.0.6' }),
    ];
    const t = policyTables(view({ resources: rs, attachments: atts }), 'n1');
    assert.deepEqual([...t.keys()], ['default']);
    const d = t.get('default')!;
    assert.equal(d.elements['to_pod']!.length, 1, 'only the prod pod');
    const np = Object.entries(d.elements).find(([k]) => k.startsWith('n4-'))!;
    assert.deepEqual(np[1], ['10.244.0.5 . tcp . 8080']);
    const b = policyBindings(view({ resources: rs, attachments: atts }));
    assert.deepEqual(
      b.map((x) => `${x.pod}/${x.ifName}@${x.network}`),
      ['prod/p1/eth0@default'],
    );
  });
});

describe(
  'policy tables on real traffic (throwaway netns)',
  { skip: root ? false : 'needs root (network namespaces)' },
  () => {
    const lab = new PolicyNetLab('pt', DEFAULT_NETWORK);
    const atts = (): AttachmentRecord[] =>
      [...lab.pods.values()].map((p) =>
        attachment({
          pod: p.name,
          node: 'n1',
          network: DEFAULT_NETWORK,
          ifName: 'eth0',
          ip: p.ip,
          netns: p.netns,
        }),
      );
    before(async () => {
      lab.up();
      lab.addPod('srv', '10.244.0.2');
      lab.addPod('cli', '10.244.0.3');
      lab.addPod('oth', '10.244.0.4');
      await lab.listen('srv', [80, 81, 3434, 8080]);
      await lab.listen('cli', [80]);
    });
    after(() => lab.down());

    const load = (yaml: string, labels: Record<string, Record<string, string>>): void => {
      const rs = resources(
        yaml +
          Object.entries(labels)
            .map(([n, l]) => pod(n, l, n === 'srv' ? { ports: [{ name: 'web', port: 8080 }] } : {}))
            .join(''),
      );
      const t = policyTables(view({ resources: rs, attachments: atts() }), 'n1').get(DEFAULT_NETWORK);
      if (t) lab.load(t);
      else lab.nft('table inet mnpol {}\ndelete table inet mnpol\n');
    };
    const matrix = async (pairs: [string, string, number][]): Promise<string[]> =>
      Promise.all(
        pairs.map(
          async ([a, b, p]) => `${a}->${b}:${p} ${(await lab.connects(a, b, p)) ? 'open' : 'refused'}`,
        ),
      );

    test('default deny, Pass and order, named ports, selector sources, replies of egress', async () => {
      const yaml = `apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: { name: first }
spec:
  order: 10
  selector: app == 'srv'
  ingress:
    - action: Pass
      protocol: TCP
      destination: { ports: [81] }
    - action: Allow
      protocol: TCP
      source: { selector: "role == 'friend'" }
      destination: { ports: [web] }
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: { name: second }
spec:
  order: 20
  selector: app == 'srv'
  ingress:
    - action: Deny
      protocol: TCP
      destination: { ports: [81] }
    - action: Allow
      protocol: TCP
      destination: { ports: [80] }
---
`;
      load(yaml, { srv: { app: 'srv' }, cli: { role: 'friend' }, oth: {} });
      assert.deepEqual(
        await matrix([
          ['cli', 'srv', 80],
          ['cli', 'srv', 81],
          ['cli', 'srv', 3434],
          ['cli', 'srv', 8080],
          ['oth', 'srv', 8080],
          ['srv', 'cli', 80],
        ]),
        [
          'cli->srv:80 open', // allowed by the second policy
          'cli->srv:81 open', // Pass in the first skips the second's Deny (profile: allow)
          'cli->srv:3434 refused', // default deny once selected
          'cli->srv:8080 open', // named port, source selector
          'oth->srv:8080 refused', // not a friend
          'srv->cli:80 open', // srv's egress is not policed
        ],
      );
    });

    test('egress default deny; replies of allowed connections pass; relabel flips enforcement', async () => {
      const yaml = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: { name: eg }
spec:
  selector: app == 'srv'
  types: [Egress]
  egress:
    - action: Allow
      protocol: TCP
      destination: { selector: "role == 'friend'", ports: [80] }
---
`;
      load(yaml, { srv: { app: 'srv' }, cli: { role: 'friend' }, oth: {} });
      assert.deepEqual(
        await matrix([
          ['srv', 'cli', 80],
          ['cli', 'srv', 80],
          ['srv', 'oth', 80],
        ]),
        [
          'srv->cli:80 open',
          'cli->srv:80 open', // ingress unpoliced; srv's replies are established
          'srv->oth:80 refused',
        ],
      );
      load(yaml, { srv: { app: 'srv' }, cli: {}, oth: {} });
      assert.deepEqual(await matrix([['srv', 'cli', 80]]), ['srv->cli:80 refused']);
    });
  },
);

describe('namespace labels from Namespace objects (kubernetes://)', () => {
  const gnp = `apiVersion: crd.projectcalico.org/v1
kind: GlobalNetworkPolicy
metadata:
  name: team-a
spec:
  namespaceSelector: team == 'a'
  selector: demo == 'demo'
  ingress:
    - action: Allow
---
`;
  test("a namespaceSelector sees the Namespace's labels when the view has them, the name only otherwise", () => {
    const [p] = resources(gnp);
    const np = normalise(p as PolicyResource);
    const base = seedView();
    const without = podFacts(base).get('default/samplepod')!;
    assert.equal(np.selects(without), false, 'no Namespace object: projectcalico.org/name only');
    const withNs = podFacts({ ...base, namespaceLabels: new Map([['default', { team: 'a' }]]) });
    const facts = withNs.get('default/samplepod')!;
    assert.deepEqual(facts.namespaceLabels, { team: 'a' });
    assert.equal(np.selects(facts), true);
    assert.deepEqual(calicoNamespaceLabels('default', { team: 'a' }), {
      team: 'a',
      'projectcalico.org/name': 'default',
    });
  });
});
