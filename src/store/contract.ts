// The one contract every Store backend must pass (memory, embedded, etcd). Each backend's test file
// calls storeContract(name, factory); the factory returns a fresh, empty store per test.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { listThenWatch, type ListWatchItem } from './list-watch.js';
import { compareRevisions, isStoreError, type Store, type WatchEvent } from './types.js';

export type StoreFactory = () => Promise<Store>;

const k = (name: string, namespace = 'ns1', kind = 'Thing') => ({ kind, namespace, name });

async function take<T>(it: AsyncIterator<T>, n: number, timeoutMs = 5000): Promise<T[]> {
  const out: T[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < n) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`timed out after ${out.length} of ${n} events`);
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([
      it.next(),
      new Promise<never>(
        (_, rej) =>
          (timer = setTimeout(() => rej(new Error(`timed out after ${out.length} of ${n} events`)), left)),
      ),
    ]).finally(() => clearTimeout(timer));
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

async function withStore(factory: StoreFactory, fn: (s: Store) => Promise<void>): Promise<void> {
  const s = await factory();
  try {
    await fn(s);
  } finally {
    await s.close();
  }
}

export interface ContractOptions {
  /**
   * The backend can compact on demand (default true). A backend that cannot (kubernetes://: the
   * API server compacts on its own schedule) must instead answer a watch from revision 1, long
   * before any history it keeps, with Gone.
   */
  readonly compacts?: boolean;
}

