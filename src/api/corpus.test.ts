// Runs the corpus of bad manifests in test/fixtures/bad: each file starts with `# expect: <text>`
// and must produce an error whose formatted line contains that text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatIssue, parseDocuments, validateDocuments } from './index.js';
import { repoRoot } from './test-root.js';

const dir = join(repoRoot(import.meta.url), 'test', 'fixtures', 'bad');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

test('the corpus has at least 60 bad manifests', () => {
  assert.ok(files.length >= 60, `only ${files.length} files`);
});

for (const f of files) {
  test(`bad manifest ${f}`, () => {
    const text = readFileSync(join(dir, f), 'utf8');
    const m = /^# expect: (.+)$/m.exec(text.split('\n')[0] ?? '');
    assert.ok(m, 'first line must be "# expect: <text>"');
    const parsed = parseDocuments(text, f);
    const report = validateDocuments(parsed.documents, parsed.issues);
    const errors = report.issues.filter((i) => i.severity === 'error').map(formatIssue);
    assert.ok(errors.length > 0, 'expected at least one error');
    assert.ok(
      errors.some((e) => e.includes(m[1]!)),
      `no error contains ${JSON.stringify(m[1])}; got:\n${errors.join('\n')}`,
    );
    for (const e of errors) assert.match(e, new RegExp(`^${f.replace('.', '\\.')}:[1-9]\\d* \\S+`));
  });
}
