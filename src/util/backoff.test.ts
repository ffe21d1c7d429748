import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff, sleep, untilAborted } from './backoff.js';

test('backoff doubles up to the cap; jitter only shortens; reset starts over', () => {
  const hi = new Backoff({ initialMs: 500, maxMs: 30_000 }, () => 0);
  const d = Array.from({ length: 9 }, () => hi.next());
  assert.deepEqual(d, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  assert.equal(hi.attempts, 9);
  hi.reset();
  assert.equal(hi.next(), 500);
  const lo = new Backoff({ initialMs: 500, maxMs: 30_000, jitter: 0.5 }, () => 1);
  assert.deepEqual([lo.next(), lo.next()], [250, 500]);
  const r = new Backoff({ initialMs: 1000 });
  for (let i = 0; i < 50; i++) {
    const v = r.next();
    assert.ok(v >= 0 && v <= 30_000, `${v}`);
  }
});

test('sleep and untilAborted end at once when the signal aborts', async () => {
  const ac = new AbortController();
  const t0 = Date.now();
  setTimeout(() => ac.abort(), 20);
  assert.equal(await sleep(10_000, ac.signal), false);
  assert.equal(await untilAborted(new Promise(() => undefined), ac.signal), undefined);
  assert.ok(Date.now() - t0 < 1000);
  assert.equal(await sleep(1), true);
  assert.equal(await untilAborted(Promise.resolve(7), new AbortController().signal), 7);
});
