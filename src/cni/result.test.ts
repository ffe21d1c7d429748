import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatResult, mergeResults, parseResult, type CniResult100 } from './result.js';
import { CniError, SUPPORTED_VERSIONS } from './spec.js';

// Parsed JSON output, read field by field in assertions.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const full: CniResult100 = {
  cniVersion: '1.1.0',
  interfaces: [
    {
      name: 'eth1',
      mac: '02:00:00:00:00:01',
      mtu: 1450,
      sandbox: '/var/run/netns/p',
      socketPath: '/run/x.sock',
    },
  ],
  ips: [
    { address: '172.19.0.5/16', gateway: '172.19.0.1', interface: 0 },
    { address: 'fd00::5/64', interface: 0 },
  ],
  routes: [{ dst: '172.19.0.0/16', gw: '172.19.0.1', mtu: 1450, table: 100 }],
  dns: { nameservers: ['10.96.0.10'], search: ['svc.cluster.local'] },
};

describe('formatResult', () => {
  test('1.1.0 keeps everything', () => {
    assert.deepEqual(formatResult(full, '1.1.0'), full);
  });
  test('1.0.0 drops the 1.1.0 extras', () => {
    const r = formatResult(full, '1.0.0') as Json;
    assert.deepEqual(r.interfaces, [{ name: 'eth1', mac: '02:00:00:00:00:01', sandbox: '/var/run/netns/p' }]);
    assert.deepEqual(r.routes, [{ dst: '172.19.0.0/16', gw: '172.19.0.1' }]);
    assert.equal('version' in r.ips[0], false);
  });
  test('0.4.0 and 0.3.x add ips[].version', () => {
    for (const v of ['0.3.0', '0.3.1', '0.4.0']) {
      const r = formatResult(full, v) as Json;
      assert.equal(r.cniVersion, v);
      assert.deepEqual(
        r.ips.map((i: Json) => i.version),
        ['4', '6'],
      );
    }
  });
  test('any result survives format -> parse at every version (minus extras below 1.1.0)', () => {
    const arb = fc.record({
      ips: fc.array(
        fc.oneof(
          fc.ipV4().map((a) => ({ address: `${a}/24`, interface: 0 })),
          fc.ipV6().map((a) => ({ address: `${a}/64`, interface: 0 })),
        ),
        { maxLength: 4 },
      ),
    });
    fc.assert(
      fc.property(arb, fc.constantFrom(...SUPPORTED_VERSIONS), ({ ips }, v) => {
        const r: CniResult100 = { cniVersion: '1.1.0', interfaces: [{ name: 'eth1' }], ips };
        const back = parseResult(JSON.parse(JSON.stringify(formatResult(r, v))), 'x');
        assert.deepEqual(back.ips, ips);
      }),
    );
  });
});

describe('parseResult', () => {
  const bad = (raw: unknown, re: RegExp) =>
    assert.throws(
      () => parseResult(raw, 'prevResult'),
      (e: CniError) => e.code === 6 && re.test(e.details) && e.details.startsWith('prevResult'),
    );
  test('refuses malformed results, naming the field', () => {
    bad([], /JSON object/);
    bad({ cniVersion: '0.2.0', ip4: {} }, /0\.2\.0/);
    bad({ ips: [{ address: '10.0.0.1' }] }, /ips\[0\].*address\/prefix/);
    bad({ ips: [{ address: '10.0.0.1/33' }] }, /address\/prefix/);
    bad({ ips: [{ version: '6', address: '10.0.0.1/24' }] }, /version "6"/);
    bad({ ips: [{ address: '10.0.0.1/24', gateway: 'fe80::1' }] }, /gateway/);
    bad({ ips: [{ address: '10.0.0.1/24', interface: 0 }] }, /out of range/);
    bad({ interfaces: [{ mac: 'x' }] }, /interfaces\[0\].*"name"/);
    bad({ routes: [{ dst: 'default' }] }, /routes\[0\]/);
    bad({ dns: { nameservers: 'x' } }, /dns.*nameservers/);
  });
});

describe('mergeResults', () => {
  test('appends ours and shifts our interface indexes', () => {
    const prev: CniResult100 = {
      cniVersion: '1.0.0',
      interfaces: [{ name: 'a' }, { name: 'b' }],
      ips: [{ address: '1.1.1.1/32', interface: 1 }],
      dns: { domain: 'x' },
    };
    const m = mergeResults(prev, {
      cniVersion: '1.0.0',
      interfaces: [{ name: 'eth1' }],
      ips: [{ address: '2.2.2.2/24', interface: 0 }],
      dns: {},
    });
    assert.deepEqual(
      m.interfaces?.map((i) => i.name),
      ['a', 'b', 'eth1'],
    );
    assert.deepEqual(m.ips, [
      { address: '1.1.1.1/32', interface: 1 },
      { address: '2.2.2.2/24', interface: 2 },
    ]);
    assert.deepEqual(m.dns, { domain: 'x' });
  });
});
