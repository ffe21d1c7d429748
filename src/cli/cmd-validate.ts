// `multinet validate -f PATH...`: checks manifests (files or folders) one by one and together.
import type { Command } from 'commander';
import { formatIssue, validateDocuments } from '../api/index.js';
import { loadPaths } from '../api/load.js';

export interface ValidateOutput {
  readonly exitCode: number;
  /** What the command prints on stdout. */
  readonly text: string;
}

/** The command's work, callable without a process (tests call this). */
export async function runValidate(
  paths: readonly string[],
  output: 'text' | 'json' = 'text',
): Promise<ValidateOutput> {
  const loaded = await loadPaths(paths);
  const report = validateDocuments(loaded.documents, loaded.issues);
  const exitCode = report.errorCount > 0 ? 1 : 0;
  // An issue belongs to the object of its file and ref that starts last before the issue's line.
  const failed = new Set<number>();
  for (const i of report.issues) {
    if (i.severity !== 'error') continue;
    let best = -1;
    report.objects.forEach((o, n) => {
      if (
        o.file === i.file &&
        o.ref === i.object &&
        o.line <= i.line &&
        (best < 0 || o.line >= report.objects[best]!.line)
      )
        best = n;
    });
    if (best >= 0) failed.add(best);
  }
  if (output === 'json') {
    const json = {
      valid: exitCode === 0,
      objects: report.objects.map((o, n) => ({
        file: o.file,
        line: o.line,
        object: o.ref,
        status: o.skipped ? 'skipped' : o.resource && !failed.has(n) ? 'ok' : 'error',
      })),
      errors: report.issues.filter((i) => i.severity === 'error'),
      warnings: report.issues.filter((i) => i.severity === 'warning'),
      notes: report.issues.filter((i) => i.severity === 'note'),
    };
    return { exitCode, text: JSON.stringify(json, null, 2) + '\n' };
  }
  const lines: string[] = [];
  for (const [n, o] of report.objects.entries()) {
    const status = o.skipped ? 'skip' : o.resource && !failed.has(n) ? 'ok  ' : 'FAIL';
    lines.push(`${status} ${o.file}:${o.line} ${o.ref}`);
  }
  const errors = report.issues.filter((i) => i.severity === 'error');
  const warnings = report.issues.filter((i) => i.severity === 'warning');
  const notes = report.issues.filter((i) => i.severity === 'note');
  if (errors.length) lines.push('', ...errors.map(formatIssue));
  if (warnings.length) lines.push('', ...warnings.map(formatIssue));
  if (notes.length) lines.push('', ...notes.map(formatIssue));
  lines.push(
    '',
    `${report.objects.length} object(s) in ${loaded.files.length} file(s): ${errors.length} error(s), ${warnings.length} warning(s), ${notes.length} note(s)`,
  );
  return { exitCode, text: lines.join('\n') + '\n' };
}

export function register(program: Command): void {
  program
    .command('validate')
    .description('check manifests (Networks, NADs, Pods, Services, policies), alone and across objects')
    .requiredOption(
      '-f, --filename <path>',
      'file or folder (repeatable), read as kubectl apply -f does',
      collect,
    )
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (opts: { filename: string[]; output: string }) => {
      if (opts.output !== 'text' && opts.output !== 'json')
        throw new Error(`--output must be text or json, not "${opts.output}"`);
      const r = await runValidate(opts.filename, opts.output);
      process.stdout.write(r.text);
      process.exitCode = r.exitCode;
    });
}

function collect(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}
