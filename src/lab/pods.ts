// The lab's kubelet + Multus: a pod gets a netns, `eth0` on the default network, then each
// attachment of its annotation in order through the real CNI chain of its NAD; the result is
// recorded as the pod's network-status. Deletion runs DEL in reverse order, then removes the netns.
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Runner } from '../util/exec.js';
import type { Attachment, NetAttachDef, Pod } from '../api/index.js';
import { chainAdd, chainDel, CniCallError, type ChainConfig, type CniCall } from './cni-runtime.js';
import { containerIdFor, podNetns, type LabConfig, type LabNode } from './layout.js';
import {
  delegateAddFailed,
  nadConfigNotJson,
  nadNotFound,
  pluginAddFailed,
  sandboxAddFailed,
} from './multus-messages.js';

export const NETWORK_STATUS_ANNOTATION = 'k8s.v1.cni.cncf.io/network-status';
export const DEFAULT_NETCONF_NAME = 'multinet-default';

/**
 * One entry of Multus' `k8s.v1.cni.cncf.io/network-status` annotation, with its fields in the
 * order and with the omissions of Multus' Go type (network-attachment-definition-client's
 * NetworkStatus: `omitempty` on all but name and dns).
 */
export interface NetworkStatusEntry {
  readonly name: string;
  readonly interface?: string;
  readonly ips?: readonly string[];
  readonly mac?: string;
  readonly mtu?: number;
  readonly default?: true;
  readonly dns: Record<string, unknown>;
  /** The plugin's device-info file, as Multus copies it (device-info-spec). */
  readonly 'device-info'?: Record<string, unknown>;
  readonly gateway?: readonly string[];
}

/** One attachment made for a pod, with what DEL needs later. */
export interface PodAttachmentState {
  /** `ns/nad`, or '' for eth0 on the default network. */
  readonly nad: string;
  readonly ifName: string;
  readonly chain: ChainConfig;
  readonly result: Record<string, unknown>;
  readonly defaultRoute: boolean;
  /** The CNIDeviceInfoFile handed to the plugin (the selection asked for a deviceID), and what it held. */
  readonly deviceInfoFile?: string;
  readonly deviceInfo?: Record<string, unknown>;
}

export interface PodStatus {
  readonly phase: 'Running' | 'Failed';
  readonly reason?: string;
  /** Failed for now, worth another try (a NAD not seen yet, an agent not ready: CNI code 11). */
  readonly transient?: true;
  readonly nodeName: string;
  readonly netns: string;
  readonly uid: string;
  readonly containerId: string;
  readonly attachments: readonly PodAttachmentState[];
  readonly networkStatus: readonly NetworkStatusEntry[];
}

export function defaultChain(lab: LabConfig): ChainConfig {
  return {
    cniVersion: '1.0.0',
    name: DEFAULT_NETCONF_NAME,
    plugins: [
      {
        type: 'multinet',
        ipam: { type: 'multinet-ipam' },
        dataplane_options: { network_name: lab.defaultNetwork.name },
      },
    ],
  };
}

export function nadChain(nad: NetAttachDef): ChainConfig {
  return {
    // As Multus (libcni) passes it: a conflist without cniVersion gives its plugins "" (which a
    // plugin reads as 0.1.0, and ours refuses), not a default.
    cniVersion: nad.spec.cniVersion ?? '',
    name: nad.spec.configName ?? nad.metadata.name,
    plugins: nad.spec.plugins,
  };
}

type ResultIface = { name?: string; mac?: string; mtu?: number; sandbox?: string };
type ResultIp = { address?: string; interface?: number; gateway?: string };

const isDefaultDst = (dst: unknown): boolean =>
  typeof dst === 'string' && /^(0\.0\.0\.0|::|0:0:0:0:0:0:0:0)\/\d+$/.test(dst);

/** Multus' DNS of an entry: the result's, each empty field left out. */
function entryDns(dns: unknown): Record<string, unknown> {
  const d = (dns ?? {}) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of ['nameservers', 'domain', 'search', 'options']) {
    const v = d[k];
    if (Array.isArray(v) ? v.length > 0 : typeof v === 'string' && v !== '') out[k] = v;
  }
  return out;
}

function entry(e: {
  name: string;
  iface?: ResultIface | undefined;
  ips: string[];
  isDefault: boolean;
  dns: Record<string, unknown>;
  dev?: Record<string, unknown> | undefined;
  gateway: string[];
}): NetworkStatusEntry {
  return {
    name: e.name,
    ...(e.iface?.name ? { interface: e.iface.name } : {}),
    ...(e.ips.length ? { ips: e.ips } : {}),
    ...(e.iface?.mac ? { mac: e.iface.mac } : {}),
    ...(e.iface?.mtu ? { mtu: e.iface.mtu } : {}),
    ...(e.isDefault ? { default: true as const } : {}),
    dns: e.dns,
    ...(e.dev ? { 'device-info': e.dev } : {}),
    ...(e.gateway.length ? { gateway: e.gateway } : {}),
  };
}

