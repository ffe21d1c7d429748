import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNetworksAnnotation, type Attachment } from './networks-annotation.js';

function ok(v: string, ns = 'default'): Attachment[] {
  const r = parseNetworksAnnotation(v, ns);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value;
}

describe('k8s.v1.cni.cncf.io/networks', () => {
  test('the seed comma form', () => {
    const a = ok('network-blue-conf@eth1, network-red-conf@eth2', 'demo');
    assert.deepEqual(
      a.map((x) => [x.namespace, x.name, x.interface, x.interfaceDefaulted]),
      [
        ['demo', 'network-blue-conf', 'eth1', false],
        ['demo', 'network-red-conf', 'eth2', false],
      ],
    );
  });

  test('namespace qualification and Multus default names by position', () => {
    const a = ok('other/a, b, c@memif1');
    assert.deepEqual(
      a.map((x) => `${x.namespace}/${x.name}@${x.interface}`),
      ['other/a@net1', 'default/b@net2', 'default/c@memif1'],
    );
  });

  test('same NAD several times is allowed', () => {
    assert.equal(ok('n@eth1, n@eth2, n').length, 3);
  });

  test('JSON form with every field', () => {
    const [a] = ok(
      JSON.stringify([
        {
          name: 'n',
          namespace: 'x',
          interface: 'eth1',
          ips: ['172.19.0.5/16', 'fd00::0005'],
          mac: '02:AA:00:00:00:01',
          'default-route': ['172.19.0.1'],
        },
      ]),
    );
    assert.deepEqual(a, {
      index: 0,
      namespace: 'x',
      name: 'n',
      interface: 'eth1',
      interfaceDefaulted: false,
      ips: ['172.19.0.5/16', 'fd00::5'],
      mac: '02:aa:00:00:00:01',
      defaultRoute: ['172.19.0.1'],
      extra: {},
    });
  });

  test('empty annotation means no attachments', () => {
    assert.deepEqual(ok('  '), []);
  });

  test('interface name rules and duplicates', () => {
    const cases: Array<[string, RegExp]> = [
      ['n@0123456789abcdef', /longer than 15/],
      ['n@a/b', /'\/'/],
      ['n@.', /not allowed/],
      ['n@eth0', /default network/],
      ['n@x, m@x', /already used by attachment \[0\]/],
      ['n, m@net1', /already used/],
      ['n@a:b', /':'/],
      ['[{"name":"n","interface":"a b"}]', /whitespace/],
    ];
    for (const [v, re] of cases) {
      const r = parseNetworksAnnotation(v, 'default');
      assert.equal(r.ok, false, v);
      if (!r.ok) assert.match(r.errors.map((e) => e.reason).join('; '), re, v);
    }
    assert.equal(ok('n@0123456789abcde')[0]!.interface.length, 15);
  });

  test('all errors are reported with their position', () => {
    const r = parseNetworksAnnotation('[{"name":"n","mac":"x"},{"nam":"m"}]', 'default');
    assert.equal(r.ok, false);
    if (!r.ok)
      assert.deepEqual(
        r.errors.map((e) => e.path),
        ['[0].mac', '[1].nam', '[1].name'],
      );
  });

  // Network Plumbing WG multi-net-spec v1.x, section 4.1.2.1 (JSON list format keys).
  test('keys with a "." are implementation keys: accepted and kept; keys without one are reserved', () => {
    const [a] = ok('[{"name": "n", "org.example.qos": {"class": "gold"}, "k8s.example.io/x": 1}]');
    assert.deepEqual(a!.extra, { 'org.example.qos': { class: 'gold' }, 'k8s.example.io/x': 1 });
    const r = parseNetworksAnnotation('[{"name": "n", "qos": 1}]', 'default');
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.errors[0]!.reason, /unknown field "qos".*reserved.*"org\.example\.qos"/);
  });

  test('two elements asking for default-route make the annotation invalid', () => {
    const r = parseNetworksAnnotation(
      JSON.stringify([
        { name: 'a', interface: 'net1', 'default-route': ['10.0.0.1'] },
        { name: 'b', interface: 'net2' },
        { name: 'c', interface: 'net3', 'default-route': ['10.1.0.1'] },
      ]),
      'default',
    );
    assert.equal(r.ok, false);
    if (!r.ok)
      assert.deepEqual(
        r.errors.map((e) => [e.path, e.reason.slice(0, 52)]),
        [['[2].default-route', 'attachment [0] already asks for the default route; t']],
      );
    // One element with a gateway per family is one element: allowed.
    assert.deepEqual(ok('[{"name": "a", "default-route": ["10.0.0.1", "fd00::1"]}]')[0]!.defaultRoute, [
      '10.0.0.1',
      'fd00::1',
    ]);
  });

  test('"ips" must hold at least one address', () => {
    const r = parseNetworksAnnotation('[{"name": "n", "ips": []}]', 'default');
    assert.equal(r.ok, false);
    if (!r.ok) assert.equal(r.errors[0]!.path, '[0].ips');
  });
});
