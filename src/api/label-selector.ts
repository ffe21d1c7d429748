// Kubernetes label selectors: the string form (`app=MyApp,tier in (a,b),!legacy`, as in
// apimachinery's labels.Parse) and the structured form (matchLabels + matchExpressions).
// Every requirement must hold (comma = AND). The empty selector matches everything.
import type { Parsed } from './cidr.js';
import { checkLabelKey, checkLabelValue } from './names.js';
import { isObject } from './documents.js';

export type LabelOperator = 'exists' | 'notExists' | 'eq' | 'ne' | 'in' | 'notIn';

export interface LabelRequirement {
  readonly key: string;
  readonly op: LabelOperator;
  /** One value for eq/ne, a non-empty set for in/notIn, none otherwise. */
  readonly values: readonly string[];
}

export type LabelSelector = readonly LabelRequirement[];

type Tok = { t: 'id' | 'sym'; v: string; pos: number } | { t: 'end'; pos: number };

function tokenize(s: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const two = s.slice(i, i + 2);
    if (two === '==' || two === '!=') {
      out.push({ t: 'sym', v: two, pos: i });
      i += 2;
    } else if ('=!(),'.includes(c)) {
      out.push({ t: 'sym', v: c, pos: i });
      i++;
    } else {
      let j = i;
      while (j < s.length && !/[\s=!(),]/.test(s[j]!)) j++;
      out.push({ t: 'id', v: s.slice(i, j), pos: i });
      i = j;
    }
  }
  out.push({ t: 'end', pos: s.length });
  return out;
}

class LabelSelectorError extends Error {}

function at(t: Tok): string {
  return t.t === 'end' ? 'at end of selector' : `at column ${t.pos + 1} (found '${t.v}')`;
}

function key(t: Tok): string {
  if (t.t !== 'id') throw new LabelSelectorError(`expected a label key ${at(t)}`);
  const err = checkLabelKey(t.v);
  if (err) throw new LabelSelectorError(err);
  return t.v;
}

function value(v: string): string {
  const err = checkLabelValue(v);
  if (err) throw new LabelSelectorError(err);
  return v;
}

/** Parses the string form; never throws. */
export function parseLabelSelector(s: string): Parsed<LabelSelector> {
  if (typeof s !== 'string') return { ok: false, error: 'label selector must be a string' };
  try {
    const toks = tokenize(s);
    let i = 0;
    const peek = (): Tok => toks[i]!;
    const isSym = (v: string): boolean => {
      const t = peek();
      return t.t === 'sym' && t.v === v;
    };
    const reqs: LabelRequirement[] = [];
    if (peek().t === 'end') return { ok: true, value: reqs };
    for (;;) {
      if (isSym('!')) {
        i++;
        reqs.push({ key: key(toks[i++]!), op: 'notExists', values: [] });
      } else {
        const k = key(toks[i++]!);
        const t = peek();
        if (t.t === 'end' || isSym(',')) {
          reqs.push({ key: k, op: 'exists', values: [] });
        } else if (t.t === 'sym' && (t.v === '=' || t.v === '==' || t.v === '!=')) {
          i++;
          // `a=` (empty value) is legal; `a=,b` too.
          const v = peek();
          let val = '';
          if (v.t === 'id') {
            val = value(v.v);
            i++;
          } else if (!(v.t === 'end' || isSym(','))) {
            throw new LabelSelectorError(`expected a label value ${at(v)}`);
          }
          reqs.push({ key: k, op: t.v === '!=' ? 'ne' : 'eq', values: [val] });
        } else if (t.t === 'id' && (t.v === 'in' || t.v === 'notin')) {
          i++;
          if (!isSym('(')) throw new LabelSelectorError(`expected '(' after '${t.v}' ${at(peek())}`);
          i++;
          if (isSym(')')) throw new LabelSelectorError(`'${t.v}' needs at least one value`);
          const values: string[] = [];
          for (;;) {
            const v = peek();
            if (v.t === 'id') {
              values.push(value(v.v));
              i++;
            } else if (isSym(',') || isSym(')')) {
              values.push(''); // `in (a,,b)` names the empty value, as in apimachinery
            } else {
              throw new LabelSelectorError(`expected a value, ',' or ')' ${at(v)}`);
            }
            if (isSym(')')) {
              i++;
              break;
            }
            if (!isSym(',')) throw new LabelSelectorError(`expected ',' or ')' ${at(peek())}`);
            i++;
          }
          reqs.push({ key: k, op: t.v === 'in' ? 'in' : 'notIn', values: [...new Set(values)] });
        } else {
          throw new LabelSelectorError(`expected =, ==, !=, in or notin after "${k}" ${at(t)}`);
        }
      }
      const t = peek();
      if (t.t === 'end') break;
      if (!isSym(',')) throw new LabelSelectorError(`expected ',' ${at(t)}`);
      i++;
    }
    return { ok: true, value: reqs };
  } catch (e) {
    if (e instanceof LabelSelectorError)
      return { ok: false, error: `label selector ${JSON.stringify(s)}: ${e.message}` };
    throw e;
  }
}

