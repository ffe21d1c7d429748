import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatCalicoSelector,
  matchesCalico,
  parseCalicoSelector,
  type CalicoSelector,
} from './calico-selector.js';

function sel(s: string): CalicoSelector {
  const r = parseCalicoSelector(s);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}
const m = (s: string, labels: Record<string, string>): boolean => matchesCalico(sel(s), labels);

describe('Calico selector', () => {
  test('parses the seed selector and matches on it', () => {
    assert.deepEqual(sel("demo == 'demo'"), { op: 'eq', key: 'demo', value: 'demo' });
    assert.equal(m("demo == 'demo'", { demo: 'demo' }), true);
    assert.equal(m("demo == 'demo'", { demo: 'x' }), false);
    assert.equal(m("demo == 'demo'", {}), false);
  });

  test('empty selector and all() select everything', () => {
    assert.deepEqual(sel(''), { op: 'all' });
    assert.equal(m('all()', {}), true);
    assert.equal(m('  ', { a: 'b' }), true);
    assert.equal(m('global()', {}), true);
  });

  test('every operator', () => {
    const l = { app: 'web-frontend', tier: 'gold', 'projectcalico.org/name': 'x' };
    assert.equal(m('has(app)', l), true);
    assert.equal(m('!has(app)', l), false);
    assert.equal(m('has(projectcalico.org/name)', l), true);
    assert.equal(m("app != 'db'", l), true);
    assert.equal(m("missing != 'db'", l), true, '!= matches when the label is absent');
    assert.equal(m('tier in {\'gold\', "silver"}', l), true);
    assert.equal(m('tier in {}', l), false);
    assert.equal(m("tier not in {'gold'}", l), false);
    assert.equal(m("missing not in {'gold'}", l), true);
    assert.equal(m("app contains 'front'", l), true);
    assert.equal(m("app starts with 'web'", l), true);
    assert.equal(m("app ends with 'end'", l), true);
    assert.equal(m("missing contains ''", l), false);
  });

  test('precedence: ! binds tightest, then &&, then ||', () => {
    assert.deepEqual(sel("a == 'x' || b == 'y' && !has(c)"), {
      op: 'or',
      exprs: [
        { op: 'eq', key: 'a', value: 'x' },
        {
          op: 'and',
          exprs: [
            { op: 'eq', key: 'b', value: 'y' },
            { op: 'not', expr: { op: 'has', key: 'c' } },
          ],
        },
      ],
    });
    assert.equal(m("(a == 'x' || b == 'y') && !has(c)", { a: 'x', c: '' }), false);
    assert.equal(m("a == 'x' || b == 'y' && !has(c)", { a: 'x', c: '' }), true);
  });

  test('errors name the problem and never throw', () => {
    for (const bad of [
      'a == b',
      "a = 'b'",
      'has(',
      "(a == 'x'",
      "a in {'x'",
      "a not 'x'",
      "a == 'x' &&",
      "a starts 'x'",
      '&&',
      ')',
      "'a'",
    ]) {
      const r = parseCalicoSelector(bad);
      assert.equal(r.ok, false, bad);
      if (!r.ok) assert.match(r.error, /^selector /);
    }
    const deep = '('.repeat(5000) + 'has(a)' + ')'.repeat(5000);
    assert.equal(parseCalicoSelector(deep).ok, false);
  });

  test('format gives back the same AST', () => {
    for (const s of [
      'a == \'x\' || (b != "y" && !has(c))',
      "k not in {'a', 'b'} && z ends with 'q'",
      "!(a == 'x' || b == 'y')",
    ]) {
      assert.deepEqual(sel(formatCalicoSelector(sel(s))), sel(s));
    }
  });
});
