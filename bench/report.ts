// Keeps docs/benchmarks.md as one section per benchmark, each replaced by its latest run.
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';

const FILE = 'docs/benchmarks.md';
const HEADER =
  '# Benchmarks\n\nEach section is the latest run of `npm run bench -- NAME` on the project machine (2 cores).\nRatios are taken against a baseline measured in the same run.\n';

export function writeSection(name: string, markdown: string): void {
  mkdirSync('docs', { recursive: true });
  const text = existsSync(FILE) ? readFileSync(FILE, 'utf8') : HEADER;
  const begin = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const block = `${begin}\n## ${name}\n\n_run ${new Date().toISOString()}_\n\n${markdown.trim()}\n${end}`;
  const re = new RegExp(`${begin}[\\s\\S]*?${end}`);
  writeFileSync(FILE, re.test(text) ? text.replace(re, block) : `${text.trimEnd()}\n\n${block}\n`);
}
