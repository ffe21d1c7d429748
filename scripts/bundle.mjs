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
