// Problems found in manifests. Every issue names where (file, line), what (kind/name), which field
// (path) and why (reason), so that `multinet validate` can print `file:line kind/name field.path: reason`.

/** One step of a field path: an object key or an array index. */
export type PathSegment = string | number;
export type FieldPath = readonly PathSegment[];

/** An error refuses the input; a warning says it will not do what it asks; a note informs. */
export type Severity = 'error' | 'warning' | 'note';

export interface Issue {
  readonly severity: Severity;
  readonly file: string;
  readonly line: number;
  /** `Kind/name` or `Kind/namespace/name`; `document#N` when the kind or name is unknown. */
  readonly object: string;
  /** Dotted field path, e.g. `spec.ingress[0].destination.ports[1]`; '' for the whole object. */
  readonly path: string;
  readonly reason: string;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** `['spec', 'ingress', 0, 'a/b']` -> `spec.ingress[0]["a/b"]`. */
export function formatPath(path: FieldPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (IDENT.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

export function formatIssue(i: Issue): string {
  const where = `${i.file}:${i.line} ${i.object}${i.path ? ` ${i.path}` : ''}: ${i.reason}`;
  return i.severity === 'error' ? where : `${i.severity}: ${where}`;
}

/**
 * Collects issues for one document. `lineOf` maps a field path to the line of that field in the
 * source (or the nearest enclosing field), so errors point at the offending line.
 */
export class IssueSink {
  readonly issues: Issue[] = [];
  constructor(
    readonly file: string,
    private readonly lineOf: (path: FieldPath) => number,
    public object: string,
  ) {}

  error(path: FieldPath, reason: string): void {
    this.push('error', path, reason);
  }
  warning(path: FieldPath, reason: string): void {
    this.push('warning', path, reason);
  }
  note(path: FieldPath, reason: string): void {
    this.push('note', path, reason);
  }
  get errorCount(): number {
    return this.issues.filter((i) => i.severity === 'error').length;
  }
  private push(severity: Severity, path: FieldPath, reason: string): void {
    this.issues.push({
      severity,
      file: this.file,
      line: this.lineOf(path),
      object: this.object,
      path: formatPath(path),
      reason,
    });
  }
}
