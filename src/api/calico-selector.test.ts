import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatCalicoSelector,
  matchesCalico,
  parseCalicoSelector,
  usesGlobal,
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

// From libcalico-go's tokenizer (lib/selector/tokenizer/tokenizer.go) and parser: the spellings
// Calico accepts, which manifests in the wild use.
describe('Calico selector: the forms libcalico-go accepts', () => {
  test('startswith, endswith and notin as one word, and the words with any spacing', () => {
    for (const [text, ast] of [
      ["app startswith 'web'", { op: 'startsWith', key: 'app', value: 'web' }],
      ["app endswith 'end'", { op: 'endsWith', key: 'app', value: 'end' }],
      ["app starts   with 'web'", { op: 'startsWith', key: 'app', value: 'web' }],
      ["app\tends\twith 'end'", { op: 'endsWith', key: 'app', value: 'end' }],
      ["app startswith'web'", { op: 'startsWith', key: 'app', value: 'web' }],
      ["tier notin {'gold'}", { op: 'notIn', key: 'tier', values: ['gold'] }],
      ["tier not  in{'gold'}", { op: 'notIn', key: 'tier', values: ['gold'] }],
      ["tier in{'gold'}", { op: 'in', key: 'tier', values: ['gold'] }],
    ] as const) {
      assert.deepEqual(sel(text), ast, text);
    }
    const l = { app: 'web-frontend', tier: 'gold' };
    assert.equal(m("app startswith 'web' && app endswith 'end'", l), true);
    assert.equal(m("tier notin {'gold'}", l), false);
    assert.equal(m("missing notin {'gold'}", l), true, 'notin matches when the label is absent');
    assert.equal(m("missing startswith ''", l), false, 'startswith needs the label');
  });

  test('format writes the two-word forms, which parse back to the same AST', () => {
    const s = sel("a startswith 'x' && b endswith 'y' && c notin {'z'}");
    assert.equal(formatCalicoSelector(s), 'a starts with "x" && b ends with "y" && c not in {"z"}');
    assert.deepEqual(sel(formatCalicoSelector(s)), s);
  });

  test('a trailing comma in a set is accepted; an empty or comma-only set is not the same', () => {
    assert.deepEqual(sel("a in {'x', 'y',}"), { op: 'in', key: 'a', values: ['x', 'y'] });
    assert.deepEqual(sel('a in {}'), { op: 'in', key: 'a', values: [] });
    assert.equal(parseCalicoSelector('a in {,}').ok, false);
    assert.equal(parseCalicoSelector("a in {'x',,}").ok, false);
  });

  test('words that are operators only when whole: startswithx, notinx, not without in', () => {
    for (const bad of ["a startswithx 'w'", "a notinx {'w'}", "a not {'w'}", "a starts 'w'", 'a ends with']) {
      assert.equal(parseCalicoSelector(bad).ok, false, bad);
    }
    // After a label, `in` as a label name still works where a key is expected.
    assert.deepEqual(sel("in == 'x'"), { op: 'eq', key: 'in', value: 'x' });
  });

  test('only spaces and tabs separate tokens; has(/all(/global( are written without a space', () => {
    const nl = parseCalicoSelector("a == 'x' &&\nb == 'y'");
    assert.equal(nl.ok, false);
    if (!nl.ok) assert.match(nl.error, /"\\n" at column 12: Calico separates tokens by spaces and tabs only/);
    assert.equal(parseCalicoSelector('has (a)').ok, false);
    assert.equal(parseCalicoSelector('all ()').ok, false);
    assert.deepEqual(sel('has( a )'), { op: 'has', key: 'a' });
    assert.deepEqual(sel('\tall()\t'), { op: 'all' });
  });

  test('labels longer than 512 characters are refused', () => {
    assert.equal(parseCalicoSelector(`has(${'a'.repeat(512)})`).ok, true);
    const r = parseCalicoSelector(`has(${'a'.repeat(513)})`);
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.error, /longer than 512/);
  });

  test('global() matches unless the caller evaluates a namespace selector for a pod', () => {
    assert.equal(matchesCalico(sel('global()'), {}), true);
    assert.equal(matchesCalico(sel('global()'), {}, { global: false }), false);
    assert.equal(matchesCalico(sel("!global() && a == 'x'"), { a: 'x' }, { global: false }), true);
    assert.equal(usesGlobal(sel("a == 'x' || !(global())")), true);
    assert.equal(usesGlobal(sel("global == 'x'")), false, 'a label named global is not global()');
  });
});
