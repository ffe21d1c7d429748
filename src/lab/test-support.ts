// Shared by the lab's end-to-end tests: when they can run, and where their inputs are (the tests
// run compiled from dist/, their YAML stays in the source tree).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = process.getuid?.() === 0;
const built = existsSync(fileURLToPath(new URL('../../multinet-cni.mjs', import.meta.url)));

/** A skip reason for node:test (printed by the runner), or false when the lab tests can run. */
export const labSkip: string | false = !root
  ? 'needs root (network namespaces)'
  : !built
    ? 'needs the built tree (npm run build)'
    : false;

/** A path of the source tree, given relative to this folder (src/lab). */
export function sourcePath(relative: string): string {
  return fileURLToPath(new URL(relative, import.meta.url))
    .replace('/dist/src/', '/src/')
    .replace('/dist/examples/', '/examples/');
}

export const SEED_DIR = sourcePath('../../examples/seed');
