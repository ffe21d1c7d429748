// list-then-watch under failures: a fake store that fails on demand, and a real etcd killed and
// restarted. The consumer must see a fresh snapshot after any failure, never an empty one.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FaultyStore } from './faulty.js';
import { MemoryStore } from './memory.js';
import { EtcdStore } from './etcd.js';
import { ownEtcdUnavailableReason, startOwnTestEtcd } from './etcd-test-server.js';
import {
  listThenWatch,
  listThenWatchKinds,
  WatchHealth,
  type ListWatchOptions,
  type MultiListWatchItem,
  type RetryInfo,
} from './list-watch.js';
import type { Store } from './types.js';

const k = (kind: string, name: string) => ({ kind, namespace: '', name });

/** Pulls items into an array as they come; `until` waits for a predicate over them. */
function collect<T>(it: AsyncGenerator<T, void, undefined>) {
  const items: T[] = [];
  /** When each item arrived (ms since the epoch). */
  const times: number[] = [];
  let done = false;
  const pump = (async () => {
    for await (const x of it) {
      items.push(x);
      times.push(Date.now());
    }
    done = true;
  })();
  const until = async (pred: (xs: T[]) => boolean, ms = 5000): Promise<void> => {
    const deadline = Date.now() + ms;
    while (!pred(items)) {
      if (Date.now() > deadline) throw new Error(`timed out; got ${JSON.stringify(items).slice(0, 400)}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  return { items, times, until, pump, isDone: () => done };
}

const fast: ListWatchOptions = { backoff: { initialMs: 5, maxMs: 40 }, progressMs: 0 };

function names(item: MultiListWatchItem | undefined, kind: string): string[] {
  return item?.type === 'SYNCED' ? (item.kinds.get(kind) ?? []).map((o) => o.name) : [];
}

describe('listThenWatch under failures', () => {
  test('a dropped watch is re-listed after a backoff, and events flow again', async () => {
    const mem = new MemoryStore();
    const s = new FaultyStore(mem);
    await s.create(k('A', 'a1'), 1);
    const ac = new AbortController();
    const errors: RetryInfo[] = [];
    let recovered = 0;
    const c = collect(
      listThenWatchKinds(s, ['A'], {
        ...fast,
        signal: ac.signal,
        onError: (_e, info) => errors.push(info),
        onRecover: () => recovered++,
      }),
    );
    await c.until((xs) => xs.length === 1);
    await s.create(k('A', 'a2'), 2);
    await c.until((xs) => xs.length === 2);
    s.breakWatches();
    await mem.create(k('A', 'a3'), 3); // written while our watch is broken
    await c.until((xs) => xs.filter((x) => x.type === 'SYNCED').length === 2);
    const resync = c.items.filter((x) => x.type === 'SYNCED')[1];
    assert.deepEqual(names(resync, 'A'), ['a1', 'a2', 'a3'], 'the re-list has everything');
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.attempt, 1);
    assert.ok(errors[0]!.delayMs <= 5);
    assert.equal(recovered, 1);
    await s.create(k('A', 'a4'), 4);
    await c.until((xs) => xs.some((x) => x.type === 'ADDED' && x.object.name === 'a4'));
    ac.abort();
    await c.pump;
  });

  test('store down: lists retried with growing capped delays, no empty snapshot; back up: in sync', async () => {
    const mem = new MemoryStore();
    const s = new FaultyStore(mem);
    await s.create(k('A', 'a1'), 1);
    const ac = new AbortController();
    const errors: RetryInfo[] = [];
    const health = new WatchHealth();
    const c = collect(
      listThenWatch(s, 'A', {
        ...fast,
        random: () => 0,
        health,
        signal: ac.signal,
        onError: (_e, info) => errors.push(info),
      }),
    );
    await c.until((xs) => xs.length === 1);
    assert.equal(health.connected, true);
    s.down();
    await c.until(() => errors.length >= 6);
    assert.equal(health.connected, false);
    assert.match(health.lastError ?? '', /unreachable/);
    assert.deepEqual(
      errors.slice(0, 6).map((e) => e.delayMs),
      [5, 10, 20, 40, 40, 40],
    );
    assert.equal(c.items.length, 1, 'nothing delivered while down');
    await mem.create(k('A', 'a2'), 2);
    s.up();
    await c.until((xs) => xs.length === 2);
    const snap = c.items[1]!;
    assert.equal(snap.type, 'SYNCED');
    if (snap.type === 'SYNCED')
      assert.deepEqual(
        snap.items.map((o) => o.name),
        ['a1', 'a2'],
      );
    assert.equal(health.connected, true);
    assert.equal(health.failures, 0);
    ac.abort();
    await c.pump;
  });

  test('a list failing half way lists every kind again; only whole snapshots are delivered', async () => {
    const s = new FaultyStore(new MemoryStore());
    await s.create(k('A', 'a1'), 1);
    await s.create(k('B', 'b1'), 1);
    let failB = 2;
    s.failWhen = (m, kind) => m === 'list' && kind === 'B' && failB-- > 0;
    const ac = new AbortController();
    let errors = 0;
    const c = collect(
      listThenWatchKinds(s, ['A', 'B'], { ...fast, signal: ac.signal, onError: () => errors++ }),
    );
    await c.until((xs) => xs.length === 1);
    assert.equal(errors, 2);
    assert.deepEqual(names(c.items[0], 'A'), ['a1']);
    assert.deepEqual(names(c.items[0], 'B'), ['b1']);
    assert.equal(s.calls.filter((m) => m === 'list').length, 2 * 3, 'A and B listed on each try');
    ac.abort();
    await c.pump;
  });

  test('abort ends the loop at once, also during a long backoff or a hanging list', async () => {
    const s = new FaultyStore(new MemoryStore());
    s.down();
    const ac = new AbortController();
    let errors = 0;
    const c = collect(
      listThenWatch(s, 'A', { backoff: { initialMs: 60_000 }, signal: ac.signal, onError: () => errors++ }),
    );
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(errors, 1);
    const t0 = Date.now();
    ac.abort();
    await c.pump;
    assert.ok(Date.now() - t0 < 200, `took ${Date.now() - t0} ms`);

    const hang: Store = Object.assign(Object.create(new MemoryStore()) as Store, {
      list: () => new Promise<never>(() => undefined),
    });
    const ac2 = new AbortController();
    const c2 = collect(listThenWatch(hang, 'A', { signal: ac2.signal }));
    await new Promise((r) => setTimeout(r, 20));
    const t1 = Date.now();
    ac2.abort();
    await c2.pump;
    assert.ok(Date.now() - t1 < 200, `took ${Date.now() - t1} ms`);
  });

  test('bookmarks keep a quiet watch fresh; a store that stops answering ends the watch', async () => {
    const s = new FaultyStore(new MemoryStore());
    const health = new WatchHealth();
    const ac = new AbortController();
    let errors = 0;
    const c = collect(
      listThenWatch(s, 'A', {
        backoff: { initialMs: 5, maxMs: 20 },
        progressMs: 20,
        health,
        signal: ac.signal,
        onError: () => errors++,
      }),
    );
    await c.until((xs) => xs.length === 1);
    await new Promise((r) => setTimeout(r, 150));
    assert.ok((health.staleMs() ?? 1e9) < 60, `stale ${health.staleMs()} ms on a healthy quiet store`);
    assert.equal(errors, 0);
    // Only the probe sees the outage (the watch stream itself stays open, as on a dead TCP path).
    let down = true;
    s.failWhen = (m) => down && m === 'list';
    await c.until(() => errors >= 1);
    assert.equal(health.connected, false);
    await new Promise((r) => setTimeout(r, 80));
    assert.ok((health.staleMs() ?? 0) >= 80, `stale ${health.staleMs()} ms while down`);
    down = false;
    await c.until((xs) => xs.length === 2);
    assert.ok((health.staleMs() ?? 1e9) < 60);
    ac.abort();
    await c.pump;
  });
});

const noEtcd = ownEtcdUnavailableReason();
describe('listThenWatch on a real etcd killed and restarted', { skip: noEtcd }, () => {
  test('the watch fails, is retried with backoff, and is back in sync once etcd returns', async () => {
    const etcd = await startOwnTestEtcd();
    const s = await EtcdStore.connect([etcd.endpoint], { prefix: '/mn-lw/', callTimeoutMs: 1000 });
    const ac = new AbortController();
    const errors: { msg: string; info: RetryInfo }[] = [];
    const health = new WatchHealth();
    try {
      await s.create(k('A', 'a1'), 1);
      const c = collect(
        listThenWatchKinds(s, ['A'], {
          backoff: { initialMs: 100, maxMs: 1000 },
          progressMs: 0,
          health,
          signal: ac.signal,
          onError: (e, info) => errors.push({ msg: e.message, info }),
        }),
      );
      await c.until((xs) => xs.length === 1);
      await s.create(k('A', 'a2'), 2);
      await c.until((xs) => xs.length === 2);

      const tKill = Date.now();
      await etcd.kill();
      await c.until(() => errors.length >= 1, 10_000);
      const detectMs = Date.now() - tKill;
      assert.match(errors[0]!.msg, /unavailable/);
      await new Promise((r) => setTimeout(r, 1500)); // a few failed lists while it is down
      assert.ok(errors.length >= 2, `${errors.length} failures while down`);
      assert.equal(health.connected, false);

      const tUp = Date.now();
      await etcd.restart();
      const tAnswers = Date.now();
      await c.until((xs) => xs.filter((x) => x.type === 'SYNCED').length === 2, 20_000);
      const syncedAt = c.times[c.items.findIndex((x, i) => i > 0 && x.type === 'SYNCED')]!;
      assert.deepEqual(names(c.items.filter((x) => x.type === 'SYNCED')[1], 'A'), ['a1', 'a2']);
      await s.create(k('A', 'a3'), 3);
      await c.until((xs) => xs.some((x) => x.type === 'ADDED' && x.object.name === 'a3'));
      console.log(
        `# etcd killed: failure seen after ${detectMs} ms; etcd restarted and answering after ` +
          `${tAnswers - tUp} ms; watch in sync after ${syncedAt - tUp} ms (${errors.length} failed attempts)`,
      );
      ac.abort();
      await c.pump;
    } finally {
      ac.abort();
      await s.close();
      await etcd.stop();
    }
  });
});
