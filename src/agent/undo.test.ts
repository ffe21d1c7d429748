import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../util/log.js';
import { UndoList } from './undo.js';

test('undos run latest first, once, and past a failing one', async () => {
  const ran: string[] = [];
  const u = new UndoList(silentLogger);
  u.push('a', async () => void ran.push('a'));
  u.push('b', async () => {
    ran.push('b');
    throw new Error('b failed');
  });
  u.push('c', async () => void ran.push('c'));
  await u.run();
  assert.deepEqual(ran, ['c', 'b', 'a']);
  await u.run();
  assert.deepEqual(ran, ['c', 'b', 'a'], 'a second run does nothing');
});
