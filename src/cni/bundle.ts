// Builds the plugin bundle on demand (tests, benchmark) exactly as scripts/bundle.mjs does, and runs
// a plugin process the way a runtime does. Not part of the plugin itself.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** The repository root (works from src/ under tsx and from dist/src/ when compiled). */
export function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json')) || !existsSync(join(d, 'src/cni/main.ts'))) {
    const up = dirname(d);
    if (up === d) throw new Error('repository root not found');
    d = up;
  }
  return d;
}

/** Bundles src/cni/main.ts as scripts/bundle.mjs does; returns the file and the modules it holds. */
export async function bundlePlugin(outDir: string): Promise<{ file: string; inputs: string[] }> {
  const root = repoRoot();
  const file = join(outDir, 'multinet-cni.mjs');
  const r = await build({
    entryPoints: [join(root, 'src/cni/main.ts')],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    outfile: file,
    banner: { js: '#!/usr/bin/env node' },
    logLevel: 'warning',
    metafile: true,
  });
  return { file, inputs: Object.keys(r.metafile.inputs).map((p) => relative(root, join(process.cwd(), p))) };
}

export function runProcess(
  cmd: string,
  args: string[],
  env: Record<string, string | undefined>,
  stdin: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: env as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(stdin);
  });
}
