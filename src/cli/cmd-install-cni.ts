// `multinet install-cni`: puts the CNI plugin into the CNI bin folder under each plugin type name
// (a DaemonSet's init container, with the host's /opt/cni/bin mounted). Safe to rerun.
import type { Command } from 'commander';
import { DEFAULT_PLUGIN_NAMES, installPlugin, NATIVE_SHIM } from '../cni/install.js';

export interface InstallCniOptions {
  readonly dest: string;
  readonly names: readonly string[];
  /** The built native shim unless a test gives another file. */
  readonly source?: string;
}

/** One line per name: `installed PATH` or `unchanged PATH`. */
export function runInstallCni(o: InstallCniOptions): string {
  return installPlugin(o.source ?? NATIVE_SHIM, o.dest, o.names)
    .map((r) => `${r.status} ${r.path}\n`)
    .join('');
}

/** `a,b` -> ['a', 'b']; empty parts are kept so that the name check refuses them. */
export function parseNames(v: string): string[] {
  return v.split(',').map((n) => n.trim());
}

export function register(program: Command): void {
  program
    .command('install-cni')
    .description('install the CNI plugin (the native shim) into a CNI bin folder, atomically')
    .requiredOption('--dest <dir>', 'CNI bin folder, e.g. /opt/cni/bin (must exist)')
    .option('--names <a,b>', 'file names to install it as (plugin types)', DEFAULT_PLUGIN_NAMES.join(','))
    .action((o: { dest: string; names: string }) => {
      process.stdout.write(runInstallCni({ dest: o.dest, names: parseNames(o.names) }));
    });
}