/**
 * The network-status entries of one delegate's CNI result, as Multus makes them
 * (CreateNetworkStatuses): one per sandbox interface, or with a single interface in the result
 * one entry with every address; `gateway` = the gateways of the result's default routes, on every
 * network; `default` only on the cluster network, on the interface whose address has a gateway.
 */
export function statusEntries(
  name: string,
  result: Record<string, unknown>,
  isDefault: boolean,
  deviceInfo?: Record<string, unknown>,
): NetworkStatusEntry[] {
  const ifaces = (result.interfaces ?? []) as ResultIface[];
  const ips = (result.ips ?? []) as ResultIp[];
  const addr = (i: ResultIp): string => String(i.address).split('/')[0]!;
  const gateway = ((result.routes ?? []) as { dst?: string; gw?: string }[])
    .filter((r) => isDefaultDst(r.dst) && r.gw)
    .map((r) => r.gw!);
  const dns = entryDns(result.dns);
  const dev = deviceInfo;
  if (ifaces.length === 1) {
    const sandboxed = ifaces.filter((i) => i.sandbox);
    return [entry({ name, iface: sandboxed.at(-1), ips: ips.map(addr), isDefault, dns, dev, gateway })];
  }
  const gwIdx = isDefault ? (ips.find((i) => i.gateway && i.interface !== undefined)?.interface ?? -1) : -1;
  const rows: { iface: ResultIface; index: number; ips: string[]; isDefault: boolean }[] = [];
  let setDefault = false;
  ifaces.forEach((iface, index) => {
    if (!iface.sandbox) return;
    const first = isDefault && !setDefault && (gwIdx === -1 || gwIdx === index);
    if (first) setDefault = true;
    rows.push({ iface, index, ips: [], isDefault: first });
  });
  for (const i of ips) {
    const row = i.interface === undefined ? rows.at(-1) : rows.find((r) => r.index === i.interface);
    row?.ips.push(addr(i));
  }
  return rows.map((r) =>
    entry({ name, iface: r.iface, ips: r.ips, isDefault: r.isDefault, dns, dev, gateway }),
  );
}

/** The annotation's text as Multus writes it (each entry indented by 4, joined by commas). */
export function formatNetworkStatus(entries: readonly NetworkStatusEntry[]): string {
  return `[${entries.map((e) => JSON.stringify(e, null, 4)).join(',')}]`;
}

export interface PodContext {
  readonly runner: Runner;
  readonly lab: LabConfig;
  readonly cniPath: string;
  /** NAD by `ns/name`. */
  readonly nads: ReadonlyMap<string, NetAttachDef>;
}

/** What a CNI call needs of the pod. */
type PodRef = { readonly metadata: Pick<Pod['metadata'], 'name' | 'namespace'> };

/** A NAD named by a pod's annotation is not there (yet: in a cluster it may arrive later). */
export class MissingNadError extends Error {}

/** An attachment that failed, in Multus' words (multus-messages.ts); `cause` keeps what failed. */
export class AttachError extends Error {
  constructor(
    message: string,
    override readonly cause: unknown,
  ) {
    super(message);
  }
}

function baseCall(
  ctx: PodContext,
  pod: PodRef,
  node: LabNode,
  uid: string,
  netns: string,
): Omit<CniCall, 'ifName'> {
  const ns = pod.metadata.namespace ?? 'default';
  return {
    containerId: containerIdFor(ns, pod.metadata.name, uid),
    netns: `/var/run/netns/${netns}`,
    args: {
      K8S_POD_NAMESPACE: ns,
      K8S_POD_NAME: pod.metadata.name,
      K8S_POD_UID: uid,
      K8S_POD_INFRA_CONTAINER_ID: containerIdFor(ns, pod.metadata.name, uid),
    },
    cniPath: ctx.cniPath,
    socket: node.socket,
  };
}

/** chainAdd of one delegate; a failure in Multus' words, the CNI error kept as the cause. */
async function delegateAdd(
  ctx: PodContext,
  who: { namespace: string; name: string; uid: string },
  chain: ChainConfig,
  call: CniCall,
): Promise<Record<string, unknown>> {
  try {
    return await chainAdd(ctx.runner, chain, call);
  } catch (e) {
    const cause = e instanceof CniCallError ? pluginAddFailed(e) : (e as Error).message;
    throw new AttachError(delegateAddFailed(who, chain.name, cause), e);
  }
}

