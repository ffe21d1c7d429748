import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedStore } from './embedded.js';
import { MemoryStore } from './memory.js';
import { openStore } from './open.js';

test('openStore selects the backend from the URL', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mn-open-'));
  try {
    const m = await openStore('memory://');
    assert.ok(m instanceof MemoryStore);
    await m.close();
    const e = await openStore(`embedded://${dir}/sub/x.db`);
    assert.ok(e instanceof EmbeddedStore);
    await e.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('openStore rejects bad URLs clearly', async () => {
  await assert.rejects(openStore('nonsense'), /store URL "nonsense": expected memory/);
  await assert.rejects(openStore('redis://x:1'), /unknown scheme "redis"/);
  await assert.rejects(openStore('embedded://relative.db'), /absolute file path/);
  await assert.rejects(openStore('etcd://'), /is not host:port/);
  await assert.rejects(openStore('etcd://127.0.0.1'), /"127.0.0.1" is not host:port/);
  await assert.rejects(openStore('etcd://127.0.0.1:2379,bad'), /"bad" is not host:port/);
  await assert.rejects(openStore('etcd://127.0.0.1:99999'), /not host:port/);
  await assert.rejects(
    openStore('kubernetes://host:6443'),
    /expected kubernetes:\/\/ or kubernetes:\/\/\?kubeconfig=/,
  );
  await assert.rejects(openStore('kubernetes://?server=x'), /expected kubernetes:\/\//);
});
