// Multi-document YAML (or JSON) text -> plain documents that remember where each field came from.
// Pure: the caller reads the files (see load.ts). Follows `kubectl apply -f`: `---` separates
// documents, empty documents are skipped, a `kind: List` is expanded into its items.
import { isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, type Node } from 'yaml';
import { formatPath, type FieldPath, type Issue } from './issues.js';

export interface RawDocument {
  readonly file: string;
  /** 1-based line where the object starts. */
  readonly line: number;
  /** Position of the document in its file (0-based, after List expansion). */
  readonly index: number;
  readonly value: unknown;
  /** Line of each field, keyed by formatPath(path). */
  readonly lines: ReadonlyMap<string, number>;
}

export interface ParsedDocuments {
  readonly documents: RawDocument[];
  /** Syntax errors (a document with a syntax error is not returned). */
  readonly issues: Issue[];
}

/** The line of `path` in `doc`, or of its nearest ancestor that has one. */
export function lineOf(doc: RawDocument, path: FieldPath): number {
  for (let n = path.length; n > 0; n--) {
    const l = doc.lines.get(formatPath(path.slice(0, n)));
    if (l !== undefined) return l;
  }
  return doc.line;
}

export function parseDocuments(text: string, file: string): ParsedDocuments {
  const lc = new LineCounter();
  const documents: RawDocument[] = [];
  const issues: Issue[] = [];
  const lineAt = (offset: number): number => lc.linePos(offset).line;
  let docs;
  try {
    docs = parseAllDocuments(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  } catch (e) {
    issues.push(syntaxIssue(file, 1, 0, e instanceof Error ? e.message : String(e)));
    return { documents, issues };
  }
  if (!Array.isArray(docs)) return { documents, issues }; // empty stream
  let index = 0;
  docs.forEach((d, docNo) => {
    const contents = d.contents as Node | null;
    const startLine = contents?.range ? lineAt(contents.range[0]) : 1;
    if (d.errors.length > 0) {
      for (const err of d.errors) {
        const line = err.pos ? lineAt(err.pos[0]) : startLine;
        issues.push(syntaxIssue(file, line, docNo, firstLine(err.message)));
      }
      index++;
      return;
    }
    if (contents === null || (isScalar(contents) && contents.value === null)) return; // empty doc
    let value: unknown;
    try {
      value = d.toJS({ maxAliasCount: 100 });
    } catch (e) {
      issues.push(syntaxIssue(file, startLine, docNo, e instanceof Error ? e.message : String(e)));
      index++;
      return;
    }
    const lines = new Map<string, number>();
    collectLines(contents, [], lines, lineAt);
    if (isObject(value) && value.kind === 'List' && Array.isArray(value.items)) {
      value.items.forEach((item, i) => {
        const prefix = formatPath(['items', i]);
        const sub = new Map<string, number>();
        for (const [k, l] of lines) {
          if (k.startsWith(prefix + '.') || k.startsWith(prefix + '[')) {
            sub.set(k.slice(prefix.length).replace(/^\./, ''), l);
          }
        }
        documents.push({
          file,
          line: lines.get(prefix) ?? startLine,
          index: index++,
          value: item,
          lines: sub,
        });
      });
      return;
    }
    documents.push({ file, line: startLine, index: index++, value, lines });
  });
  return { documents, issues };
}

function collectLines(
  node: unknown,
  path: FieldPath,
  out: Map<string, number>,
  lineAt: (o: number) => number,
): void {
  if (isMap(node)) {
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const key = isScalar(pair.key) ? pair.key.value : undefined;
      if (typeof key !== 'string' && typeof key !== 'number') continue;
      const p = [...path, String(key)];
      const keyNode = pair.key as Node;
      if (keyNode.range) out.set(formatPath(p), lineAt(keyNode.range[0]));
      collectLines(pair.value, p, out, lineAt);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => {
      const p = [...path, i];
      const n = item as Node;
      if (n?.range) out.set(formatPath(p), lineAt(n.range[0]));
      collectLines(item, p, out, lineAt);
    });
  }
}

function syntaxIssue(file: string, line: number, docNo: number, reason: string): Issue {
  return { severity: 'error', file, line, object: `document#${docNo}`, path: '', reason: `YAML: ${reason}` };
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
