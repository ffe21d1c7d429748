import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatLabelSelector,
  labelSelectorFromObject,
  matchesLabels,
  parseLabelSelector,
  type LabelSelector,
} from './label-selector.js';

function sel(s: string): LabelSelector {
  const r = parseLabelSelector(s);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

describe('Kubernetes label selector', () => {
  test('the seed service selector', () => {
    assert.deepEqual(sel('app=MyApp'), [{ key: 'app', op: 'eq', values: ['MyApp'] }]);
    assert.equal(matchesLabels(sel('app=MyApp'), { app: 'MyApp', x: 'y' }), true);
    assert.equal(matchesLabels(sel('app=MyApp'), { app: 'Other' }), false);
  });

  test('all terms must match (AND, unlike the reference OR)', () => {
    const s = sel('app=MyApp, tier in (a, b), !legacy, env, zone notin (z1), x!=y, k==v');
    assert.equal(s.length, 7);
    const good = { app: 'MyApp', tier: 'b', env: '', k: 'v' };
    assert.equal(matchesLabels(s, good), true);
    assert.equal(matchesLabels(s, { ...good, legacy: 'yes' }), false);
    assert.equal(matchesLabels(s, { ...good, tier: 'c' }), false);
    assert.equal(matchesLabels(s, { ...good, x: 'y' }), false);
    assert.equal(matchesLabels(s, { ...good, zone: 'z1' }), false);
    assert.equal(matchesLabels(s, { app: 'MyApp', tier: 'b', k: 'v' }), false, 'env is required');
  });

  test('empty selector matches everything; a= means empty value', () => {
    assert.deepEqual(sel(''), []);
    assert.deepEqual(sel('a='), [{ key: 'a', op: 'eq', values: [''] }]);
    assert.equal(matchesLabels(sel('a='), { a: '' }), true);
  });

  test('errors', () => {
    for (const bad of [
      'app in MyApp',
      'a in ()',
      '=x',
      'a b',
      'a=b=c',
      'a in (x',
      'A_/b=c',
      'a=-bad-',
      ',',
      'a,',
      '!',
    ]) {
      assert.equal(parseLabelSelector(bad).ok, false, bad);
    }
  });

  test('structured form', () => {
    const r = labelSelectorFromObject({
      matchLabels: { app: 'a' },
      matchExpressions: [{ key: 't', operator: 'NotIn', values: ['x'] }],
    });
    assert.ok(r.ok);
    assert.equal(matchesLabels(r.value, { app: 'a', t: 'y' }), true);
    assert.equal(matchesLabels(r.value, { app: 'a', t: 'x' }), false);
    assert.equal(
      labelSelectorFromObject({ matchExpressions: [{ key: 't', operator: 'In', values: [] }] }).ok,
      false,
    );
    assert.deepEqual(labelSelectorFromObject({}), { ok: true, value: [] });
  });

  test('format round-trips', () => {
    const s = sel('a=b,c in (d,e),!f,g,h notin (i),j!=k');
    assert.deepEqual(sel(formatLabelSelector(s)), s);
  });
});

test('structured form: null members are missing ones (as the API server decodes them)', () => {
  for (const obj of [null, {}, { matchLabels: null }, { matchExpressions: null }]) {
    const r = labelSelectorFromObject(obj);
    assert.deepEqual(r, { ok: true, value: [] }, JSON.stringify(obj));
  }
  const r = labelSelectorFromObject({ matchExpressions: [{ key: 'a', operator: 'Exists', values: null }] });
  assert.deepEqual(r, { ok: true, value: [{ key: 'a', op: 'exists', values: [] }] });
  assert.equal(
    labelSelectorFromObject({ matchExpressions: [{ key: 'a', operator: 'In', values: null }] }).ok,
    false,
  );
});
