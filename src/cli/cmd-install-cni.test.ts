// The command as a DaemonSet's init container runs it: the real built shim, the real CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NATIVE_SHIM } from '../cni/install.js';
import { parseNames } from './cmd-install-cni.js';

const CLI = fileURLToPath(new URL('./main.js', import.meta.url));
const run = (...args: string[]) =>
  spawnSync(process.execPath, [CLI, 'install-cni', ...args], { encoding: 'utf8' });

test(
  'multinet install-cni --dest DIR installs the native shim as multinet and calico; a rerun changes nothing',
  { skip: existsSync(NATIVE_SHIM) ? false : `${NATIVE_SHIM} not built (no C compiler)` },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'mn-install-cli-'));
    try {
      const r = run('--dest', dir);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, `installed ${join(dir, 'multinet')}\ninstalled ${join(dir, 'calico')}\n`);
      assert.ok(readFileSync(join(dir, 'calico')).equals(readFileSync(NATIVE_SHIM)));
      const again = run('--dest', dir, '--names', 'multinet,calico,whereabouts');
      assert.equal(again.status, 0, again.stderr);
      assert.equal(
        again.stdout,
        ['unchanged multinet', 'unchanged calico', 'installed whereabouts']
          .map((l) => l.replace(' ', ` ${dir}/`) + '\n')
          .join(''),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('bad names and a missing folder exit 1 with the reason', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mn-install-cli-'));
  try {
    const bad = run('--dest', dir, '--names', 'multinet,../x');
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^multinet: plugin name "\.\.\/x" is not a plain file name/);
    const missing = run('--dest', join(dir, 'none'));
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /CNI bin folder .*none does not exist|was not built/);
    assert.match(run().stderr, /required option '--dest <dir>'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.deepEqual(parseNames('multinet, calico'), ['multinet', 'calico']);
  assert.deepEqual(parseNames('a,,b'), ['a', '', 'b']);
});