export function storeContract(name: string, factory: StoreFactory, opts: ContractOptions = {}): void {
  describe(`Store contract: ${name}`, () => {
    test('create, get, list by kind and namespace', () =>
      withStore(factory, async (s) => {
        const a = await s.create(k('a'), { x: 1 });
        assert.deepEqual(a.value, { x: 1 });
        await s.create(k('b', 'ns2'), { x: 2 });
        await s.create(k('c', '', 'Other'), { x: 3 });
        const got = await s.get(k('a'));
        assert.deepEqual(got, a);
        assert.equal(await s.get(k('missing')), undefined);
        const all = await s.list('Thing');
        assert.deepEqual(all.items.map((o) => `${o.namespace}/${o.name}`).sort(), ['ns1/a', 'ns2/b']);
        assert.deepEqual(
          (await s.list('Thing', 'ns2')).items.map((o) => o.name),
          ['b'],
        );
        assert.deepEqual(
          (await s.list('Other', '')).items.map((o) => o.value),
          [{ x: 3 }],
        );
        assert.equal((await s.list('Nothing')).items.length, 0);
      }));

    test('revisions increase with every write; list revision covers the items', () =>
      withStore(factory, async (s) => {
        const a = await s.create(k('a'), 1);
        const b = await s.create(k('b'), 2);
        const a2 = await s.update(k('a'), 3, a.resourceVersion);
        assert.equal(compareRevisions(b.resourceVersion, a.resourceVersion), 1);
        assert.equal(compareRevisions(a2.resourceVersion, b.resourceVersion), 1);
        const l = await s.list('Thing');
        assert.ok(compareRevisions(l.revision, a2.resourceVersion) >= 0);
      }));

    test('create is create-if-absent: AlreadyExists, value untouched', () =>
      withStore(factory, async (s) => {
        await s.create(k('a'), 'first');
        await assert.rejects(
          s.create(k('a'), 'second'),
          (e) => isStoreError(e, 'AlreadyExists') && /Thing ns1\/a/.test(String(e)),
        );
        assert.equal((await s.get(k('a')))?.value, 'first');
      }));

    test('update is compare-and-swap: Conflict on a stale resourceVersion, NotFound when absent', () =>
      withStore(factory, async (s) => {
        const a = await s.create(k('a'), 1);
        const a2 = await s.update(k('a'), 2, a.resourceVersion);
        await assert.rejects(s.update(k('a'), 3, a.resourceVersion), (e) => isStoreError(e, 'Conflict'));
        assert.equal((await s.get(k('a')))?.value, 2);
        assert.equal((await s.get(k('a')))?.resourceVersion, a2.resourceVersion);
        await assert.rejects(s.update(k('zz'), 1, '1'), (e) => isStoreError(e, 'NotFound'));
      }));

    test('concurrent CAS updates: exactly one wins', () =>
      withStore(factory, async (s) => {
        const a = await s.create(k('a'), 0);
        const results = await Promise.allSettled(
          [1, 2, 3, 4, 5].map((v) => s.update(k('a'), v, a.resourceVersion)),
        );
        assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
        for (const r of results) if (r.status === 'rejected') assert.ok(isStoreError(r.reason, 'Conflict'));
      }));

    test('concurrent creates of one key: exactly one wins', () =>
      withStore(factory, async (s) => {
        const results = await Promise.allSettled([1, 2, 3, 4, 5].map((v) => s.create(k('a'), v)));
        assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      }));

    test('delete: plain, conditional, absent', () =>
      withStore(factory, async (s) => {
        const a = await s.create(k('a'), 1);
        const b = await s.create(k('b'), 1);
        await s.update(k('b'), 2, b.resourceVersion);
        await assert.rejects(s.delete(k('b'), { resourceVersion: b.resourceVersion }), (e) =>
          isStoreError(e, 'Conflict'),
        );
        assert.ok(await s.get(k('b')));
        assert.equal(await s.delete(k('a'), { resourceVersion: a.resourceVersion }), true);
        assert.equal(await s.get(k('a')), undefined);
        assert.equal(await s.delete(k('b')), true);
        assert.equal(await s.delete(k('b')), false);
        await assert.rejects(s.delete(k('b'), { resourceVersion: '1' }), (e) => isStoreError(e, 'Conflict'));
        // A deleted key can be created again.
        await s.create(k('a'), 9);
      }));

    test('bad keys are refused with a message naming the field', () =>
      withStore(factory, async (s) => {
        await assert.rejects(s.create(k('a/b'), 1), /name "a\/b"/);
        await assert.rejects(s.create(k('a', 'x/y'), 1), /namespace "x\/y"/);
        await assert.rejects(s.create(k('a', 'ns', 'bad kind'), 1), /kind "bad kind"/);
        await assert.rejects(s.create(k(''), 1), /name ""/);
      }));

    test('watch delivers ordered ADDED/MODIFIED/DELETED after fromRevision, filtered by kind', () =>
      withStore(factory, async (s) => {
        const before = await s.create(k('z'), 'before');
        const w = s.watch({ kind: 'Thing', fromRevision: before.resourceVersion });
        const a = await s.create(k('a'), 1);
        await s.create(k('o', '', 'Other'), 1);
        const a2 = await s.update(k('a'), 2, a.resourceVersion);
        await s.delete(k('a'));
        const evs = await take(w, 3);
        await w.return?.();
        assert.deepEqual(
          evs.map((e) => [e.type, e.object.name, e.object.value]),
          [
            ['ADDED', 'a', 1],
            ['MODIFIED', 'a', 2],
            ['DELETED', 'a', 2],
          ],
        );
        assert.equal(evs[0]!.revision, a.resourceVersion);
        assert.equal(evs[1]!.revision, a2.resourceVersion);
        assert.equal(compareRevisions(evs[2]!.revision, a2.resourceVersion), 1);
        assert.equal(evs[2]!.object.resourceVersion, evs[2]!.revision);
      }));

    test('watch of all kinds replays history from a past revision in order', () =>
      withStore(factory, async (s) => {
        const start = (await s.list('Thing')).revision;
        const written: string[] = [];
        for (let i = 0; i < 20; i++) {
          const o = await s.create(k(`n${i}`, 'ns', i % 2 ? 'Thing' : 'Other'), i);
          written.push(o.resourceVersion);
        }
        const w = s.watch({ fromRevision: start });
        let evs: WatchEvent[];
        try {
          evs = await take(w, 20);
        } catch (e) {
          // An API server keeps history in its watch cache, which it may re-initialise at any
          // time (seen right after CRDs are installed): Gone is then the honest answer, and the
          // consumer re-lists (list-watch does). Only a backend without compact-on-demand may say so.
          if (opts.compacts !== false || !isStoreError(e, 'Gone')) throw e;
          const have = new Set(
            [...(await s.list('Thing')).items, ...(await s.list('Other')).items].map(
              (o) => `${o.kind}/${o.name}`,
            ),
          );
          for (let i = 0; i < 20; i++)
            assert.ok(have.has(`${i % 2 ? 'Thing' : 'Other'}/n${i}`), `re-list sees write n${i}`);
          return;
        }
        await w.return?.();
        assert.deepEqual(
          evs.map((e) => e.revision),
          written,
        );
      }));

    test('watch ends when its signal aborts', () =>
      withStore(factory, async (s) => {
        const ac = new AbortController();
        const w = s.watch({
          kind: 'Thing',
          fromRevision: (await s.list('Thing')).revision,
          signal: ac.signal,
        });
        setTimeout(() => ac.abort(), 50);
        const r = await w.next();
        assert.equal(r.done, true);
      }));

    test('watch from a compacted revision fails with Gone; listThenWatch re-lists', () =>
      withStore(factory, async (s) => {
        const first = await s.create(k('a'), 1);
        let last = first;
        for (let i = 0; i < 5; i++) last = await s.update(k('a'), i + 2, last.resourceVersion);
        if (opts.compacts !== false) await s.compact(last.resourceVersion);
        const w = s.watch({
          kind: 'Thing',
          fromRevision: opts.compacts !== false ? first.resourceVersion : '1',
        });
        await assert.rejects(take(w, 1), (e) => isStoreError(e, 'Gone'));

        // The informer: snapshot, then events; the snapshot is the "in sync" point.
        const ac = new AbortController();
        const it = listThenWatch(s, 'Thing', { signal: ac.signal });
        const snap = (await it.next()).value as ListWatchItem;
        assert.equal(snap.type, 'SYNCED');
        if (snap.type === 'SYNCED')
          assert.deepEqual(
            snap.items.map((o) => o.value),
            [6],
          );
        await s.create(k('b'), 'new');
        const ev = (await it.next()).value as ListWatchItem;
        assert.equal(ev.type, 'ADDED');
        ac.abort();
        await it.return();
      }));
  });
}
