import { test } from 'node:test';
import assert from 'node:assert/strict';
import { audit } from './audit.js';

test('a clean run: every live result reserved for its holder, nothing else', () => {
  const live = [
    { holder: 'a', address: '10.0.0.1' },
    { holder: 'b', address: '10.0.0.2' },
  ];
  assert.deepEqual(audit(live, [...live].reverse()), { duplicates: [], leaks: [], lost: [] });
});

test('duplicates across results and store, leaks of dead holders, lost reservations', () => {
  const r = audit(
    [
      { holder: 'a', address: '10.0.0.1' },
      { holder: 'b', address: '10.0.0.1' }, // two live ADDs got one address
      { holder: 'c', address: '10.0.0.3' }, // the store gave it to a dead holder
      { holder: 'd', address: '10.0.0.4' }, // not reserved at all
    ],
    [
      { holder: 'a', address: '10.0.0.1' },
      { holder: 'b', address: '10.0.0.1' },
      { holder: 'killed', address: '10.0.0.3' },
      { holder: 'killed2', address: '10.0.0.9' },
    ],
  );
  assert.deepEqual(r.duplicates, ['10.0.0.1', '10.0.0.3']);
  assert.deepEqual(
    r.leaks.map((h) => h.holder),
    ['killed', 'killed2'],
  );
  assert.deepEqual(
    r.lost.map((h) => h.holder),
    ['c', 'd'],
  );
});

test('one address recorded twice for one holder (IPPool + overlapping reservation) is one record', () => {
  const r = audit(
    [],
    [
      { holder: 'dead', address: '10.0.0.5' },
      { holder: 'dead', address: '10.0.0.5' },
    ],
  );
  assert.deepEqual(r, { duplicates: [], leaks: [{ holder: 'dead', address: '10.0.0.5' }], lost: [] });
});
