import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CNI_SOCKET } from '../cni/protocol.js';
import { AGENT_OPTIONS, resolveAgentOptions, type AgentFlags } from './agent-options.js';

const resolve = (flags: AgentFlags, env: Record<string, string> = {}) =>
  resolveAgentOptions(flags, env, 'this-host');

test('defaults: host name, host netns, default socket, 30/60/300 s, health on 127.0.0.1:9099', () => {
  assert.deepEqual(resolve({}), {
    node: 'this-host',
    store: undefined,
    netns: 'host',
    underlayAddress: undefined,
    underlayInterface: undefined,
    mtu: undefined,
    socket: DEFAULT_CNI_SOCKET,
    resyncMs: 30_000,
    reclaimMs: 60_000,
    graceMs: 300_000,
    health: { host: '127.0.0.1', port: 9099 },
    memifControl: '/run/multinet/memifd.sock',
    memifForwarder: 'start',
  });
});

const ENV = {
  MULTINET_NODE: 'worker-1',
  MULTINET_STORE: 'kubernetes://',
  MULTINET_NETNS: 'mn-n1',
  MULTINET_UNDERLAY_INTERFACE: 'eth0',
  MULTINET_UNDERLAY_ADDRESS: '10.0.0.5',
  MULTINET_MTU: '9000',
  MULTINET_CNI_SOCKET: '/var/run/multinet/cni.sock',
  MULTINET_RESYNC_SECONDS: '0',
  MULTINET_RECLAIM_SECONDS: '120',
  MULTINET_GRACE_SECONDS: '1.5',
  MULTINET_HEALTH_ADDRESS: '0.0.0.0:19099',
  MULTINET_MEMIF_CONTROL: '/run/x/memifd.sock',
  MULTINET_MEMIF_FORWARDER: 'external',
};

test('every option is read from its environment variable', () => {
  assert.deepEqual(
    Object.values(AGENT_OPTIONS)
      .map((o) => o.env)
      .sort(),
    Object.keys(ENV).sort(),
  );
  assert.deepEqual(resolve({}, ENV), {
    node: 'worker-1',
    store: 'kubernetes://',
    netns: 'mn-n1',
    underlayAddress: '10.0.0.5',
    underlayInterface: 'eth0',
    mtu: 9000,
    socket: '/var/run/multinet/cni.sock',
    resyncMs: 0,
    reclaimMs: 120_000,
    graceMs: 1500,
    health: { host: '0.0.0.0', port: 19099 },
    memifControl: '/run/x/memifd.sock',
    memifForwarder: 'external',
  });
});

test('flags win over the environment; an empty variable counts as unset', () => {
  const c = resolve(
    { node: 'n2', mtu: '1400', healthAddress: '[::1]:0', resyncSeconds: '5', store: 'memory://' },
    { ...ENV, MULTINET_NETNS: '', MULTINET_UNDERLAY_ADDRESS: '' },
  );
  assert.equal(c.node, 'n2');
  assert.equal(c.mtu, 1400);
  assert.deepEqual(c.health, { host: '::1', port: 0 });
  assert.equal(c.resyncMs, 5000);
  assert.equal(c.store, 'memory://');
  assert.equal(c.netns, 'host');
  assert.equal(c.underlayAddress, undefined);
  assert.equal(c.reclaimMs, 120_000, 'not given as a flag: the variable');
});

test('off disables the health endpoints, by flag or by variable', () => {
  assert.equal(resolve({ healthAddress: 'off' }).health, undefined);
  assert.equal(resolve({}, { MULTINET_HEALTH_ADDRESS: 'off' }).health, undefined);
  assert.deepEqual(resolve({ healthAddress: 'localhost:80' }, { MULTINET_HEALTH_ADDRESS: 'off' }).health, {
    host: 'localhost',
    port: 80,
  });
});

test('invalid values name the variable or flag and the value', () => {
  assert.throws(
    () => resolve({}, { MULTINET_MTU: 'jumbo' }),
    /MULTINET_MTU "jumbo": expected an integer MTU/,
  );
  assert.throws(() => resolve({ mtu: '20' }), /--mtu "20": expected an integer MTU between 68 and 65535/);
  assert.throws(
    () => resolve({}, { MULTINET_RESYNC_SECONDS: '-1' }),
    /MULTINET_RESYNC_SECONDS "-1": expected seconds/,
  );
  assert.throws(() => resolve({ graceSeconds: '5m' }), /--grace-seconds "5m"/);
  assert.throws(() => resolve({}, { MULTINET_RECLAIM_SECONDS: 'NaN' }), /MULTINET_RECLAIM_SECONDS "NaN"/);
  assert.throws(
    () => resolve({}, { MULTINET_UNDERLAY_ADDRESS: '10.0.0' }),
    /MULTINET_UNDERLAY_ADDRESS "10.0.0": expected an IP/,
  );
  assert.throws(
    () => resolve({ underlayInterface: 'a-very-long-ifname' }),
    /--underlay-interface "a-very-long-ifname"/,
  );
  assert.throws(
    () => resolve({}, { MULTINET_CNI_SOCKET: 'cni.sock' }),
    /MULTINET_CNI_SOCKET "cni.sock": expected an absolute path/,
  );
  assert.throws(() => resolve({ node: 'a b' }), /--node "a b"/);
  assert.throws(
    () => resolve({}, { MULTINET_MEMIF_FORWARDER: 'sidecar' }),
    /MULTINET_MEMIF_FORWARDER "sidecar": expected "start" or "external"/,
  );
  for (const bad of ['9099', '127.0.0.1', '127.0.0.1:99999', '[nothex]:1', 'on'])
    assert.throws(
      () => resolve({}, { MULTINET_HEALTH_ADDRESS: bad }),
      new RegExp(
        `MULTINET_HEALTH_ADDRESS "${bad.replace(/[[\].]/g, '\\$&')}": expected HOST:PORT|is not an IPv6`,
      ),
    );
});

test('every bad option is named at once', () => {
  assert.throws(
    () => resolve({ mtu: 'x' }, { MULTINET_GRACE_SECONDS: 'y', MULTINET_MTU: '1500' }),
    (e: Error) => /--mtu "x"/.test(e.message) && /MULTINET_GRACE_SECONDS "y"/.test(e.message),
  );
});
