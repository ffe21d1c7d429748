// Shared by the lab's end-to-end tests: when they can run, and where their inputs are (the tests
// run compiled from dist/, their YAML stays in the source tree).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { kubectlArgs } from './kube-apply.js';
import type { LabConfig } from './layout.js';

const runFile = promisify(execFile);

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

/** Polls `fn` every 250 ms until it gives a value (a throw counts as not yet); fails after `ms`. */
export async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The real kubectl on a kube lab as its admin: stdout, or a throw with kubectl's error. */
export async function labKubectl(lab: { readonly config: LabConfig }, ...args: string[]): Promise<string> {
  const k = kubectlArgs(lab.config, args);
  return (await runFile(k.cmd, k.args, { maxBuffer: 16 << 20 })).stdout;
}
