import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lineOf, parseDocuments } from './documents.js';

test('multi-document YAML keeps the line of each document and field', () => {
  const text =
    '# c\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n---\n---\n\nkind: Pod\nspec:\n  containers:\n    - name: x\n';
  const r = parseDocuments(text, 'f.yaml');
  assert.equal(r.issues.length, 0);
  assert.deepEqual(
    r.documents.map((d) => [d.line, d.index]),
    [
      [3, 0],
      [10, 1],
    ],
  );
  assert.equal(lineOf(r.documents[0]!, ['metadata', 'name']), 6);
  assert.equal(lineOf(r.documents[1]!, ['spec', 'containers', 0, 'name']), 13);
  assert.equal(lineOf(r.documents[1]!, ['spec', 'containers', 0, 'nothing']), 13, 'nearest ancestor');
});

test('JSON and kind: List are read like kubectl does', () => {
  const r = parseDocuments(
    JSON.stringify(
      { apiVersion: 'v1', kind: 'List', items: [{ kind: 'Pod' }, { kind: 'Service' }] },
      null,
      2,
    ),
    'l.json',
  );
  assert.deepEqual(
    r.documents.map((d) => (d.value as { kind: string }).kind),
    ['Pod', 'Service'],
  );
  assert.ok(r.documents[1]!.line > r.documents[0]!.line);
});

test('syntax errors carry a line and do not stop other documents', () => {
  const r = parseDocuments('kind: Pod\n---\na: [b\n---\nkind: Service\n', 'e.yaml');
  assert.equal(r.issues.length > 0, true);
  assert.equal(r.issues[0]!.file, 'e.yaml');
  assert.match(r.issues[0]!.reason, /^YAML: /);
  assert.deepEqual(
    r.documents.map((d) => (d.value as { kind: string }).kind),
    ['Pod', 'Service'],
  );
});

test('empty input gives nothing', () => {
  assert.deepEqual(parseDocuments('', 'x').documents, []);
  assert.deepEqual(parseDocuments('---\n# only a comment\n', 'x').documents, []);
});
