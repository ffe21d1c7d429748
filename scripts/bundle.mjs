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

// The node's memif forwarder (C11, no library beyond libc). Optional like the shim: without a C
// compiler there is no memif support on the node (the memif tests say so).
import { readdirSync } from 'node:fs';
if (existsSync('src/memif/native/main.c')) {
  const srcs = readdirSync('src/memif/native')
    .filter((f) => f.endsWith('.c'))
    .sort()
    .map((f) => `src/memif/native/${f}`);
  const flags = ['-O2', '-std=c11', '-D_GNU_SOURCE', '-Wall', '-Wextra'];
  const cc = spawnSync('cc', [...flags, '-o', 'dist/multinet-memifd', ...srcs], { stdio: 'inherit' });
  if (cc.error || cc.status !== 0) process.stderr.write('note: no C compiler; dist/multinet-memifd was not built\n');
}
