// The device-info of a memif attachment (k8snetworkplumbingwg device-info-spec 1.1.0), written where
// the runtime asks with the `CNIDeviceInfoFile` capability: Multus hands that path to the plugin and
// copies the file into the pod's network-status as "device-info", so the pod's application learns
// how to reach its memif (socket, role, mode). The write is a side effect behind an interface.
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { CniRequest } from '../cni/protocol.js';

export const DEVICE_INFO_VERSION = '1.1.0';

export interface MemifDeviceInfo {
  readonly type: 'memif';
  readonly version: string;
  readonly memif: { readonly role: 'slave'; readonly path: string; readonly mode: 'ethernet' | 'ip' };
}

/**
 * What the pod's application must do: connect as memif client (the spec's "slave"; the node's
 * forwarder is the master) to the abstract socket `@<ifName>` of its own network namespace.
 * Pure.
 */
export function memifDeviceInfo(ifName: string, mode: 'ethernet' | 'ip'): MemifDeviceInfo {
  return { type: 'memif', version: DEVICE_INFO_VERSION, memif: { role: 'slave', path: `@${ifName}`, mode } };
}

/** The path the request carries (runtimeConfig.CNIDeviceInfoFile), checked; an Error names why not. Pure. */
export function deviceInfoPath(req: Pick<CniRequest, 'netConf'>): string | undefined | Error {
  const p = req.netConf.runtimeConfig?.CNIDeviceInfoFile;
  if (p === undefined) return undefined;
  if (typeof p !== 'string' || !p.startsWith('/') || p.includes('\0') || p.split('/').includes('..'))
    return new Error(
      `runtimeConfig.CNIDeviceInfoFile ${JSON.stringify(p)}: must be an absolute path without ".." components`,
    );
  return p;
}

export interface DeviceInfoFiles {
  write(path: string, info: MemifDeviceInfo): Promise<void>;
  remove(path: string): Promise<void>;
}

/** The real files: written whole (temporary file, then rename), as Multus reads them any time. */
export class FsDeviceInfoFiles implements DeviceInfoFiles {
  async write(path: string, info: MemifDeviceInfo): Promise<void> {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const tmp = `${path}.tmp-${process.pid}`;
    await writeFile(tmp, JSON.stringify(info), { mode: 0o600 });
    await rename(tmp, path);
  }
  async remove(path: string): Promise<void> {
    await rm(path, { force: true });
  }
}

export class FakeDeviceInfoFiles implements DeviceInfoFiles {
  readonly files = new Map<string, MemifDeviceInfo>();
  failWrites = false;
  async write(path: string, info: MemifDeviceInfo): Promise<void> {
    if (this.failWrites) throw new Error(`EACCES: permission denied, open '${path}'`);
    this.files.set(path, info);
  }
  async remove(path: string): Promise<void> {
    this.files.delete(path);
  }
}
