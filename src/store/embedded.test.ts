import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storeContract } from './contract.js';
import { EmbeddedStore } from './embedded.js';

const dir = mkdtempSync(join(tmpdir(), 'mn-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

storeContract('embedded', async () => new EmbeddedStore(join(dir, `s${n++}.db`), { pollMs: 5 }));

test('embedded: two handles on one file (as two processes would) see each other, CAS holds', async () => {
  const path = join(dir, 'shared.db');
  const a = new EmbeddedStore(path, { pollMs: 5 });
  const b = new EmbeddedStore(path, { pollMs: 5 });
  try {
    const o = await a.create({ kind: 'T', namespace: '', name: 'x' }, 1);
    assert.equal((await b.get({ kind: 'T', namespace: '', name: 'x' }))?.value, 1);
    await b.update({ kind: 'T', namespace: '', name: 'x' }, 2, o.resourceVersion);
    await assert.rejects(a.update({ kind: 'T', namespace: '', name: 'x' }, 3, o.resourceVersion), /stale/);
    const w = b.watch({ kind: 'T', fromRevision: o.resourceVersion });
    await a.delete({ kind: 'T', namespace: '', name: 'x' });
    const ev = await w.next();
    assert.equal(ev.value?.type, 'MODIFIED');
    assert.equal((await w.next()).value?.type, 'DELETED');
    await w.return?.();
  } finally {
    await a.close();
    await b.close();
  }
});

test('embedded: automatic compaction keeps a bounded history and reports Gone', async () => {
  const s = new EmbeddedStore(join(dir, 'compact.db'), { historyLimit: 100, pollMs: 5 });
  try {
    const first = await s.create({ kind: 'T', namespace: '', name: 'x' }, 0);
    let cur = first;
    for (let i = 1; i <= 1100; i++)
      cur = await s.update({ kind: 'T', namespace: '', name: 'x' }, i, cur.resourceVersion);
    const w = s.watch({ fromRevision: first.resourceVersion });
    await assert.rejects(w.next(), /compacted/);
  } finally {
    await s.close();
  }
});
