// serviceState: endpoints per network, selectors, ports, affinity; and the table it produces loads
// in the fake nft kernel (the real one is exercised by src/lab/services.test.ts and the benchmark).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLabelSelector } from '../api/label-selector.js';
import type { Pod, Service, ServicePort } from '../api/types.js';
import type { ClusterView } from './node-state.js';
import type { AttachmentRecord } from './records.js';
import { DEFAULT_NETWORK, serviceState } from './services.js';
import { fakeNft } from '../dataplane/nft-fake.js';

const meta = (name: string, labels: Record<string, string> = {}, ns = 'default') => ({
  name,
  namespace: ns,
  labels,
  annotations: {},
});

function pod(
  name: string,
  labels: Record<string, string>,
  ports: { name?: string; containerPort: number; protocol?: 'TCP' | 'UDP' }[] = [],
  ns = 'default',
): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    type: 'Pod',
    metadata: meta(name, labels, ns),
    source: { file: 't', line: 1 },
    attachments: [],
    spec: { containers: [{ name: 'c', ports: ports.map((p) => ({ protocol: 'TCP' as const, ...p })) }] },
  };
}

function svc(
  name: string,
  o: {
    network?: string;
    selector?: string;
    plain?: Record<string, string>;
    ip: string;
    ports: ServicePort[];
    affinity?: boolean;
    ns?: string;
  },
): Service {
  const sel = o.selector ? parseLabelSelector(o.selector) : undefined;
  if (sel && !sel.ok) throw new Error(sel.error);
  return {
    apiVersion: 'v1',
    kind: 'Service',
    type: 'Service',
    metadata: meta(name, {}, o.ns),
    source: { file: 't', line: 1 },
    spec: {
      type: 'ClusterIP',
      ports: o.ports,
      clusterIP: o.ip,
      sessionAffinity: o.affinity ? 'ClientIP' : 'None',
      ...(o.plain ? { selector: o.plain } : {}),
    },
    ...(sel?.ok && o.network
      ? { multinet: { network: o.network, selector: sel.value, selectorText: o.selector! } }
      : {}),
  };
}

function att(podName: string, network: string, ifName: string, ip: string, ns = 'default'): AttachmentRecord {
  return {
    containerId: `c-${podName}`,
    ifName,
    podNamespace: ns,
    podName,
    node: 'n1',
    netns: `ns-${podName}`,
    network,
    netConfName: network,
    ips: [ip],
    mac: '02:00:00:00:00:01',
    delegatedIpam: false,
    defaultRoute: false,
    createdAt: '',
  };
}

const net = (name: string) => [name, { name, vni: 1, ranges: ['10.0.0.0/8'] }] as const;

function view(pods: Pod[], services: Service[], atts: AttachmentRecord[]): ClusterView {
  return {
    networks: new Map([net('blue'), net('red'), net(DEFAULT_NETWORK)]),
    nodes: new Map(),
    attachments: atts,
    pods,
    services,
  };
}

const tcp = (port: number, targetPort: number | string, name?: string): ServicePort => ({
  protocol: 'TCP',
  port,
  targetPort,
  ...(name ? { name } : {}),
});

test('endpoints: every address in the network of every pod whose labels match all terms', () => {
  const v = view(
    [
      pod('a', { app: 'x', tier: 'web' }),
      pod('b', { app: 'x' }),
      pod('c', { app: 'x', tier: 'web' }, [], 'other'),
    ],
    [
      svc('s', {
        network: 'blue',
        selector: 'app=x, tier in (web)',
        ip: '10.96.0.10',
        ports: [tcp(80, 9376)],
      }),
    ],
    [
      att('a', 'blue', 'eth1', '172.19.0.2'),
      att('a', 'blue', 'eth3', '172.19.0.9'),
      att('a', 'red', 'eth2', '172.21.0.2'),
      att('b', 'blue', 'eth1', '172.19.0.3'),
      att('c', 'blue', 'eth1', '172.19.0.4', 'other'),
    ],
  );
  const s = serviceState(v);
  assert.deepEqual([...s.routes], [['blue', ['10.96.0.10/32']]]);
  const t = s.tables.get('blue')!;
  assert.deepEqual(t.elements.svc, ['10.96.0.10 . tcp . 80 : goto lb2']);
  assert.deepEqual(t.elements.eps, [
    '10.96.0.10 . tcp . 80 . 0 : 172.19.0.2 . 9376',
    '10.96.0.10 . tcp . 80 . 1 : 172.19.0.9 . 9376',
  ]);
  assert.deepEqual(t.elements.vips, ['10.96.0.10']);
  // Pod a's two blue addresses may meet each other through the service: all four pairs SNAT.
  assert.deepEqual(t.elements.hairpin, [
    '172.19.0.2 . 172.19.0.2',
    '172.19.0.2 . 172.19.0.9',
    '172.19.0.9 . 172.19.0.2',
    '172.19.0.9 . 172.19.0.9',
  ]);
  assert.equal(s.tables.has('red'), false);
});

