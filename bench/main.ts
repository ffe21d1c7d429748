// `npm run bench -- NAME...`: runs the named benchmarks (bench/NAME.ts, each exporting `run`)
// and records their results in docs/benchmarks.md.
import { writeSection } from './report.js';

interface BenchModule {
  run(args: readonly string[]): Promise<string>;
}

const known = ['ipam', 'ipam-peer', 'dataplane', 'cni', 'services', 'policies', 'memif'];
const names = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const selected = names.length ? names : known;
for (const name of selected) {
  if (!known.includes(name)) {
    process.stderr.write(`unknown benchmark ${JSON.stringify(name)}; known: ${known.join(', ')}\n`);
    process.exit(2);
  }
  const mod = (await import(`./${name}.js`)) as BenchModule;
  process.stdout.write(`== bench ${name}\n`);
  const markdown = await mod.run(process.argv.slice(2));
  process.stdout.write(markdown + '\n');
  writeSection(name, markdown);
}
