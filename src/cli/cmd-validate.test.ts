import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../api/test-root.js';
import { runValidate } from './cmd-validate.js';

const root = repoRoot(import.meta.url);

test('multinet validate -f examples/seed exits 0 and lists every object', async () => {
  const r = await runValidate([join(root, 'examples', 'seed')]);
  assert.equal(r.exitCode, 0, r.text);
  const ok = r.text.split('\n').filter((l) => l.startsWith('ok  '));
  const refs = ok.map((l) => l.split(' ').pop()).sort();
  assert.deepEqual(refs, [
    'Network/blue',
    'Network/red',
    'NetworkAttachmentDefinition/default/network-blue-conf',
    'NetworkAttachmentDefinition/default/network-red-conf',
    'NetworkPolicy/default/pol',
    'Pod/default/samplepod',
    'Pod/default/samplepod-memif',
    'Pod/default/samplepod2',
    'Pod/default/samplepod3',
    'Service/default/my-service',
  ]);
  assert.match(r.text, /10 object\(s\) in 6 file\(s\): 0 error\(s\)/);
});

test('errors exit 1 and print file:line kind/name field: reason; -o json', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mn-validate-'));
  try {
    writeFileSync(
      join(dir, 'a.yaml'),
      'apiVersion: projectcalico.org/v3\nkind: Network\nmetadata:\n  name: blue\nspec:\n  vni: 0\n  range: 10.0.0.0/8\n',
    );
    writeFileSync(join(dir, 'ignored.txt'), 'not yaml: [');
    const r = await runValidate([dir]);
    assert.equal(r.exitCode, 1);
    assert.ok(
      r.text.includes(`${join(dir, 'a.yaml')}:6 Network/blue spec.vni: 0 is out of range 1..16777215`),
      r.text,
    );
    const j = JSON.parse((await runValidate([dir], 'json')).text);
    assert.equal(j.valid, false);
    assert.deepEqual(
      j.objects.map((o: { status: string }) => o.status),
      ['error'],
    );
    assert.equal(j.errors[0].path, 'spec.vni');
    const missing = await runValidate([join(dir, 'nope.yaml')]);
    assert.equal(missing.exitCode, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