test('named targetPort resolves per pod and protocol; a pod without it is no endpoint of that port', () => {
  const v = view(
    [
      pod('a', { app: 'x' }, [
        { name: 'web', containerPort: 8080 },
        { name: 'dns', containerPort: 5353, protocol: 'UDP' },
      ]),
      pod('b', { app: 'x' }, [{ name: 'web', containerPort: 8081 }]),
    ],
    [
      svc('s', {
        network: 'blue',
        selector: 'app=x',
        ip: '10.96.0.11',
        ports: [
          tcp(80, 'web', 'http'),
          { name: 'dns', protocol: 'UDP', port: 53, targetPort: 'dns' },
          tcp(53, 'dns', 'dnstcp'),
        ],
      }),
    ],
    [att('a', 'blue', 'eth1', '172.19.0.2'), att('b', 'blue', 'eth1', '172.19.0.3')],
  );
  const s = serviceState(v);
  const t = s.tables.get('blue')!;
  assert.deepEqual(t.elements.svc, ['10.96.0.11 . tcp . 80 : goto lb2', '10.96.0.11 . udp . 53 : goto lb1']);
  assert.deepEqual(t.elements.eps, [
    '10.96.0.11 . tcp . 80 . 0 : 172.19.0.2 . 8080',
    '10.96.0.11 . tcp . 80 . 1 : 172.19.0.3 . 8081',
    '10.96.0.11 . udp . 53 . 0 : 172.19.0.2 . 5353',
  ]);
  // TCP 53 has no endpoint (the named port is UDP): no svc element, the VIP set rejects it.
  assert.deepEqual(s.services.get('default/s')!.endpoints.get('53/TCP'), []);
});

test('plain services use the default network; ClientIP affinity uses the hash chains', () => {
  const v = view(
    [pod('a', { app: 'p' })],
    [
      svc('plain', { plain: { app: 'p' }, ip: '10.96.0.12', ports: [tcp(80, 80)], affinity: true }),
      svc('pending', { plain: { app: 'p' }, ip: '', ports: [tcp(80, 80)] }),
      svc('nosel', { ip: '10.96.0.13', ports: [tcp(80, 80)] }),
    ],
    [att('a', DEFAULT_NETWORK, 'eth0', '10.244.0.5'), att('a', 'blue', 'eth1', '172.19.0.5')],
  );
  const s = serviceState(v);
  assert.deepEqual([...s.routes.keys()], [DEFAULT_NETWORK]);
  assert.deepEqual(s.tables.get(DEFAULT_NETWORK)!.elements.svc, ['10.96.0.12 . tcp . 80 : goto lba1']);
  assert.deepEqual(s.tables.get(DEFAULT_NETWORK)!.elements.eps, [
    '10.96.0.12 . tcp . 80 . 0 : 10.244.0.5 . 80',
  ]);
});

test('output does not depend on input order; the table loads; one endpoint change is a few elements', async () => {
  const pods = [pod('a', { app: 'x' }), pod('b', { app: 'x' }), pod('c', { app: 'x' })];
  const atts = [
    att('a', 'blue', 'eth1', '172.19.0.2'),
    att('b', 'blue', 'eth1', '172.19.0.10'),
    att('c', 'blue', 'eth1', '172.19.0.3'),
  ];
  const services = [
    svc('s1', { network: 'blue', selector: 'app=x', ip: '10.96.0.1', ports: [tcp(80, 80)] }),
    svc('s2', { network: 'blue', selector: 'app=x', ip: '10.96.0.2', ports: [tcp(80, 80)] }),
  ];
  const one = serviceState(view(pods, services, atts));
  const two = serviceState(view([...pods].reverse(), [...services].reverse(), [...atts].reverse()));
  assert.deepEqual(two.tables.get('blue'), one.tables.get('blue'));

  const { nft, kernel } = fakeNft();
  kernel.addNetns('vrf');
  const r1 = await nft.sync(new Map([['vrf', [one.tables.get('blue')!]]]));
  assert.deepEqual(r1.errors, []);
  // Relabel pod c: it leaves both services.
  const relabelled = [pods[0]!, pods[1]!, pod('c', { app: 'y' })];
  const next = serviceState(view(relabelled, services, atts)).tables.get('blue')!;
  const r2 = await nft.sync(new Map([['vrf', [next]]]));
  assert.deepEqual(r2.errors, []);
  assert.ok(r2.changes <= 12, `changes ${r2.changes}`);
  assert.deepEqual(kernel.elements('vrf', 'ip', 'mnsvc', 'svc'), [
    '10.96.0.1 . tcp . 80 : goto lb2',
    '10.96.0.2 . tcp . 80 : goto lb2',
  ]);
  assert.ok(!kernel.elements('vrf', 'ip', 'mnsvc', 'eps')!.some((e) => e.includes('172.19.0.3 ')));
});

test('two services claiming one ClusterIP: the first by name keeps it, nothing clashes', () => {
  const v = view(
    [pod('a', { app: 'x' })],
    [
      svc('z', { network: 'blue', selector: 'app=x', ip: '10.96.0.1', ports: [tcp(80, 81)] }),
      svc('a', { network: 'blue', selector: 'app=x', ip: '10.96.0.1', ports: [tcp(80, 80)] }),
    ],
    [att('a', 'blue', 'eth1', '172.19.0.2')],
  );
  assert.deepEqual(serviceState(v).tables.get('blue')!.elements.eps, [
    '10.96.0.1 . tcp . 80 . 0 : 172.19.0.2 . 80',
  ]);
});