/** Attaches one network to a running pod (also used to add attachments to a live pod). */
export async function attachOne(
  ctx: PodContext,
  pod: Pod,
  status: Pick<PodStatus, 'uid' | 'netns' | 'nodeName'>,
  a: Attachment,
): Promise<PodAttachmentState> {
  const node = ctx.lab.nodes.find((n) => n.name === status.nodeName)!;
  const nad = ctx.nads.get(`${a.namespace}/${a.name}`);
  const who = { namespace: pod.metadata.namespace ?? 'default', name: pod.metadata.name, uid: status.uid };
  if (!nad) throw new MissingNadError(nadNotFound(who, a));
  // Multus reads spec.config with Go's strict JSON: the lenient reader's trailing commas fail there.
  try {
    JSON.parse(nad.spec.config);
  } catch (e) {
    throw new AttachError(nadConfigNotJson(who, (e as Error).message), e);
  }
  const chain = nadChain(nad);
  const runtimeConfig: Record<string, unknown> = {};
  if (a.ips.length) runtimeConfig.ips = a.ips;
  if (a.mac) runtimeConfig.mac = a.mac;
  // As Multus: a selection with a deviceID gets a device-info file path of its own (passed, like
  // every runtimeConfig key, only to plugins declaring the capability) and its content is copied
  // into network-status.
  const deviceID = typeof a.extra.deviceID === 'string' && a.extra.deviceID ? a.extra.deviceID : undefined;
  const base = baseCall(ctx, pod, node, status.uid, status.netns);
  const deviceInfoFile = deviceID
    ? join(
        ctx.lab.dir,
        'devinfo',
        'cni',
        // Multus' name (delegate name = ns/nad, then container id and interface); its folder is
        // /var/run/k8s.cni.cncf.io/devinfo/cni, the lab keeps one of its own.
        `${a.namespace}/${a.name}-${base.containerId}_${a.interface}`.replaceAll('/', '-'),
      )
    : undefined;
  if (deviceID) {
    runtimeConfig.deviceID = deviceID;
    runtimeConfig.CNIDeviceInfoFile = deviceInfoFile;
  }
  const defaultRoute = a.defaultRoute.length > 0;
  const call: CniCall = { ...base, ifName: a.interface, runtimeConfig };
  const args = defaultRoute ? { ...call.args, MULTINET_DEFAULT_ROUTE: 'true' } : call.args;
  const result = await delegateAdd(ctx, who, chain, { ...call, args });
  const deviceInfo = deviceInfoFile ? readDeviceInfo(deviceInfoFile) : undefined;
  return {
    nad: `${a.namespace}/${a.name}`,
    ifName: a.interface,
    chain,
    result,
    defaultRoute,
    ...(deviceInfoFile ? { deviceInfoFile } : {}),
    ...(deviceInfo ? { deviceInfo } : {}),
  };
}

