import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { networkCrdYaml } from './network-crd.js';
import { VNI_MAX } from './network-schema.js';
import { repoRoot } from './test-root.js';

test('deploy/crds is what scripts/gen-crds.mjs generates from the validator schema', () => {
  const file = join(repoRoot(import.meta.url), 'deploy', 'crds', 'projectcalico.org_networks.yaml');
  assert.equal(readFileSync(file, 'utf8'), networkCrdYaml(), 'run: node --import tsx scripts/gen-crds.mjs');
});

test('the CRD carries the validator bounds', () => {
  const crd = parse(networkCrdYaml());
  const spec = crd.spec.versions[0].schema.openAPIV3Schema.properties.spec;
  assert.equal(crd.spec.scope, 'Cluster');
  assert.equal(crd.spec.group, 'projectcalico.org');
  assert.equal(spec.properties.vni.maximum, VNI_MAX);
  assert.deepEqual(spec.required, ['vni', 'range']);
});
