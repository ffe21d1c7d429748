// Installs the CNI plugin into a CNI bin folder (`multinet install-cni`, a DaemonSet's init
// container writing the host's /opt/cni/bin). Each name is replaced atomically: the runtime may exec
// it at any moment, so it must see the old file or the new one, never a half-written one. Hence a
// temp file in the same folder (same filesystem), fsync, chmod 0755, rename over the name.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fchmodSync,
  fsyncSync,
  lstatSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The native shim built by `npm run build` (dist/multinet-cni; this file is dist/src/cni/install.js). */
export const NATIVE_SHIM = fileURLToPath(new URL('../../multinet-cni', import.meta.url));

/** The plugin types the seed's NADs name (`"type": "multinet"` / `"calico"`). */
export const DEFAULT_PLUGIN_NAMES = ['multinet', 'calico'] as const;

export interface InstalledPlugin {
  readonly path: string;
  readonly status: 'installed' | 'unchanged';
}

export class InstallError extends Error {}

/** A plain file name: letters, digits, `.`, `_`, `-`; not starting with `.` (no path, no hidden file). */
export function checkPluginName(name: string): string | undefined {
  if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}$/.test(name))
    return `plugin name ${JSON.stringify(name)} is not a plain file name (letters, digits, ".", "_", "-"; no "/")`;
  return undefined;
}

/**
 * Installs `source` as DIR/<name> for each name; an identical file (same bytes, mode 0755) is left
 * alone. Nothing partial is left behind: a failure removes its temp file and names the path.
 */
export function installPlugin(source: string, destDir: string, names: readonly string[]): InstalledPlugin[] {
  if (names.length === 0) throw new InstallError('no plugin names given');
  const bad = names.map(checkPluginName).filter((e) => e !== undefined);
  if (bad.length) throw new InstallError(bad.join('; '));
  if (!existsSync(source))
    throw new InstallError(
      `the native CNI plugin ${source} was not built (npm run build needs a C compiler, cc); ` +
        'install-cni installs only the native shim, not the Node fallback',
    );
  const bytes = readFileSync(source);
  let st;
  try {
    st = lstatSync(destDir);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new InstallError(
      `CNI bin folder ${destDir} ${err.code === 'ENOENT' ? 'does not exist' : `cannot be read: ${err.message}`}`,
    );
  }
  if (!st.isDirectory()) throw new InstallError(`CNI bin folder ${destDir} is not a directory`);
  const out: InstalledPlugin[] = [];
  for (const name of new Set(names)) {
    const path = join(destDir, name);
    if (isSame(path, bytes)) out.push({ path, status: 'unchanged' });
    else {
      replaceAtomically(path, destDir, name, bytes);
      out.push({ path, status: 'installed' });
    }
  }
  syncDir(destDir);
  return out;
}

/** A regular file (not a link) with these bytes and mode 0755. */
function isSame(path: string, bytes: Buffer): boolean {
  try {
    const st = lstatSync(path);
    return (
      st.isFile() &&
      (st.mode & 0o777) === 0o755 &&
      st.size === bytes.length &&
      readFileSync(path).equals(bytes)
    );
  } catch {
    return false;
  }
}

function replaceAtomically(path: string, dir: string, name: string, bytes: Buffer): void {
  // Hidden and unique: a concurrent install (a restarted init container) never shares it.
  const tmp = join(dir, `.${name}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', 0o700);
    for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off);
    fsyncSync(fd);
    fchmodSync(fd, 0o755);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    throw new InstallError(`cannot install ${path}: ${(e as Error).message}`);
  }
}

/** Makes the renames durable (a node losing power right after must not come back without them). */
function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // some filesystems refuse fsync on a directory; the rename itself is done
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
