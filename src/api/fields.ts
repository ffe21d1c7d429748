// Small typed readers for untyped manifest fields; each records an error at the field's path and
// returns undefined when the field has the wrong shape.
import { isObject } from './documents.js';
import type { FieldPath, IssueSink } from './issues.js';

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${JSON.stringify(v)}`;
}

export class Fields {
  constructor(readonly sink: IssueSink) {}

  object(path: FieldPath, v: unknown, required = false): Record<string, unknown> | undefined {
    if (v === undefined || v === null) {
      if (required) this.sink.error(path, 'is required');
      return undefined;
    }
    if (!isObject(v)) {
      this.sink.error(path, `must be an object, not ${typeName(v)}`);
      return undefined;
    }
    return v;
  }

  string(path: FieldPath, v: unknown, required = false): string | undefined {
    if (v === undefined || v === null) {
      if (required) this.sink.error(path, 'is required');
      return undefined;
    }
    if (typeof v !== 'string') {
      this.sink.error(path, `must be a string, not ${typeName(v)}`);
      return undefined;
    }
    if (required && v === '') {
      this.sink.error(path, 'must not be empty');
      return undefined;
    }
    return v;
  }

  integer(
    path: FieldPath,
    v: unknown,
    opts: { required?: boolean; min?: number; max?: number } = {},
  ): number | undefined {
    if (v === undefined || v === null) {
      if (opts.required) this.sink.error(path, 'is required');
      return undefined;
    }
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      this.sink.error(path, `must be an integer, not ${typeName(v)}`);
      return undefined;
    }
    if ((opts.min !== undefined && v < opts.min) || (opts.max !== undefined && v > opts.max)) {
      this.sink.error(path, `${v} is out of range ${opts.min ?? '-inf'}..${opts.max ?? 'inf'}`);
      return undefined;
    }
    return v;
  }

  boolean(path: FieldPath, v: unknown): boolean | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') {
      this.sink.error(path, `must be true or false, not ${typeName(v)}`);
      return undefined;
    }
    return v;
  }

  list(path: FieldPath, v: unknown, required = false): unknown[] | undefined {
    if (v === undefined || v === null) {
      if (required) this.sink.error(path, 'is required');
      return undefined;
    }
    if (!Array.isArray(v)) {
      this.sink.error(path, `must be a list, not ${typeName(v)}`);
      return undefined;
    }
    return v;
  }

  /** A map of string values (labels, annotations, selectors). */
  stringMap(path: FieldPath, v: unknown): Record<string, string> {
    const o = this.object(path, v);
    const out: Record<string, string> = {};
    if (!o) return out;
    for (const [k, val] of Object.entries(o)) {
      if (typeof val !== 'string')
        this.sink.error([...path, k], `must be a string, not ${typeName(val)} (quote it)`);
      else out[k] = val;
    }
    return out;
  }

  /** Unknown fields are errors: they are usually typos or mis-indentation, which would silently do nothing. */
  onlyFields(path: FieldPath, o: Record<string, unknown>, allowed: readonly string[]): void {
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k))
        this.sink.error([...path, k], `unknown field (expected one of: ${allowed.join(', ')})`);
    }
  }
}
