// What Multus (through libcni) does for one attachment: run each plugin of the NAD's conflist in
// order with the spec's environment and stdin, pass each result on as prevResult, and undo on
// failure. The lab uses the real plugin binaries: ours (bundled) and the reference ones.
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Runner } from '../util/exec.js';
import { whereaboutsBinary } from '../store/whereabouts-bin.js';

const REFERENCE_PLUGINS = '/usr/lib/cni';
const OUR_BUNDLE = fileURLToPath(new URL('../../multinet-cni.mjs', import.meta.url));
const OUR_SHIM = fileURLToPath(new URL('../../multinet-cni', import.meta.url));
/** Plugin types served by our binary. */
const OUR_TYPES = ['multinet', 'calico', 'whereabouts', 'multinet-ipam'];

/**
 * A CNI_PATH folder: our plugin under its type names, plus links to the reference plugins and to
 * the real Whereabouts when it is built (run only for a NAD with "delegateIpam": true).
 */
export function prepareCniBin(dir: string): string {
  const bin = join(dir, 'cni-bin');
  mkdirSync(bin, { recursive: true });
  if (!existsSync(OUR_BUNDLE))
    throw new Error(`the CNI plugin bundle ${OUR_BUNDLE} is missing: run npm run build`);
  // The native shim when it was built (an exec costs ~1 ms), else the Node bundle behind a wrapper.
  const wrapper = `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(OUR_BUNDLE)} "$@"\n`;
  for (const t of OUR_TYPES.slice(0, 2)) {
    rmSync(join(bin, t), { force: true });
    if (existsSync(OUR_SHIM) && process.env.MULTINET_CNI_NODE !== '1') copyFileSync(OUR_SHIM, join(bin, t));
    else writeFileSync(join(bin, t), wrapper);
    chmodSync(join(bin, t), 0o755);
  }
  if (existsSync(REFERENCE_PLUGINS)) {
    for (const p of readdirSync(REFERENCE_PLUGINS)) {
      const link = join(bin, p);
      if (!existsSync(link)) symlinkSync(join(REFERENCE_PLUGINS, p), link);
    }
  }
  const wb = whereaboutsBinary();
  if (existsSync(wb) && !existsSync(join(bin, 'whereabouts'))) symlinkSync(wb, join(bin, 'whereabouts'));
  return bin;
}

export interface ChainConfig {
  readonly cniVersion: string;
  readonly name: string;
  readonly plugins: readonly Readonly<Record<string, unknown>>[];
}

export interface CniCall {
  readonly containerId: string;
  readonly netns: string;
  readonly ifName: string;
  readonly args: Readonly<Record<string, string>>;
  readonly cniPath: string;
  /** Agent socket for our plugin. */
  readonly socket: string;
  readonly runtimeConfig?: Readonly<Record<string, unknown>>;
}

export class CniCallError extends Error {
  constructor(
    readonly plugin: string,
    readonly code: number,
    readonly msg: string,
    readonly details: string,
  ) {
    super(`${plugin}: ${msg}${details ? ` (${details})` : ''}`);
  }
}

function env(call: CniCall, command: string): Record<string, string> {
  const args = Object.entries(call.args)
    .map(([k, v]) => `${k}=${v}`)
    .join(';');
  return {
    CNI_COMMAND: command,
    CNI_CONTAINERID: call.containerId,
    CNI_NETNS: call.netns,
    CNI_IFNAME: call.ifName,
    CNI_ARGS: args ? `IgnoreUnknown=1;${args}` : 'IgnoreUnknown=1',
    CNI_PATH: call.cniPath,
    MULTINET_CNI_SOCKET: call.socket,
  };
}

function pluginConf(
  chain: ChainConfig,
  plugin: Readonly<Record<string, unknown>>,
  call: CniCall,
  prevResult?: unknown,
): string {
  const caps = (plugin.capabilities ?? {}) as Record<string, unknown>;
  const rc: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(call.runtimeConfig ?? {})) if (caps[k] === true) rc[k] = v;
  const { capabilities: _c, ...rest } = plugin;
  return JSON.stringify({
    cniVersion: chain.cniVersion,
    name: chain.name,
    ...rest,
    ...(Object.keys(rc).length ? { runtimeConfig: rc } : {}),
    ...(prevResult !== undefined ? { prevResult } : {}),
  });
}

async function exec(
  runner: Runner,
  call: CniCall,
  command: string,
  chain: ChainConfig,
  plugin: Readonly<Record<string, unknown>>,
  prev?: unknown,
): Promise<unknown> {
  const type = String(plugin.type);
  if (!/^[A-Za-z0-9_.-]+$/.test(type) || type.startsWith('.'))
    throw new CniCallError(type, 7, 'invalid plugin type', type);
  const bin = join(call.cniPath, type);
  if (!existsSync(bin)) throw new CniCallError(type, 7, `plugin ${type} not found`, `no ${bin}`);
  const r = await runner.run(bin, [], {
    input: pluginConf(chain, plugin, call, prev),
    env: env(call, command),
    timeoutMs: 120_000,
  });
  let out: Record<string, unknown> = {};
  try {
    out = r.stdout.trim() ? (JSON.parse(r.stdout) as Record<string, unknown>) : {};
  } catch {
    throw new CniCallError(
      type,
      6,
      'plugin printed something that is not JSON',
      r.stdout.slice(0, 200) + r.stderr.slice(0, 200),
    );
  }
  if (r.code !== 0 || typeof out.code === 'number') {
    throw new CniCallError(
      type,
      Number(out.code ?? r.code),
      String(out.msg ?? 'plugin failed'),
      String(out.details ?? r.stderr.trim()),
    );
  }
  return command === 'ADD' ? out : prev;
}

/** ADD through the whole chain; on failure, DEL of the chain (as kubelet does) and rethrow. */
export async function chainAdd(
  runner: Runner,
  chain: ChainConfig,
  call: CniCall,
): Promise<Record<string, unknown>> {
  let prev: unknown;
  try {
    for (const p of chain.plugins) prev = await exec(runner, call, 'ADD', chain, p, prev);
    return prev as Record<string, unknown>;
  } catch (e) {
    await chainDel(runner, chain, call, prev).catch(() => undefined);
    throw e;
  }
}

/** DEL in reverse order; every plugin is called even if one fails (first error is rethrown). */
export async function chainDel(
  runner: Runner,
  chain: ChainConfig,
  call: CniCall,
  prevResult?: unknown,
): Promise<void> {
  let first: unknown;
  for (const p of [...chain.plugins].reverse()) {
    try {
      await exec(runner, call, 'DEL', chain, p, prevResult);
    } catch (e) {
      first ??= e;
    }
  }
  if (first) throw first;
}

export async function chainCheck(
  runner: Runner,
  chain: ChainConfig,
  call: CniCall,
  prevResult: unknown,
): Promise<void> {
  for (const p of chain.plugins) await exec(runner, call, 'CHECK', chain, p, prevResult);
}
