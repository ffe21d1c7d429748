// Runs every compiled *.test.js under dist/src with node's built-in runner.
// Privileged tests (network namespaces) say themselves when they skip for lack of root.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function find(dir, out = []) {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) find(p, out);
    else if (p.endsWith('.test.js')) out.push(p);
  }
  return out;
}
const only = process.argv.slice(2);
let files = find('dist/src').sort();
if (only.length) files = files.filter((f) => only.some((o) => f.includes(o)));
// Serial by file: kernel tests create namespaces and must not race on the 2 cores.
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
