// The Calico selector language (as in libcalico-go's selector package): parser to an AST,
// evaluator and formatter. Grammar, loosest binding first:
//   expr   := and ('||' and)*
//   and    := unary ('&&' unary)*
//   unary  := '!' unary | '(' expr ')' | 'all()' | 'global()' | 'has(' key ')'
//           | key ('=='|'!=') str | key ['not'] 'in' '{' [str (',' str)* [',']] '}'
//           | key ('contains' | 'starts with' | 'ends with') str
// As libcalico-go's tokenizer: the two-word operators may be written as one word (`startswith`,
// `endswith`, `notin`) or with any spaces between; only spaces and tabs separate tokens; labels are
// at most 512 characters. Strings are single- or double-quoted without escapes. The empty selector
// means all().
import type { Parsed } from './cidr.js';

export type CalicoSelector =
  | { readonly op: 'all' }
  | { readonly op: 'global' }
  | { readonly op: 'has'; readonly key: string }
  | {
      readonly op: 'eq' | 'ne' | 'contains' | 'startsWith' | 'endsWith';
      readonly key: string;
      readonly value: string;
    }
  | { readonly op: 'in' | 'notIn'; readonly key: string; readonly values: readonly string[] }
  | { readonly op: 'not'; readonly expr: CalicoSelector }
  | { readonly op: 'and' | 'or'; readonly exprs: readonly CalicoSelector[] };

type Tok =
  | { t: 'ident'; v: string; pos: number }
  | { t: 'str'; v: string; pos: number }
  | { t: 'sym'; v: string; pos: number }
  | { t: 'end'; pos: number };

const KEY = /^[A-Za-z0-9_./-]+$/;
const MAX_DEPTH = 100;
/** libcalico-go tokenizer's MaxLabelLength. */
const MAX_LABEL = 512;

function tokenize(s: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    if (/\s/.test(c))
      throw new SelectorError(
        `${JSON.stringify(c)} at column ${i + 1}: Calico separates tokens by spaces and tabs only (a YAML block scalar keeps newlines: use a plain or folded string)`,
      );
    const two = s.slice(i, i + 2);
    if (two === '&&' || two === '||' || two === '==' || two === '!=') {
      out.push({ t: 'sym', v: two, pos: i });
      i += 2;
    } else if ('!(){},'.includes(c)) {
      out.push({ t: 'sym', v: c, pos: i });
      i++;
    } else if (c === '=') {
      throw new SelectorError(`'=' at column ${i + 1}: use '==' to compare`);
    } else if (c === '"' || c === "'") {
      const end = s.indexOf(c, i + 1);
      if (end < 0) throw new SelectorError(`unterminated string starting at column ${i + 1}`);
      out.push({ t: 'str', v: s.slice(i + 1, end), pos: i });
      i = end + 1;
    } else {
      const m = /^[A-Za-z0-9_./-]+/.exec(s.slice(i));
      if (!m) throw new SelectorError(`unexpected character ${JSON.stringify(c)} at column ${i + 1}`);
      if (m[0].length > MAX_LABEL)
        throw new SelectorError(`label at column ${i + 1} is longer than ${MAX_LABEL} characters`);
      out.push({ t: 'ident', v: m[0], pos: i });
      i += m[0].length;
    }
  }
  out.push({ t: 'end', pos: s.length });
  return out;
}

class SelectorError extends Error {}

class Parser {
  private i = 0;
  private depth = 0;
  constructor(private readonly toks: Tok[]) {}

  private peek(): Tok {
    return this.toks[this.i]!;
  }
  private next(): Tok {
    return this.toks[this.i++]!;
  }
  private isSym(v: string): boolean {
    const t = this.peek();
    return t.t === 'sym' && t.v === v;
  }
  private isWord(v: string): boolean {
    const t = this.peek();
    return t.t === 'ident' && t.v === v;
  }
  private expectSym(v: string): void {
    const t = this.next();
    if (t.t !== 'sym' || t.v !== v) throw new SelectorError(`expected '${v}' ${describe(t)}`);
  }
  private expectStr(): string {
    const t = this.next();
    if (t.t !== 'str') throw new SelectorError(`expected a quoted string ${describe(t)}`);
    return t.v;
  }

