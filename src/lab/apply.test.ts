// What `lab apply` reports before it touches anything (no root needed: a refused input stops at
// validation). Warnings travel with the issues that `lab apply` prints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatIssue } from '../api/index.js';
import { MemoryStore } from '../store/memory.js';
import type { Runner } from '../util/exec.js';
import { applyPaths } from './apply.js';
import type { LabConfig } from './layout.js';

test('lab apply reports the dropped-capability warning with the validation issues', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mn-apply-'));
  try {
    writeFileSync(
      join(dir, 'a.yaml'),
      `apiVersion: projectcalico.org/v3
kind: Network
metadata: {name: blue}
spec: {vni: 56, range: "10.9.0.0/16"}
---
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata: {name: blue-conf, namespace: default}
spec:
  config: '{"type": "multinet", "network": "blue", "ipam": {"type": "whereabouts"}}'
---
apiVersion: v1
kind: Pod
metadata:
  name: x
  annotations: {k8s.v1.cni.cncf.io/networks: '[{"name": "blue-conf", "ips": ["10.9.0.9"]}]'}
spec: {containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata: {name: broken}
spec: {}
`,
    );
    const runner = {} as Runner; // never reached: the broken pod stops the apply
    const r = await applyPaths(new MemoryStore(), runner, {} as LabConfig, '/nonexistent', [dir], () => {});
    assert.ok(r.errorCount > 0);
    assert.deepEqual(r.changed, []);
    const w = r.issues.filter((i) => i.severity === 'warning').map(formatIssue);
    assert.equal(w.length, 1);
    assert.match(
      w[0]!,
      /^warning: .*a\.yaml:\d+ Pod\/default\/x .*\[0\]\.ips: NAD default\/blue-conf has no plugin with capabilities \{"ips": true\}; Multus drops the request/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
