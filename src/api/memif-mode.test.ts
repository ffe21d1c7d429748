import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memifModeOf, VPP_INTERFACES_SPEC } from './memif-mode.js';

const ann = (v: string) => ({ [VPP_INTERFACES_SPEC]: v });

test('memif mode: ethernet unless the reference annotation says isl3 for that interface', () => {
  assert.deepEqual(memifModeOf(undefined, 'memif1'), { mode: 'ethernet', ignored: [] });
  assert.deepEqual(memifModeOf(ann('{"memif1": {"isl3": true}}'), 'memif1'), { mode: 'ip', ignored: [] });
  assert.deepEqual(memifModeOf(ann('{"memif1": {"isl3": true}}'), 'memif2'), {
    mode: 'ethernet',
    ignored: [],
  });
  assert.deepEqual(memifModeOf(ann('{"memif1": {"isl3": false, "rx": 2, "tx": 2}}'), 'memif1'), {
    mode: 'ethernet',
    ignored: ['rx', 'tx'],
  });
});

test('memif mode: a malformed annotation is an error naming the annotation and the field', () => {
  assert.match((memifModeOf(ann('{'), 'memif1') as { error: string }).error, /vppInterfacesSpec: not JSON/);
  assert.match((memifModeOf(ann('[1]'), 'memif1') as { error: string }).error, /must be a JSON object/);
  assert.match(
    (memifModeOf(ann('{"memif1": 3}'), 'memif1') as { error: string }).error,
    /memif1: must be an object/,
  );
  assert.match(
    (memifModeOf(ann('{"memif1": {"isl3": "yes"}}'), 'memif1') as { error: string }).error,
    /memif1\.isl3: must be true or false/,
  );
});
