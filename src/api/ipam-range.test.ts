// Whereabouts ipam sections as its documentation and tests write them
// (k8snetworkplumbingwg/whereabouts README.md, doc/extended-configuration.md, pkg/config/config_test.go,
// pkg/allocate/allocate.go), read by our one range reader.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Fields } from './fields.js';
import { IssueSink } from './issues.js';
import { validateNad } from './nad.js';
import { parseRangeIp } from './ipam-range.js';

function read(ipam: Record<string, unknown>) {
  const sink = new IssueSink('t', () => 1, 'NetworkAttachmentDefinition/x');
  const config = JSON.stringify({ cniVersion: '1.0.0', type: 'multinet', network: 'blue', ipam });
  const nad = validateNad(
    new Fields(sink),
    {
      apiVersion: 'k8s.cni.cncf.io/v1',
      kind: 'NetworkAttachmentDefinition',
      metadata: { name: 'x', labels: {}, annotations: {} },
      source: { file: 't', line: 1 },
    },
    { config },
  );
  const issues = sink.issues.map(
    (i) =>
      `${i.severity === 'note' ? 'note: ' : ''}${i.path.replace(/^spec\.config\.ipam\.?/, '')}: ${i.reason}`,
  );
  const ranges = nad?.spec.plugin.ipam.ranges.map((r) => ({
    range: r.range.text,
    ...(r.rangeStart ? { start: r.rangeStart } : {}),
    ...(r.rangeEnd ? { end: r.rangeEnd } : {}),
    ...(r.exclude.length ? { exclude: r.exclude.map((e) => e.text) } : {}),
  }));
  return { ranges, issues, errors: issues.filter((i) => !i.startsWith('note: ')) };
}

const w = (o: Record<string, unknown>) => read({ type: 'whereabouts', ...o });

test('range with host bits: masked, whole network (README "range": "192.168.2.225/28"; config.go since v0.4)', () => {
  assert.deepEqual(w({ range: '192.168.2.225/28' }).ranges, [{ range: '192.168.2.224/28' }]);
  assert.deepEqual(w({ range: '192.168.10.1/24' }).ranges, [{ range: '192.168.10.0/24' }]);
  // An explicit range_start still counts.
  assert.deepEqual(w({ range: '192.168.2.225/28', range_start: '192.168.2.230' }).ranges, [
    { range: '192.168.2.224/28', start: '192.168.2.230' },
  ]);
});

test('IPv6 range in any spelling (README "2001::0/116", "abcd::1/64"; upper case, leading zeros)', () => {
  for (const s of ['2001::0/116', '2001:0:0::0/116', '2001:0000::/116', '2001::0:0/116', '2001::/116']) {
    assert.deepEqual(w({ range: s }).ranges, [{ range: '2001::/116' }], s);
  }
  assert.deepEqual(w({ range: 'ABCD::1/64' }).ranges, [{ range: 'abcd::/64' }]);
  assert.deepEqual(w({ range: 'FD00:00AB::0/120', range_start: 'FD00:AB::10' }).ranges, [
    { range: 'fd00:ab::/120', start: 'fd00:ab::10' },
  ]);
  assert.match(w({ range: 'fd00:00001::/64' }).errors.join(), /range: "fd00:00001::\/64" is not a CIDR/);
  assert.match(w({ range: 'fe80::1%eth0/64' }).errors.join(), /range: .* is not a CIDR/);
});

test('range "first-last/prefix" (README "Range end syntax"; config_test.go)', () => {
  assert.deepEqual(w({ range: '192.168.1.5-192.168.1.25/24' }).ranges, [
    { range: '192.168.1.0/24', start: '192.168.1.5', end: '192.168.1.25' },
  ]);
  assert.deepEqual(w({ range: '192.168.2.225-192.168.2.230/28' }).ranges, [
    { range: '192.168.2.224/28', start: '192.168.2.225', end: '192.168.2.230' },
  ]);
  assert.deepEqual(w({ range: 'FD00::5-fd00::0025/64' }).ranges, [
    { range: 'fd00::/64', start: 'fd00::5', end: 'fd00::25' },
  ]);
  // Whereabouts: "invalid range start for CIDR 192.168.2.16/28: 192.168.1.5".
  assert.match(
    w({ range: '192.168.1.5-192.168.2.25/28' }).errors.join(),
    /range: 192\.168\.1\.5 is outside range 192\.168\.2\.16\/28/,
  );
  assert.match(
    w({ range: '192.168.1.25-192.168.1.5/24' }).errors.join(),
    /range: 192\.168\.1\.5 is before the first address 192\.168\.1\.25/,
  );
  assert.match(w({ range: 'fd00::5-192.168.1.5/24' }).errors.join(), /range: fd00::5 is outside range/);
  assert.match(
    w({ range: '192.168.1.5-banana/24' }).errors.join(),
    /range: "192.168.1.5-banana\/24" is not "first-last\/prefix"/,
  );
  // Whereabouts silently overwrites range_start/range_end here; we say so.
  assert.match(
    w({ range: '192.168.1.5-192.168.1.25/24', range_end: '192.168.1.30' }).errors.join(),
    /range_end: conflicts with range "192.168.1.5-192.168.1.25\/24"/,
  );
});

