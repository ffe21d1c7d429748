import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatIssue, parseDocuments, validateDocuments } from './index.js';

const net = (name: string, vni: number, range: string) =>
  `apiVersion: projectcalico.org/v3\nkind: Network\nmetadata: {name: ${name}}\nspec: {vni: ${vni}, range: "${range}"}\n`;
const nad = (name: string, network: string, ns = 'default') =>
  `apiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\nmetadata: {name: ${name}, namespace: ${ns}}\nspec:\n  config: '{"type": "multinet", "network": "${network}", "ipam": {"type": "whereabouts"}}'\n`;
const pod = (ann: string, ns = 'default') =>
  `apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: ${ns}\n  annotations: {k8s.v1.cni.cncf.io/networks: "${ann}"}\nspec: {containers: [{name: c}]}\n`;

function run(...docs: string[]) {
  const { documents, issues } = parseDocuments(docs.join('---\n'), 'x.yaml');
  const r = validateDocuments(documents, issues);
  return {
    errors: r.issues.filter((i) => i.severity === 'error').map(formatIssue),
    notes: r.issues.filter((i) => i.severity === 'note').map(formatIssue),
  };
}

test('overlapping ranges are a note, not an error', () => {
  const r = run(net('a', 1, '10.0.0.0/16'), net('b', 2, '10.0.0.0/8'));
  assert.deepEqual(r.errors, []);
  assert.equal(r.notes.length, 1);
  assert.match(r.notes[0]!, /^note: x\.yaml:\d+ Network\/b spec\.range: 10\.0\.0\.0\/8 overlaps network a/);
});

test('NAD lookup is namespace-aware', () => {
  assert.deepEqual(run(net('a', 1, '10.0.0.0/16'), nad('n', 'a', 'team'), pod('n@eth1', 'team')).errors, []);
  assert.deepEqual(run(net('a', 1, '10.0.0.0/16'), nad('n', 'a', 'team'), pod('team/n@eth1')).errors, []);
  const r = run(net('a', 1, '10.0.0.0/16'), nad('n', 'a', 'team'), pod('n@eth1'));
  assert.equal(r.errors.length, 1);
  assert.match(r.errors[0]!, /default\/n is not defined \(there is one in namespace team/);
});

test('an invalid object does not cause follow-on "unknown" errors', () => {
  const r = run(net('a', 0, '10.0.0.0/16'), nad('n', 'a'), pod('n@eth1'));
  assert.equal(r.errors.length, 1, r.errors.join('\n'));
  assert.match(r.errors[0]!, /spec\.vni/);
});

test('the same network name in NetworkPolicy of two API groups is one object', () => {
  const p = (api: string) =>
    `apiVersion: ${api}\nkind: NetworkPolicy\nmetadata: {name: pol}\nspec: {selector: all()}\n`;
  assert.equal(run(p('crd.projectcalico.org/v1'), p('projectcalico.org/v3')).errors.length, 1);
  const k =
    'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: pol}\nspec: {podSelector: {}}\n';
  assert.equal(
    run(p('projectcalico.org/v3'), k).errors.length,
    0,
    'a Kubernetes policy of the same name is another object',
  );
});

// Multus hands `ips`/`mac` to plugins as runtimeConfig, which libcni gives only to plugins that
// declare the capability: without it the request is dropped silently, so validate says so.
test('ips or mac asked of a NAD without the capability is a warning naming pod, NAD and capability', () => {
  const capNad = (caps: string) =>
    `apiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\nmetadata: {name: blue-conf, namespace: default}\nspec:\n  config: '{"type": "multinet", "network": "a", ${caps}"ipam": {"type": "whereabouts"}}'\n`;
  const ann =
    '[{\\"name\\": \\"blue-conf\\", \\"ips\\": [\\"10.0.0.5\\"], \\"mac\\": \\"02:00:00:00:00:01\\"}]';
  const warnings = (...docs: string[]) => {
    const { documents, issues } = parseDocuments(docs.join('---\n'), 'x.yaml');
    return validateDocuments(documents, issues)
      .issues.filter((i) => i.severity === 'warning')
      .map(formatIssue);
  };
  const w = warnings(net('a', 1, '10.0.0.0/16'), capNad(''), pod(ann));
  assert.equal(w.length, 2);
  assert.match(
    w[0]!,
    /^warning: x\.yaml:\d+ Pod\/default\/p metadata\.annotations\["k8s\.v1\.cni\.cncf\.io\/networks"\]: \[0\]\.ips: NAD default\/blue-conf has no plugin with capabilities \{"ips": true\}; Multus drops the request — add "capabilities": \{"ips": true\} to its plugin/,
  );
  assert.match(w[1]!, /\[0\]\.mac: NAD default\/blue-conf has no plugin with capabilities \{"mac": true\}/);
  assert.deepEqual(
    warnings(net('a', 1, '10.0.0.0/16'), capNad('"capabilities": {"ips": true, "mac": true}, '), pod(ann)),
    [],
  );
  // A capability declared as anything but true is not declared.
  assert.equal(
    warnings(net('a', 1, '10.0.0.0/16'), capNad('"capabilities": {"ips": "yes"}, '), pod(ann)).length,
    2,
  );
  // Warnings do not fail validation.
  assert.deepEqual(run(net('a', 1, '10.0.0.0/16'), capNad(''), pod(ann)).errors, []);
  // A deviceID (memif device-info) needs both capabilities.
  const dev = '[{\\"name\\": \\"blue-conf\\", \\"interface\\": \\"memif1\\", \\"deviceID\\": \\"memif1\\"}]';
  const wd = warnings(net('a', 1, '10.0.0.0/16'), capNad('"capabilities": {"deviceID": true}, '), pod(dev));
  assert.equal(wd.length, 1);
  assert.match(
    wd[0]!,
    /\[0\]\.deviceID: NAD default\/blue-conf has no plugin with capabilities \{"CNIDeviceInfoFile": true\}; Multus passes it no device-info file, so network-status shows no device-info/,
  );
  assert.deepEqual(
    warnings(
      net('a', 1, '10.0.0.0/16'),
      capNad('"capabilities": {"deviceID": true, "CNIDeviceInfoFile": true}, '),
      pod(dev),
    ),
    [],
  );
});

test('the real Whereabouts ("delegateIpam": true): its range must lie in the Network\'s too', () => {
  const wb = (range: string) =>
    `apiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\nmetadata: {name: w}\nspec:\n  config: '{"type": "multinet", "network": "a", "delegateIpam": true, "ipam": {"type": "whereabouts", "range": "${range}", "configuration_path": "/x/whereabouts.conf"}}'\n`;
  assert.deepEqual(run(net('a', 1, '10.0.0.0/16'), wb('10.0.7.0/24')).errors, []);
  const r = run(net('a', 1, '10.0.0.0/16'), wb('10.9.7.0/24'));
  assert.equal(r.errors.length, 1, r.errors.join('\n'));
  assert.match(r.errors[0]!, /ipam range 10\.9\.7\.0\/24 is not inside network a's range 10\.0\.0\.0\/16/);
});
