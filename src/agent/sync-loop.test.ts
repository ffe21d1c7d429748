import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SyncLoop } from './sync-loop.js';

test('requests during a running sync are coalesced into one next sync', async () => {
  let runs = 0;
  let release!: () => void;
  const loop = new SyncLoop(async () => {
    runs++;
    if (runs === 1) await new Promise<void>((r) => (release = r));
    return runs;
  });
  const first = loop.request();
  await new Promise((r) => setImmediate(r));
  const a = loop.request();
  const b = loop.request();
  release();
  assert.equal(await first, 1);
  assert.equal(await a, 2);
  assert.equal(await b, 2);
  assert.equal(runs, 2);
});

test('a failing sync rejects its callers and the loop keeps going', async () => {
  let n = 0;
  const loop = new SyncLoop(async () => {
    if (++n === 1) throw new Error('boom');
    return n;
  });
  await assert.rejects(loop.request(), /boom/);
  assert.equal(await loop.request(), 2);
});