test('range_start / range_end (README core parameters; leading zeros as in config_test.go)', () => {
  assert.deepEqual(
    w({ range: '00192.00168.1.0/24', range_start: '00192.00168.1.44', range_end: '00192.00168.01.209' })
      .ranges,
    [{ range: '192.168.1.0/24', start: '192.168.1.44', end: '192.168.1.209' }],
  );
  assert.match(
    w({ range: '010.1.0.0/16' }).issues.join(),
    /note: range: read "010.1.0.0\/16" as 10.1.0.0\/16/,
  );
  assert.match(
    w({ range: '10.0.0.0/24', range_start: '10.0.1.1' }).errors.join(),
    /range_start: 10.0.1.1 is outside range 10.0.0.0\/24/,
  );
  assert.match(
    w({ range: '10.0.0.0/24', range_start: '10.0.0.9', range_end: '10.0.0.3' }).errors.join(),
    /range_end: 10.0.0.3 is before range_start 10.0.0.9/,
  );
  assert.match(
    w({ range: '10.0.0.0/24', range_start: 'fd00::1' }).errors.join(),
    /range_start: fd00::1 is outside/,
  );
  assert.match(
    w({ range: '10.0.0.0/24', range_end: '10.0.0.256' }).errors.join(),
    /range_end: "10.0.0.256" is not an IP address/,
  );
  // On the network or broadcast address they are ignored, as GetIPRange does (pkg/iphelpers).
  const nb = w({ range: '10.0.0.0/24', range_start: '10.0.0.0', range_end: '10.0.0.255' });
  assert.deepEqual(nb.ranges, [{ range: '10.0.0.0/24' }]);
  assert.deepEqual(nb.errors, []);
  assert.match(nb.issues.join(), /range_start: 10.0.0.0 is the network address of 10.0.0.0\/24.*ignored/);
  assert.deepEqual(w({ range: 'fd00::/120', range_start: 'fd00::0' }).ranges, [{ range: 'fd00::/120' }]);
});

test('exclude: CIDRs (host bits masked) and bare addresses (README; allocate.go parseExcludedRange)', () => {
  const r = w({
    range: '192.168.2.225/28',
    exclude: ['192.168.2.229/30', '192.168.2.236/32', '192.168.2.238'],
  });
  assert.deepEqual(r.ranges, [
    { range: '192.168.2.224/28', exclude: ['192.168.2.228/30', '192.168.2.236/32', '192.168.2.238/32'] },
  ]);
  assert.deepEqual(r.errors, []);
  assert.match(
    r.issues.join(),
    /note: exclude\[0\]: 192.168.2.229\/30 has host bits set: it excludes all of 192.168.2.228\/30/,
  );
  assert.deepEqual(w({ range: 'fd00::/64', exclude: ['FD00::1', 'fd00::0010/124'] }).ranges, [
    { range: 'fd00::/64', exclude: ['fd00::1/128', 'fd00::10/124'] },
  ]);
  assert.match(
    w({ range: '10.0.0.0/24', exclude: ['fd00::1'] }).errors.join(),
    /exclude\[0\]: fd00::1 is not the same IP family/,
  );
  assert.match(
    w({ range: '10.0.0.0/24', exclude: ['banana'] }).errors.join(),
    /exclude\[0\]: "banana" is not a CIDR or an address/,
  );
  assert.match(
    w({ range: '10.0.0.0/24', exclude: ['10.9.0.0/24'] }).issues.join(),
    /note: exclude\[0\]: 10.9.0.0\/24 is outside range 10.0.0.0\/24 and excludes nothing/,
  );
  assert.match(
    w({ range: '10.0.0.0/30', exclude: ['10.0.0.0/30'] }).errors.join(),
    /exclude: every IPv4 address of the range is excluded/,
  );
  assert.match(w({ exclude: ['10.0.0.0/30'] }).errors.join(), /exclude: needs "range" next to it/);
});

