// Bundles the CNI plugin into one file so that each CNI exec starts fast (no TS, few module loads).
import { build } from 'esbuild';
import { existsSync } from 'node:fs';

if (existsSync('src/cni/main.ts')) {
  await build({
    entryPoints: ['src/cni/main.ts'],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    outfile: 'dist/multinet-cni.mjs',
    banner: { js: '#!/usr/bin/env node' },
    logLevel: 'warning',
  });
}

// The native shim the runtime executes (forwards to the agent, which runs the plugin code above).
// Optional: without a C compiler the bundled Node plugin is used instead.
import { spawnSync } from 'node:child_process';
if (existsSync('src/cni/shim/multinet-cni.c')) {
  const cc = spawnSync('cc', ['-O2', '-Wall', '-Wextra', '-o', 'dist/multinet-cni', 'src/cni/shim/multinet-cni.c'], { stdio: 'inherit' });
  if (cc.error || cc.status !== 0) process.stderr.write('note: no C compiler; the CNI plugin is the Node bundle only\n');
}
