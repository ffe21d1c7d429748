import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from './memory.js';
import { putIfChanged } from './put.js';
import { ConflictError, type ResourceKey, type Store } from './types.js';

const key: ResourceKey = { kind: 'Thing', namespace: '', name: 'a' };

test('putIfChanged creates, leaves an equal value alone, then updates', async () => {
  const s = new MemoryStore();
  assert.equal(await putIfChanged(s, key, { v: 1 }), 'created');
  const rv = (await s.get(key))!.resourceVersion;
  assert.equal(await putIfChanged(s, key, { v: 1 }), 'unchanged');
  assert.equal((await s.get(key))!.resourceVersion, rv, 'no write when unchanged');
  assert.equal(await putIfChanged(s, key, { v: 2 }), 'updated');
  assert.deepEqual((await s.get(key))!.value, { v: 2 });
});

test('putIfChanged compares with the given function', async () => {
  const s = new MemoryStore();
  await s.create(key, { v: 1, at: 'then' });
  const same = (a: { v: number }, b: { v: number }): boolean => a.v === b.v;
  assert.equal(await putIfChanged(s, key, { v: 1, at: 'now' }, { same }), 'unchanged');
});

/** A store whose next writes lose a race: another writer gets in between our read and our write. */
function racing(inner: MemoryStore, races: number, other: unknown): Store {
  let left = races;
  const raced = async (): Promise<void> => {
    if (left-- <= 0) return;
    const cur = await inner.get(key);
    if (cur) await inner.update(key, other, cur.resourceVersion);
    else await inner.create(key, other);
  };
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'create' || prop === 'update') {
        return async (...args: unknown[]) => {
          await raced();
          return (Reflect.get(target, prop, receiver) as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

test('putIfChanged re-reads after AlreadyExists and Conflict', async () => {
  const inner = new MemoryStore();
  // create loses (AlreadyExists), then the update loses (Conflict), then it goes through.
  assert.equal(await putIfChanged(racing(inner, 2, { v: 0 }), key, { v: 9 }), 'updated');
  assert.deepEqual((await inner.get(key))!.value, { v: 9 });
  // The other writer wrote what we want: nothing more to do.
  const inner2 = new MemoryStore();
  assert.equal(await putIfChanged(racing(inner2, 1, { v: 9 }), key, { v: 9 }), 'unchanged');
});

test('putIfChanged gives up after its attempts and passes other errors through', async () => {
  const inner = new MemoryStore();
  await inner.create(key, { v: 0 });
  await assert.rejects(
    putIfChanged(racing(inner, 100, { v: 0 }), key, { v: 1 }, { attempts: 3 }),
    (e) => e instanceof ConflictError,
  );
  const broken = new Proxy(inner, {
    get: (t, p) => (p === 'get' ? () => Promise.reject(new Error('down')) : (Reflect.get(t, p) as unknown)),
  });
  await assert.rejects(putIfChanged(broken, key, { v: 1 }), /down/);
});