  parseAll(): CalicoSelector {
    if (this.peek().t === 'end') return { op: 'all' };
    const e = this.expr();
    const t = this.peek();
    if (t.t !== 'end') throw new SelectorError(`unexpected ${describe(t)}`);
    return e;
  }

  private expr(): CalicoSelector {
    if (++this.depth > MAX_DEPTH) throw new SelectorError('selector nests too deeply');
    const exprs = [this.and()];
    while (this.isSym('||')) {
      this.next();
      exprs.push(this.and());
    }
    this.depth--;
    return exprs.length === 1 ? exprs[0]! : { op: 'or', exprs };
  }

  private and(): CalicoSelector {
    const exprs = [this.unary()];
    while (this.isSym('&&')) {
      this.next();
      exprs.push(this.unary());
    }
    return exprs.length === 1 ? exprs[0]! : { op: 'and', exprs };
  }

  private unary(): CalicoSelector {
    if (this.isSym('!')) {
      this.next();
      if (++this.depth > MAX_DEPTH) throw new SelectorError('selector nests too deeply');
      const expr = this.unary();
      this.depth--;
      return { op: 'not', expr };
    }
    if (this.isSym('(')) {
      this.next();
      const e = this.expr();
      this.expectSym(')');
      return e;
    }
    const t = this.next();
    if (t.t !== 'ident') throw new SelectorError(`expected a label key, has(), all() or '(' ${describe(t)}`);
    // Calico's tokenizer only knows `has(`, `all(` and `global(` written without a space.
    const call = this.isSym('(') && this.peek().pos === t.pos + t.v.length;
    if ((t.v === 'all' || t.v === 'global') && call) {
      this.next();
      this.expectSym(')');
      return { op: t.v };
    }
    if (t.v === 'has' && call) {
      this.next();
      const k = this.next();
      if (k.t !== 'ident') throw new SelectorError(`expected a label key inside has() ${describe(k)}`);
      this.expectSym(')');
      return { op: 'has', key: k.v };
    }
    const key = t.v;
    if (this.isSym('==') || this.isSym('!=')) {
      const op = this.next() as { v: string };
      return { op: op.v === '==' ? 'eq' : 'ne', key, value: this.expectStr() };
    }
    if (this.isWord('in')) {
      this.next();
      return { op: 'in', key, values: this.set() };
    }
    if (this.isWord('notin')) {
      this.next();
      return { op: 'notIn', key, values: this.set() };
    }
    if (this.isWord('not')) {
      this.next();
      if (!this.isWord('in')) throw new SelectorError(`expected 'in' after 'not' ${describe(this.peek())}`);
      this.next();
      return { op: 'notIn', key, values: this.set() };
    }
    if (this.isWord('contains')) {
      this.next();
      return { op: 'contains', key, value: this.expectStr() };
    }
    if (this.isWord('startswith') || this.isWord('endswith')) {
      const w = (this.next() as { v: string }).v;
      return { op: w === 'startswith' ? 'startsWith' : 'endsWith', key, value: this.expectStr() };
    }
    if (this.isWord('starts') || this.isWord('ends')) {
      const w = (this.next() as { v: string }).v;
      if (!this.isWord('with'))
        throw new SelectorError(`expected 'with' after '${w}' ${describe(this.peek())}`);
      this.next();
      return { op: w === 'starts' ? 'startsWith' : 'endsWith', key, value: this.expectStr() };
    }
    throw new SelectorError(
      `expected an operator (==, !=, in, not in, contains, starts with, ends with) after "${key}" ${describe(this.peek())}`,
    );
  }

  private set(): string[] {
    this.expectSym('{');
    const values: string[] = [];
    if (this.isSym('}')) {
      this.next();
      return values;
    }
    for (;;) {
      values.push(this.expectStr());
      if (this.isSym('}')) {
        this.next();
        return values;
      }
      this.expectSym(',');
      // A trailing comma before '}' is accepted, as in libcalico-go's parser.
      if (this.isSym('}')) {
        this.next();
        return values;
      }
    }
  }
}

