// The real Multus in the kube lab: where its thin plugin is (scripts/multus-bin.sh builds it into
// /var/cache/multinet/multus-<MULTUS_VERSION>/multus, the version pinned in
// deploy/multus-bin/versions.env; MULTINET_MULTUS_BIN=<file> names another, `none` forces the
// emulation), and what it reads on a node: its thin-plugin netconf (kubeconfig, clusterNetwork,
// cniDir/binDir in the lab folder) and the cluster network's conflist (our plugin for eth0).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../store/kube-bins.js';
import type { ChainConfig } from './cni-runtime.js';
import { nodeKubeconfig, type LabConfig, type LabNode, type MultusChoice } from './layout.js';

export type { MultusChoice };
import { defaultChain } from './pods.js';
import { MULTUS_NETWORK_NAME } from './multus-messages.js';

const CACHE = process.env.MULTINET_BIN_CACHE ?? '/var/cache/multinet';

/** The pinned version (deploy/multus-bin/versions.env), without the leading v. */
export function pinnedMultusVersion(): string | undefined {
  const env = join(repoRoot(), 'deploy', 'multus-bin', 'versions.env');
  if (!existsSync(env)) return undefined;
  return /^MULTUS_VERSION=(\S+)$/m.exec(readFileSync(env, 'utf8'))?.[1];
}

/** The binary a new kube lab should run, and what it says it is (`multus -version`). */
export function findMultus(env: NodeJS.ProcessEnv = process.env): MultusChoice {
  const named = env.MULTINET_MULTUS_BIN;
  if (named === 'none') return { kind: 'emulated', why: 'MULTINET_MULTUS_BIN=none' };
  const v = pinnedMultusVersion();
  const binary = named ?? (v ? join(CACHE, `multus-${v}`, 'multus') : undefined);
  if (!binary || !existsSync(binary))
    return {
      kind: 'emulated',
      why: `no Multus binary (${binary ?? `${CACHE}/multus-*/multus`}): build it with scripts/multus-bin.sh`,
    };
  try {
    // "multus: version:v4.2.4(clean released), commit:..., date:..."
    const out = execFileSync(binary, ['-version'], { encoding: 'utf8', timeout: 10_000 });
    const version = /version:(\S+?)\(/.exec(out)?.[1] ?? out.trim();
    return { kind: 'thin', binary, version };
  } catch (e) {
    return { kind: 'emulated', why: `${binary} -version failed: ${(e as Error).message}` };
  }
}

/** One line for `lab up` and `lab status`. */
export function describeMultus(m: MultusChoice | undefined): string {
  if (!m) return 'Multus: emulated by the kubelet role (lab made before the real Multus was supported)';
  return m.kind === 'thin'
    ? `Multus: the real thin plugin ${m.version} (${m.binary}), called by each node's kubelet role`
    : `Multus: emulated by each node's kubelet role (${m.why})`;
}

/** A node's Multus folder: its netconf, the cluster network's conflist, its cache (cniDir), its log. */
export function multusDir(lab: Pick<LabConfig, 'dir'>, node: Pick<LabNode, 'name'>): string {
  return join(lab.dir, 'multus', node.name);
}

/**
 * The cluster network's conflist: our plugin on the lab's default Network, as the emulation runs
 * it for eth0. eth0 carries the pod's default route, as a cluster CNI's eth0 does: the
 * emulation's MULTINET_DEFAULT_ROUTE CNI arg cannot be used, since Multus hands the CNI_ARGS it
 * gets to every delegate; a runtimeConfig in the file reaches only this plugin (libcni injects
 * none over it: the plugin has no capabilities).
 */
export function clusterNetworkConf(lab: LabConfig): Record<string, unknown> {
  const c = defaultChain(lab);
  return {
    cniVersion: c.cniVersion,
    name: c.name,
    // The plugins are all here: libcni would otherwise look for more in <dir>/<name>/.
    loadOnlyInlinedPlugins: true,
    plugins: c.plugins.map((p) => ({ ...p, runtimeConfig: { 'default-route': true } })),
  };
}

/** Multus' thin-plugin netconf for a node (kubelet runs it as the pod's only CNI network). */
export function multusNetconf(lab: LabConfig, node: LabNode, cniBin: string): Record<string, unknown> {
  const dir = multusDir(lab, node);
  return {
    cniVersion: '1.0.0',
    name: MULTUS_NETWORK_NAME,
    type: 'multus',
    kubeconfig: nodeKubeconfig(lab.kube!, node.name, 'multus'),
    // A folder, not the .conflist file: given a file, Multus 4.2 re-encodes the conflist through
    // libcni's typed PluginConf, which drops every plugin-specific field (our dataplane_options),
    // and its DEL then fails; from a folder it keeps the file's bytes.
    clusterNetwork: join(dir, 'net.d'),
    confDir: join(dir, 'net.d'),
    cniDir: join(dir, 'cache'),
    binDir: cniBin,
    logFile: join(dir, 'multus.log'),
    logLevel: 'verbose',
    logToStderr: false,
  };
}

/**
 * Writes a node's files (the conflist Multus reads, and its netconf for whoever looks) and returns
 * the chain kubelet runs: Multus alone.
 */
export function prepareMultusNode(lab: LabConfig, node: LabNode, cniBin: string): ChainConfig {
  const dir = multusDir(lab, node);
  mkdirSync(join(dir, 'net.d'), { recursive: true });
  mkdirSync(join(dir, 'cache'), { recursive: true });
  const conf = multusNetconf(lab, node, cniBin);
  writeFileSync(
    join(dir, 'net.d', 'multinet-default.conflist'),
    JSON.stringify(clusterNetworkConf(lab), null, 2),
  );
  writeFileSync(join(dir, '00-multus.conf'), JSON.stringify(conf, null, 2));
  const { cniVersion, name, ...plugin } = conf;
  return { cniVersion: String(cniVersion), name: String(name), plugins: [plugin] };
}

/** `multus` in the lab's CNI bin folder (kubelet finds its CNI plugins there), a link to the cache. */
export function linkMultus(cniBin: string, binary: string): void {
  rmSync(join(cniBin, 'multus'), { force: true });
  symlinkSync(binary, join(cniBin, 'multus'));
}