/** The structured form `{matchLabels, matchExpressions}`; never throws. */
export function labelSelectorFromObject(obj: unknown): Parsed<LabelSelector> {
  if (obj === undefined || obj === null) return { ok: true, value: [] };
  if (!isObject(obj))
    return { ok: false, error: 'must be an object with matchLabels and/or matchExpressions' };
  const reqs: LabelRequirement[] = [];
  for (const k of Object.keys(obj)) {
    if (k !== 'matchLabels' && k !== 'matchExpressions') return { ok: false, error: `unknown field "${k}"` };
  }
  // null members are missing ones, as the API server decodes them.
  if (obj.matchLabels !== undefined && obj.matchLabels !== null) {
    if (!isObject(obj.matchLabels)) return { ok: false, error: 'matchLabels must be a map of strings' };
    for (const [k, v] of Object.entries(obj.matchLabels)) {
      const err =
        checkLabelKey(k) ??
        (typeof v === 'string' ? checkLabelValue(v) : `matchLabels.${k} must be a string`);
      if (err) return { ok: false, error: err };
      reqs.push({ key: k, op: 'eq', values: [v as string] });
    }
  }
  if (obj.matchExpressions !== undefined && obj.matchExpressions !== null) {
    if (!Array.isArray(obj.matchExpressions)) return { ok: false, error: 'matchExpressions must be a list' };
    for (const [n, e] of obj.matchExpressions.entries()) {
      if (!isObject(e) || typeof e.key !== 'string')
        return { ok: false, error: `matchExpressions[${n}].key must be a string` };
      const err = checkLabelKey(e.key);
      if (err) return { ok: false, error: `matchExpressions[${n}]: ${err}` };
      const ops: Record<string, LabelOperator> = {
        In: 'in',
        NotIn: 'notIn',
        Exists: 'exists',
        DoesNotExist: 'notExists',
      };
      const op = typeof e.operator === 'string' ? ops[e.operator] : undefined;
      if (!op)
        return {
          ok: false,
          error: `matchExpressions[${n}].operator must be In, NotIn, Exists or DoesNotExist`,
        };
      const values = e.values ?? [];
      if (!Array.isArray(values) || values.some((v) => typeof v !== 'string')) {
        return { ok: false, error: `matchExpressions[${n}].values must be a list of strings` };
      }
      if ((op === 'in' || op === 'notIn') && values.length === 0) {
        return {
          ok: false,
          error: `matchExpressions[${n}].values must not be empty for ${String(e.operator)}`,
        };
      }
      if ((op === 'exists' || op === 'notExists') && values.length > 0) {
        return { ok: false, error: `matchExpressions[${n}].values must be empty for ${String(e.operator)}` };
      }
      for (const v of values as string[]) {
        const verr = checkLabelValue(v);
        if (verr) return { ok: false, error: `matchExpressions[${n}]: ${verr}` };
      }
      reqs.push({ key: e.key, op, values: values as string[] });
    }
  }
  return { ok: true, value: reqs };
}

/** All requirements must hold. */
export function matchesLabels(sel: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  return sel.every((r) => {
    const present = Object.prototype.hasOwnProperty.call(labels, r.key);
    const v = labels[r.key];
    switch (r.op) {
      case 'exists':
        return present;
      case 'notExists':
        return !present;
      case 'eq':
        return present && v === r.values[0];
      case 'ne':
        return !present || v !== r.values[0];
      case 'in':
        return present && r.values.includes(v!);
      case 'notIn':
        return !present || !r.values.includes(v!);
    }
  });
}

/** Canonical string form; parsing it gives back an equal selector. */
export function formatLabelSelector(sel: LabelSelector): string {
  return sel
    .map((r) => {
      switch (r.op) {
        case 'exists':
          return r.key;
        case 'notExists':
          return `!${r.key}`;
        case 'eq':
          return `${r.key}=${r.values[0]}`;
        case 'ne':
          return `${r.key}!=${r.values[0]}`;
        case 'in':
        case 'notIn':
          return `${r.key} ${r.op === 'in' ? 'in' : 'notin'} (${r.values.join(',')})`;
      }
    })
    .join(',');
}
