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

export const NETWORK_STATUS_ANNOTATION = 'k8s.v1.cni.cncf.io/network-status';
export const DEFAULT_NETCONF_NAME = 'multinet-default';

/** One entry of Multus' `k8s.v1.cni.cncf.io/network-status` annotation. */
export interface NetworkStatusEntry {
  readonly name: string;
  readonly interface: string;
  readonly ips: readonly string[];
  readonly mac: string;
  readonly default: boolean;
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
    cniVersion: nad.spec.cniVersion ?? '1.0.0',
    name: nad.spec.configName ?? nad.metadata.name,
    plugins: nad.spec.plugins,
  };
}

function statusEntry(
  name: string,
  ifName: string,
  result: Record<string, unknown>,
  isDefault: boolean,
  deviceInfo?: Record<string, unknown>,
): NetworkStatusEntry {
  const ifaces = (result.interfaces ?? []) as { name?: string; mac?: string; sandbox?: string }[];
  const idx = ifaces.findIndex((i) => i.name === ifName && i.sandbox);
  const ips = ((result.ips ?? []) as { address?: string; interface?: number; gateway?: string }[]).filter(
    (i) => idx < 0 || i.interface === undefined || i.interface === idx,
  );
  const gw = ips.map((i) => i.gateway).filter((g): g is string => !!g);
  return {
    name,
    interface: ifName,
    ips: ips.map((i) => String(i.address).split('/')[0]!),
    mac: ifaces[idx]?.mac ?? '',
    default: isDefault,
    dns: (result.dns as Record<string, unknown>) ?? {},
    ...(deviceInfo ? { 'device-info': deviceInfo } : {}),
    ...(isDefault && gw.length ? { gateway: gw } : {}),
  };
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

/** Attaches one network to a running pod (also used to add attachments to a live pod). */
export async function attachOne(
  ctx: PodContext,
  pod: Pod,
  status: Pick<PodStatus, 'uid' | 'netns' | 'nodeName'>,
  a: Attachment,
): Promise<PodAttachmentState> {
  const node = ctx.lab.nodes.find((n) => n.name === status.nodeName)!;
  const nad = ctx.nads.get(`${a.namespace}/${a.name}`);
  if (!nad) throw new MissingNadError(`NetworkAttachmentDefinition ${a.namespace}/${a.name} not found`);
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
        `${chain.name}-${base.containerId}_${a.interface}`.replaceAll('/', '-'),
      )
    : undefined;
  if (deviceID) {
    runtimeConfig.deviceID = deviceID;
    runtimeConfig.CNIDeviceInfoFile = deviceInfoFile;
  }
  const defaultRoute = a.defaultRoute.length > 0;
  const call: CniCall = { ...base, ifName: a.interface, runtimeConfig };
  const args = defaultRoute ? { ...call.args, MULTINET_DEFAULT_ROUTE: 'true' } : call.args;
  const result = await chainAdd(ctx.runner, chain, { ...call, args });
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
  const r = await ctx.runner.run('ip', ['netns', 'add', netns]);
  if (r.code !== 0 && !r.stderr.includes('File exists'))
    return {
      ...base,
      phase: 'Failed',
      reason: `netns: ${r.stderr.trim()}`,
      attachments: [],
      networkStatus: [],
    };
  await ctx.runner.run('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
  const secondaryDefault = pod.attachments.some((a) => a.defaultRoute.length > 0);
  try {
    const node = ctx.lab.nodes.find((n) => n.name === nodeName)!;
    const chain = defaultChain(ctx.lab);
    const call: CniCall = { ...baseCall(ctx, pod, node, uid, netns), ifName: 'eth0' };
    const args = secondaryDefault ? call.args : { ...call.args, MULTINET_DEFAULT_ROUTE: 'true' };
    const result = await chainAdd(ctx.runner, chain, { ...call, args });
    made.push({ nad: '', ifName: 'eth0', chain, result, defaultRoute: !secondaryDefault });
    for (const a of pod.attachments) made.push(await attachOne(ctx, pod, base, a));
  } catch (e) {
    // A failed attachment fails the pod visibly; what was attached is undone, as kubelet would.
    for (const s of [...made].reverse()) await detachOne(ctx, pod, base, s).catch(() => undefined);
    const reason = e instanceof CniCallError ? e.message : (e as Error).message;
    const transient = e instanceof MissingNadError || (e instanceof CniCallError && e.code === 11);
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

export function networkStatus(made: readonly PodAttachmentState[]): NetworkStatusEntry[] {
  return made.map((s) =>
    statusEntry(s.nad || DEFAULT_NETCONF_NAME, s.ifName, s.result, s.defaultRoute, s.deviceInfo),
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
