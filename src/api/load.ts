// Reads manifests from files and folders the way `kubectl apply -f` does: a folder is walked
// recursively (sorted, for stable output) for .yaml, .yml and .json files. The only I/O of src/api.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDocuments, type RawDocument } from './documents.js';
import type { Issue } from './issues.js';

const EXTENSIONS = ['.yaml', '.yml', '.json'];

export interface Loaded {
  readonly documents: RawDocument[];
  /** Unreadable paths and YAML syntax errors. */
  readonly issues: Issue[];
  readonly files: string[];
}

export async function loadPaths(paths: readonly string[]): Promise<Loaded> {
  const out: Loaded = { documents: [], issues: [], files: [] };
  for (const p of paths) {
    const pathError = (reason: string): Issue => ({
      severity: 'error',
      file: p,
      line: 0,
      object: 'path',
      path: '',
      reason,
    });
    let files: string[];
    try {
      files = await expand(p, true);
    } catch (e) {
      out.issues.push(pathError((e as Error).message));
      continue;
    }
    if (files.length === 0) out.issues.push(pathError(`no ${EXTENSIONS.join(', ')} files found`));
    for (const file of files) {
      out.files.push(file);
      const parsed = parseDocuments(await readFile(file, 'utf8'), file);
      out.documents.push(...parsed.documents);
      out.issues.push(...parsed.issues);
    }
  }
  return out;
}

async function expand(p: string, explicit: boolean): Promise<string[]> {
  const st = await stat(p);
  if (!st.isDirectory()) return explicit || EXTENSIONS.some((e) => p.endsWith(e)) ? [p] : [];
  const entries = (await readdir(p)).sort();
  const out: string[] = [];
  for (const e of entries) out.push(...(await expand(join(p, e), false)));
  return out;
}