/** A device-info file, if the plugin wrote one (Multus ignores a missing or unreadable one). */
function readDeviceInfo(path: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(readFileSync(path, 'utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export async function detachOne(
  ctx: PodContext,
  pod: PodRef,
  status: Pick<PodStatus, 'uid' | 'netns' | 'nodeName'>,
  s: PodAttachmentState,
): Promise<void> {
  const node = ctx.lab.nodes.find((n) => n.name === status.nodeName)!;
  const call: CniCall = {
    ...baseCall(ctx, pod, node, status.uid, status.netns),
    ifName: s.ifName,
    ...(s.deviceInfoFile ? { runtimeConfig: { CNIDeviceInfoFile: s.deviceInfoFile } } : {}),
  };
  await chainDel(ctx.runner, s.chain, call, s.result);
  if (s.deviceInfoFile) rmSync(s.deviceInfoFile, { force: true }); // as Multus after DEL
}

/** The pod's netns with lo up; the reason when it cannot be made. */
async function sandbox(ctx: PodContext, netns: string): Promise<string | undefined> {
  const r = await ctx.runner.run('ip', ['netns', 'add', netns]);
  if (r.code !== 0 && !r.stderr.includes('File exists')) return `netns: ${r.stderr.trim()}`;
  await ctx.runner.run('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
  return undefined;
}

/**
 * Creates the pod as kubelet does with Multus as the node's CNI network: netns, then ONE ADD of
 * `meta` (the real Multus thin plugin) for eth0. Multus reads the pod's annotation and the NADs
 * from the API server, calls each delegate and writes network-status itself; its result is the
 * cluster network's (eth0), kept here for the pod status and for the DEL. Any failure is worth
 * another try, as kubelet retries a sandbox whose CNI ADD failed.
 */
export async function createPodViaMeta(
  ctx: PodContext,
  pod: PodRef,
  nodeName: string,
  ids: { readonly uid: string; readonly netns: string },
  meta: ChainConfig,
): Promise<PodStatus> {
  const ns = pod.metadata.namespace ?? 'default';
  const { uid, netns } = ids;
  const base = { uid, netns, nodeName, containerId: containerIdFor(ns, pod.metadata.name, uid) };
  const failed = await sandbox(ctx, netns);
  if (failed) return { ...base, phase: 'Failed', reason: failed, attachments: [], networkStatus: [] };
  const node = ctx.lab.nodes.find((n) => n.name === nodeName)!;
  const call: CniCall = { ...baseCall(ctx, pod, node, uid, netns), ifName: 'eth0' };
  try {
    const result = await chainAdd(ctx.runner, meta, call);
    const made = [{ nad: '', ifName: 'eth0', chain: meta, result, defaultRoute: true }];
    return { ...base, phase: 'Running', attachments: made, networkStatus: networkStatus(made) };
  } catch (e) {
    // Multus' own message (its stderr, its log lines, stays in its log file).
    const msg = e instanceof CniCallError ? e.msg : (e as Error).message;
    return {
      ...base,
      phase: 'Failed',
      reason: sandboxAddFailed(msg),
      transient: true,
      attachments: [],
      networkStatus: [],
    };
  }
}

/** Creates the pod: netns, eth0, then every attachment; on any failure the pod is Failed with a reason and left detached. */
export async function createPod(
  ctx: PodContext,
  pod: Pod,
  nodeName: string,
  ids: { readonly uid: string; readonly netns: string } | undefined = undefined,
): Promise<PodStatus> {
  const ns = pod.metadata.namespace ?? 'default';
  const uid = ids?.uid ?? randomUUID();
  const netns = ids?.netns ?? podNetns(ctx.lab.name, ns, pod.metadata.name);
  const base = { uid, netns, nodeName, containerId: containerIdFor(ns, pod.metadata.name, uid) };
  const made: PodAttachmentState[] = [];
  const failed = await sandbox(ctx, netns);
  if (failed) return { ...base, phase: 'Failed', reason: failed, attachments: [], networkStatus: [] };
  const secondaryDefault = pod.attachments.some((a) => a.defaultRoute.length > 0);
  try {
    const node = ctx.lab.nodes.find((n) => n.name === nodeName)!;
    const chain = defaultChain(ctx.lab);
    const call: CniCall = { ...baseCall(ctx, pod, node, uid, netns), ifName: 'eth0' };
    const args = secondaryDefault ? call.args : { ...call.args, MULTINET_DEFAULT_ROUTE: 'true' };
    const who = { namespace: ns, name: pod.metadata.name, uid };
    const result = await delegateAdd(ctx, who, chain, { ...call, args });
    made.push({ nad: '', ifName: 'eth0', chain, result, defaultRoute: !secondaryDefault });
    for (const a of pod.attachments) made.push(await attachOne(ctx, pod, base, a));
  } catch (e) {
    // A failed attachment fails the pod visibly; what was attached is undone, as kubelet would.
    for (const s of [...made].reverse()) await detachOne(ctx, pod, base, s).catch(() => undefined);
    // As kubelet's runtime reports a failed ADD of Multus, Multus' message inside.
    const reason = sandboxAddFailed((e as Error).message);
    const cause = e instanceof AttachError ? e.cause : e;
    const transient = e instanceof MissingNadError || (cause instanceof CniCallError && cause.code === 11);
    return {
      ...base,
      phase: 'Failed',
      reason,
      ...(transient ? { transient: true as const } : {}),
      attachments: [],
      networkStatus: [],
    };
  }
  return { ...base, phase: 'Running', attachments: made, networkStatus: networkStatus(made) };
}

/** The pod's network-status: eth0 (the cluster network, Multus' master plugin) first, then each attachment. */
export function networkStatus(made: readonly PodAttachmentState[]): NetworkStatusEntry[] {
  return made.flatMap((s) =>
    statusEntries(s.nad || DEFAULT_NETCONF_NAME, s.result, s.nad === '', s.deviceInfo),
  );
}

/** DEL of every attachment in reverse order, then the netns. Errors are collected, never stop the teardown. */
export async function deletePod(ctx: PodContext, pod: PodRef, status: PodStatus): Promise<string[]> {
  const errors: string[] = [];
  for (const s of [...status.attachments].reverse()) {
    await detachOne(ctx, pod, status, s).catch((e: unknown) => errors.push((e as Error).message));
  }
  const r = await ctx.runner.run('ip', ['netns', 'del', status.netns]);
  if (r.code !== 0 && !r.stderr.includes('No such file'))
    errors.push(`netns ${status.netns}: ${r.stderr.trim()}`);
  return errors;
}
