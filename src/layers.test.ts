// The layering DESIGN.md states, checked on the source tree so that it stays true: which folder may
// import which (production code; tests may reach across), calc stays pure (no processes, files or sockets), test support is imported only
// by tests and benchmarks, and production code has no import cycle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// Compiled to dist/src; the rules are about the TypeScript sources.
const SRC = fileURLToPath(new URL('.', import.meta.url)).replace('/dist/src/', '/src/');

/** Folders under src, each with the folders it may import (besides itself). */
const ALLOWED: Record<string, readonly string[]> = {
  util: [],
  api: [],
  store: ['util', 'api'],
  dataplane: ['util'],
  calc: ['util', 'api', 'dataplane'],
  ipam: ['util', 'api', 'store'],
  cni: ['util', 'api'],
  memif: ['util'],
  agent: ['util', 'api', 'store', 'dataplane', 'calc', 'ipam', 'cni'],
  lab: ['util', 'api', 'store', 'dataplane', 'calc', 'ipam', 'cni', 'memif', 'agent'],
  cli: ['util', 'api', 'store', 'dataplane', 'calc', 'ipam', 'cni', 'agent', 'lab'],
  testing: ['util', 'api', 'store', 'dataplane', 'calc', 'ipam', 'cni', 'agent'],
};
/** calc sees the dataplane's contract, never its implementation. */
const CALC_DATAPLANE = new Set(['dataplane/types.ts', 'dataplane/naming.ts', 'dataplane/nft-types.ts']);
/** Node modules that do I/O or spawn: not in calc. */
const IMPURE = /^node:(child_process|fs|fs\/promises|net|dgram|http|https|worker_threads|cluster)$/;

interface Source {
  readonly file: string; // relative to src, e.g. 'agent/attach.ts'
  readonly folder: string;
  readonly test: boolean;
  readonly imports: readonly string[]; // relative to src, .ts
  readonly modules: readonly string[]; // bare specifiers (node:..., packages)
}

function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const SPEC = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g;

function sources(): Source[] {
  return walk(SRC).map((abs) => {
    const file = relative(SRC, abs);
    const text = readFileSync(abs, 'utf8');
    const imports: string[] = [];
    const modules: string[] = [];
    for (const m of text.matchAll(SPEC)) {
      const spec = m[1] ?? m[2]!;
      if (spec.startsWith('.'))
        imports.push(relative(SRC, resolve(dirname(abs), spec)).replace(/\.js$/, '.ts'));
      else modules.push(spec);
    }
    return {
      file,
      folder: file.includes('/') ? file.split('/')[0]! : '',
      test: file.endsWith('.test.ts'),
      imports,
      modules,
    };
  });
}

const folderOf = (f: string): string => (f.includes('/') ? f.split('/')[0]! : '');

test('every folder imports only the layers below it', () => {
  const bad: string[] = [];
  for (const s of sources()) {
    const allowed = ALLOWED[s.folder];
    // top-level files (this test); tests may reach across layers to drive the real thing
    if (allowed === undefined || s.test) continue;
    for (const i of s.imports) {
      const to = folderOf(i);
      if (to === s.folder) continue;
      if (to === 'testing') {
        bad.push(`${s.file} -> ${i}: test support is for tests and benchmarks only`);
        continue;
      }
      if (!allowed.includes(to)) bad.push(`${s.file} -> ${i}: ${s.folder} may not import ${to}`);
      else if (s.folder === 'calc' && to === 'dataplane' && !CALC_DATAPLANE.has(i))
        bad.push(`${s.file} -> ${i}: calc sees only the dataplane's types and naming`);
    }
  }
  assert.deepEqual(bad, []);
});

test('calc is pure: no process, file or socket module', () => {
  const bad = sources()
    .filter((s) => s.folder === 'calc' && !s.test)
    .flatMap((s) => s.modules.filter((m) => IMPURE.test(m)).map((m) => `${s.file} imports ${m}`));
  assert.deepEqual(bad, []);
});

test('production code has no import cycle', () => {
  const prod = new Map(
    sources()
      .filter((s) => !s.test)
      .map((s) => [s.file, s]),
  );
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const visit = (f: string, path: string[]): void => {
    if (state.get(f) === 'done') return;
    if (state.get(f) === 'open') {
      cycles.push([...path.slice(path.indexOf(f)), f].join(' -> '));
      return;
    }
    state.set(f, 'open');
    for (const i of prod.get(f)?.imports ?? []) if (prod.has(i)) visit(i, [...path, f]);
    state.set(f, 'done');
  };
  for (const f of [...prod.keys()].sort()) visit(f, []);
  assert.deepEqual(cycles, []);
});