test('ipRanges, dual stack, and overlaps (README "ipRanges", "Example DualStack config")', () => {
  assert.deepEqual(w({ ipRanges: [{ range: '192.168.10.1/24' }, { range: 'abcd::1/64' }] }).ranges, [
    { range: '192.168.10.0/24' },
    { range: 'abcd::/64' },
  ]);
  assert.deepEqual(
    w({ range: 'abcd::1/64', ipRanges: [{ range: '192.168.10.1/24' }, { range: '176.168.10.1/16' }] }).ranges,
    [{ range: 'abcd::/64' }, { range: '192.168.10.0/24' }, { range: '176.168.0.0/16' }],
  );
  assert.deepEqual(w({ ipRanges: [{ range: '10.0.0.5-10.0.0.9/24', exclude: ['10.0.0.7'] }] }).ranges, [
    { range: '10.0.0.0/24', start: '10.0.0.5', end: '10.0.0.9', exclude: ['10.0.0.7/32'] },
  ]);
  assert.match(
    w({ range: '10.0.0.0/24', ipRanges: [{ range: '10.0.0.128/25' }] }).errors.join(),
    /ipRanges\[0\]\.range: 10.0.0.128\/25 overlaps range 10.0.0.0\/24/,
  );
  // Disjoint start/end slices of one network do not overlap.
  assert.deepEqual(
    w({ ipRanges: [{ range: '10.0.0.1-10.0.0.9/24' }, { range: '10.0.0.10-10.0.0.20/24' }] }).errors,
    [],
  );
  assert.match(
    w({ ipRanges: [{ range: '10.0.0.0/24', gateway: '10.0.0.1' }] }).errors.join(),
    /ipRanges\[0\]\.gateway: unknown field/,
  );
});

test('Whereabouts keys we do not implement are named (README, extended-configuration.md, types.go)', () => {
  const base = { range: '192.168.2.0/24' };
  assert.match(
    w({ ...base, node_slice_size: '/22' }).errors.join(),
    /node_slice_size: Whereabouts "Fast IPAM" node slices are not implemented/,
  );
  assert.match(
    w({ ...base, addresses: [{ address: '10.0.0.1/24' }] }).errors.join(),
    /addresses: static addresses .* not implemented/,
  );
  const ops = w({
    ...base,
    datastore: 'kubernetes',
    kubernetes: { kubeconfig: '/etc/cni/net.d/whereabouts.d/whereabouts.kubeconfig' },
    etcd_host: 'example-etcd-cluster-client.cluster.local:2379',
    etcd_username: 'u',
    log_file: '/tmp/whereabouts.log',
    log_level: 'debug',
    gateway: '192.168.2.1',
    configuration_path: '/etc/whereabouts.conf',
    reconciler_cron_expression: '30 4 * * *',
    leader_lease_duration: 1500,
    sleep_for_race: 1,
    routes: [{ dst: '0.0.0.0/0' }],
    dns: {},
  });
  assert.deepEqual(ops.errors, []);
  for (const k of [
    'datastore',
    'kubernetes',
    'etcd_host',
    'etcd_username',
    'log_file',
    'gateway',
    'configuration_path',
    'reconciler_cron_expression',
    'leader_lease_duration',
    'sleep_for_race',
    'routes',
    'dns',
  ]) {
    assert.ok(
      ops.issues.some((i) => i.startsWith(`note: ${k}:`)),
      k,
    );
  }
  assert.match(w({ ...base, rnage: 'x' }).errors.join(), /rnage: unknown field/);
  assert.match(w({ ...base, constructor: 'x' }).errors.join(), /constructor: unknown field/);
});

test('parseRangeIp: canonical text, sloppy IPv4 flagged', () => {
  const ok = (s: string) => {
    const p = parseRangeIp(s);
    assert.ok(p.ok, s);
    return [p.ip.text, p.sloppy];
  };
  assert.deepEqual(ok('FD00::0'), ['fd00::', false]);
  assert.deepEqual(ok('010.001.000.009'), ['10.1.0.9', true]);
  for (const s of ['1.2.3', '1.2.3.256', ' 1.2.3.4', '0x7f.0.0.1', 'fe80::1%1', ''])
    assert.equal(parseRangeIp(s).ok, false, s);
});