function describe(t: Tok): string {
  if (t.t === 'end') return 'at end of selector';
  const shown = t.t === 'str' ? JSON.stringify(t.v) : `'${t.v}'`;
  return `at column ${t.pos + 1} (found ${shown})`;
}

/** Parses a Calico selector; never throws. */
export function parseCalicoSelector(s: string): Parsed<CalicoSelector> {
  if (typeof s !== 'string') return { ok: false, error: 'selector must be a string' };
  try {
    return { ok: true, value: new Parser(tokenize(s)).parseAll() };
  } catch (e) {
    if (e instanceof SelectorError)
      return { ok: false, error: `selector ${JSON.stringify(s)}: ${e.message}` };
    throw e;
  }
}

/**
 * Does the selector match this label set? `global()` stands for "not in a namespace" (host
 * endpoints, global network sets): Calico only allows it in a rule's namespaceSelector, where it
 * matches no pod, so callers evaluating a namespace selector pass `{ global: false }`.
 */
export function matchesCalico(
  sel: CalicoSelector,
  labels: Readonly<Record<string, string>>,
  opts: { readonly global?: boolean } = {},
): boolean {
  const has = (k: string): boolean => Object.prototype.hasOwnProperty.call(labels, k);
  switch (sel.op) {
    case 'all':
      return true;
    case 'global':
      return opts.global ?? true;
    case 'has':
      return has(sel.key);
    case 'eq':
      return has(sel.key) && labels[sel.key] === sel.value;
    case 'ne':
      return !(has(sel.key) && labels[sel.key] === sel.value);
    case 'contains':
      return has(sel.key) && labels[sel.key]!.includes(sel.value);
    case 'startsWith':
      return has(sel.key) && labels[sel.key]!.startsWith(sel.value);
    case 'endsWith':
      return has(sel.key) && labels[sel.key]!.endsWith(sel.value);
    case 'in':
      return has(sel.key) && sel.values.includes(labels[sel.key]!);
    case 'notIn':
      return !(has(sel.key) && sel.values.includes(labels[sel.key]!));
    case 'not':
      return !matchesCalico(sel.expr, labels, opts);
    case 'and':
      return sel.exprs.every((e) => matchesCalico(e, labels, opts));
    case 'or':
      return sel.exprs.some((e) => matchesCalico(e, labels, opts));
  }
}

/** Does `global()` occur anywhere in the selector? */
export function usesGlobal(sel: CalicoSelector): boolean {
  switch (sel.op) {
    case 'global':
      return true;
    case 'not':
      return usesGlobal(sel.expr);
    case 'and':
    case 'or':
      return sel.exprs.some(usesGlobal);
    default:
      return false;
  }
}

/** Canonical text of a selector; parsing it gives back an equal AST. */
export function formatCalicoSelector(sel: CalicoSelector): string {
  const q = (v: string): string => (v.includes('"') ? `'${v}'` : `"${v}"`);
  const sub = (e: CalicoSelector): string =>
    e.op === 'and' || e.op === 'or' ? `(${formatCalicoSelector(e)})` : formatCalicoSelector(e);
  switch (sel.op) {
    case 'all':
    case 'global':
      return `${sel.op}()`;
    case 'has':
      return `has(${sel.key})`;
    case 'eq':
      return `${sel.key} == ${q(sel.value)}`;
    case 'ne':
      return `${sel.key} != ${q(sel.value)}`;
    case 'contains':
      return `${sel.key} contains ${q(sel.value)}`;
    case 'startsWith':
      return `${sel.key} starts with ${q(sel.value)}`;
    case 'endsWith':
      return `${sel.key} ends with ${q(sel.value)}`;
    case 'in':
    case 'notIn':
      return `${sel.key} ${sel.op === 'in' ? 'in' : 'not in'} {${sel.values.map(q).join(', ')}}`;
    case 'not':
      return `!${sub(sel.expr)}`;
    case 'and':
      return sel.exprs.map(sub).join(' && ');
    case 'or':
      return sel.exprs.map(sub).join(' || ');
  }
}

/** True when `k` can be written as a bare label key in a Calico selector. */
export function isCalicoKey(k: string): boolean {
  return KEY.test(k);
}
