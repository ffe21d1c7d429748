import { afterEach, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkPluginName, installPlugin } from './install.js';

let dir: string;
let src: string;
let dest: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mn-install-'));
  src = join(dir, 'multinet-cni');
  writeFileSync(src, '\x7fELF the shim');
  dest = join(dir, 'bin');
  mkdirSync(dest);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const mode = (p: string): number => statSync(p).mode & 0o777;

test('installs under each name, mode 0755, and reports each path', () => {
  const r = installPlugin(src, dest, ['multinet', 'calico']);
  assert.deepEqual(r, [
    { path: join(dest, 'multinet'), status: 'installed' },
    { path: join(dest, 'calico'), status: 'installed' },
  ]);
  for (const n of ['multinet', 'calico']) {
    assert.equal(readFileSync(join(dest, n), 'utf8'), '\x7fELF the shim');
    assert.equal(mode(join(dest, n)), 0o755);
  }
  assert.deepEqual(readdirSync(dest).sort(), ['calico', 'multinet'], 'no temp file left');
});

test('idempotent: an identical file is left alone; a different one, a link or a wrong mode is replaced', () => {
  installPlugin(src, dest, ['multinet', 'calico']);
  const before = statSync(join(dest, 'multinet')).ino;
  assert.deepEqual(
    installPlugin(src, dest, ['multinet', 'calico']).map((r) => r.status),
    ['unchanged', 'unchanged'],
  );
  assert.equal(statSync(join(dest, 'multinet')).ino, before, 'not rewritten');

  writeFileSync(src, '\x7fELF a newer shim');
  chmodSync(join(dest, 'calico'), 0o700);
  assert.deepEqual(
    installPlugin(src, dest, ['multinet', 'calico']).map((r) => r.status),
    ['installed', 'installed'],
  );
  assert.equal(readFileSync(join(dest, 'multinet'), 'utf8'), '\x7fELF a newer shim');
  assert.notEqual(statSync(join(dest, 'multinet')).ino, before, 'replaced by rename, not rewritten in place');
  assert.equal(mode(join(dest, 'calico')), 0o755);

  // A link to an identical file is still replaced by the file itself.
  rmSync(join(dest, 'calico'));
  symlinkSync(src, join(dest, 'calico'));
  assert.deepEqual(installPlugin(src, dest, ['calico']), [
    { path: join(dest, 'calico'), status: 'installed' },
  ]);
  assert.ok(!statSync(join(dest, 'calico'), { throwIfNoEntry: true }).isSymbolicLink());
});

test('a failed install leaves nothing partial behind and names the path', () => {
  // The rename fails (a directory holds the name): the temp file was written, and is removed.
  mkdirSync(join(dest, 'calico'));
  writeFileSync(join(dest, 'calico', 'x'), '');
  assert.throws(
    () => installPlugin(src, dest, ['calico']),
    new RegExp(`cannot install ${join(dest, 'calico')}: `),
  );
  assert.deepEqual(readdirSync(dest), ['calico']);
  assert.deepEqual(readdirSync(join(dest, 'calico')), ['x']);
});

test('missing folder, a file as folder, a missing shim: clear errors, nothing written', () => {
  assert.throws(
    () => installPlugin(src, join(dir, 'nope'), ['multinet']),
    /CNI bin folder .*nope does not exist/,
  );
  assert.throws(() => installPlugin(src, src, ['multinet']), /is not a directory/);
  assert.throws(
    () => installPlugin(join(dir, 'missing'), dest, ['multinet']),
    /native CNI plugin .*missing was not built .*C compiler.*not the Node fallback/,
  );
  assert.deepEqual(readdirSync(dest), []);
});

test('a folder this user cannot write: a clear error and no temp file', () => {
  if (process.getuid?.() === 0) {
    // root writes through a mode of 0555: /proc/sys refuses new files even to root.
    assert.throws(
      () => installPlugin(src, '/proc/sys', ['multinet']),
      /cannot install \/proc\/sys\/multinet: ENOENT/,
    );
    assert.deepEqual(
      readdirSync('/proc/sys').filter((f) => f.includes('multinet')),
      [],
    );
    return;
  }
  chmodSync(dest, 0o555);
  try {
    assert.throws(() => installPlugin(src, dest, ['multinet']), /cannot install .*multinet: EACCES/);
    assert.deepEqual(readdirSync(dest), []);
  } finally {
    chmodSync(dest, 0o755);
  }
});

test('names must be plain file names', () => {
  for (const bad of ['', '.', '..', 'a/b', '../calico', '/opt/cni/bin/x', '.hidden', 'a b', 'x\n'])
    assert.match(checkPluginName(bad) ?? '', /not a plain file name/, JSON.stringify(bad));
  for (const good of ['multinet', 'calico', 'multinet-ipam', 'whereabouts', 'a.b_c'])
    assert.equal(checkPluginName(good), undefined);
  assert.throws(
    () => installPlugin(src, dest, ['multinet', '../escape']),
    /"\.\.\/escape" is not a plain file name/,
  );
  assert.throws(() => installPlugin(src, dest, []), /no plugin names/);
  assert.deepEqual(readdirSync(dest), [], 'nothing installed when any name is bad');
});
