// The agent's CNI handler. ADD is linear, as in the reference plugins: resolve the Network, get
// the addresses, write the record, program; each step that succeeds pushes its undo, and any
// failure runs the undo list in reverse, so exactly the steps taken are undone. DEL undoes ADD and
// is idempotent. The dataplane itself is driven by desired state (calc), so ADD/DEL only change
// the attachment records and then wait for a sync that includes them.
import type { CniCallContext, CniHandler, CniRequest, CniResult100 } from '../cni/protocol.js';
import { CniError, ErrorCode } from '../cni/spec.js';
import { KIND_ATTACHMENT, type AttachmentRecord } from '../calc/records.js';
import type { NetworkInfo } from '../calc/node-state.js';
import type { SyncReport } from '../dataplane/types.js';
import type { StoredObject, Store } from '../store/types.js';
import { isStoreError } from '../store/types.js';
import type { AddressAllocator } from './allocator.js';
import { acquireAddresses, type PodAddress } from './attach-addresses.js';
import { attachmentKey, attachmentRecord, podIdentity } from './attach-record.js';
import { attachmentResult } from './attach-result.js';
import { syncFailure } from './attach-sync.js';
import { KIND_NETWORK, type ClusterCache } from './cache.js';
import { pluginFromNetConf } from '../api/netconf.js';
import { decodeStored, formatDecodeError } from '../api/stored.js';
import { networkInfo } from '../calc/cluster-view.js';
import { UndoList } from './undo.js';
import type { Logger } from '../util/log.js';
import { memifModeOf, VPP_INTERFACES_SPEC } from '../api/memif-mode.js';
import { isMemifName } from '../dataplane/naming.js';
import { deviceInfoPath, memifDeviceInfo, type DeviceInfoFiles } from './device-info.js';

export interface AttachDeps {
  readonly node: string;
  readonly store: Store;
  readonly cache: ClusterCache;
  readonly ipam: AddressAllocator;
  /** Runs a dataplane sync that includes every change made before the call. */
  readonly sync: () => Promise<SyncReport>;
  /** Reads the pod side of an attachment from the kernel (CHECK). */
  readonly inspectPod: (rec: AttachmentRecord) => Promise<string | undefined>;
  readonly log: Logger;
  /** A memif forwarder serves this node (else memif interfaces are refused). */
  readonly memif?: boolean;
  /** Removes a detached memif's visible link from its pod (it has no host peer to take it along). */
  readonly removeMemifLink?: (netns: string, ifName: string) => Promise<void>;
  /** Where memif device-info files go (runtimeConfig.CNIDeviceInfoFile); none: the request's path is refused. */
  readonly deviceInfo?: DeviceInfoFiles;
}

const MEMIF_PREFIX = 'memif';

/** A Network as ADD found it; `stored` when it came from the store, ahead of the cache's watch. */
interface ResolvedNetwork {
  readonly info: NetworkInfo;
  readonly stored?: StoredObject;
}

export class AttachmentService implements CniHandler {
  constructor(private readonly d: AttachDeps) {}

  async add(req: CniRequest, _ctx: CniCallContext): Promise<CniResult100> {
    const { cache, store, log } = this.d;
    refuseUnsupported(req, this.d.memif === true);
    const plugin = pluginFromNetConf(req.netConf);
    if (!plugin.ok)
      throw new CniError(ErrorCode.InvalidNetworkConfig, 'invalid network config', plugin.error);
    const network = await this.resolveNetwork(plugin.value.network);
    const pod = podIdentity(req);
    const key = attachmentKey(req, pod.namespace);

    // Idempotent ADD: the same (container, interface) again returns the recorded result.
    const existing = await store.get<AttachmentRecord>(key);
    const devInfoPath = deviceInfoPath(req);
    if (devInfoPath instanceof Error)
      throw new CniError(ErrorCode.InvalidNetworkConfig, 'invalid runtime config', devInfoPath.message);
    if (existing && existing.value.network === network.info.name) {
      await this.program(existing.value, network);
      await this.writeDeviceInfo(req, existing.value, devInfoPath);
      return attachmentResult(existing.value, network.info.ranges);
    }
    if (existing)
      throw new CniError(
        ErrorCode.InvalidNetworkConfig,
        'interface already attached to another network',
        `${pod.namespace}/${pod.name} ${req.ifName} is attached to ${existing.value.network}`,
      );

    const memifMode = isMemifName(req.ifName) ? await this.memifMode(req, pod) : undefined;
    const undo = new UndoList(log);
    try {
      const addrs = await acquireAddresses({
        req,
        network: network.info,
        ipamConf: plugin.value.ipam,
        pod,
        ipam: this.d.ipam,
        podAddresses: podAddresses(cache, req),
      });
      if (addrs.release) undo.push('release addresses', addrs.release);

      const rec = attachmentRecord({
        req,
        node: this.d.node,
        network: network.info.name,
        pod,
        ips: addrs.ips,
        now: new Date(),
        ...(memifMode ? { memifMode } : {}),
      });
      try {
        await store.create(key, rec);
      } catch (e) {
        if (!isStoreError(e, 'AlreadyExists')) throw e;
        // A concurrent ADD of the same (container, interface) recorded first. The IPAM is
        // idempotent on that pair, so its record holds the very addresses we were given: they are
        // the winner's now, and releasing them would free an address in use.
        const won = await store.get<AttachmentRecord>(key);
        if (!won || won.value.network !== network.info.name) throw e;
        undo.discard();
        await this.program(won.value, network);
        return attachmentResult(won.value, network.info.ranges);
      }
      // Written through to the cache, so the next sync has it before the watch delivers it. The
      // kernel follows the records: undoing the record and syncing again undoes the programming.
      cache.putAttachment(key.namespace, key.name, rec);
      undo.push('remove the record', async () => {
        await store.delete(key);
        cache.putAttachment(key.namespace, key.name, undefined);
        await this.d.sync();
      });

      await this.program(rec, network);
      await this.writeDeviceInfo(req, rec, devInfoPath);
      if (devInfoPath && isMemifName(req.ifName))
        undo.push('remove the device-info file', () => this.d.deviceInfo!.remove(devInfoPath));
      log.info(
        { pod: `${pod.namespace}/${pod.name}`, ifName: req.ifName, network: network.info.name, ips: rec.ips },
        'attached',
      );
      return attachmentResult(rec, network.info.ranges);
    } catch (e) {
      log.warn({ err: (e as Error).message, ifName: req.ifName }, 'ADD failed; rolling back');
      await undo.run();
      throw addFailure(e, key.name);
    }
  }

  /** A memif's device-info, where the runtime asked for it (kernel interfaces have none to give). */
  private async writeDeviceInfo(
    req: CniRequest,
    rec: AttachmentRecord,
    path: string | undefined,
  ): Promise<void> {
    if (!path || !isMemifName(req.ifName)) return;
    if (!this.d.deviceInfo)
      throw new CniError(
        ErrorCode.AgentInternal,
        'device-info not written',
        `runtimeConfig.CNIDeviceInfoFile ${path}: this agent writes no device-info files`,
      );
    try {
      await this.d.deviceInfo.write(path, memifDeviceInfo(req.ifName, rec.memifMode ?? 'ethernet'));
    } catch (e) {
      throw new CniError(
        ErrorCode.AgentInternal,
        'device-info not written',
        `runtimeConfig.CNIDeviceInfoFile ${path}: ${(e as Error).message}`,
      );
    }
  }

  /** The memif mode the pod asks for (its annotation read from the cache, else the store). */
  private async memifMode(
    req: CniRequest,
    pod: { namespace: string; name: string },
  ): Promise<'ethernet' | 'ip'> {
    const o =
      this.d.cache.get('Pod', pod.namespace, pod.name) ??
      (await this.d.store.get({ kind: 'Pod', namespace: pod.namespace, name: pod.name }));
    const annotations = (o?.value as { metadata?: { annotations?: Record<string, string> } } | undefined)
      ?.metadata?.annotations;
    const m = memifModeOf(annotations, req.ifName);
    if ('error' in m)
      throw new CniError(
        ErrorCode.InvalidNetworkConfig,
        'invalid memif interface spec',
        `pod ${pod.namespace}/${pod.name}: ${m.error}`,
      );
    if (m.ignored.length)
      this.d.log.warn(
        { pod: `${pod.namespace}/${pod.name}`, ifName: req.ifName, ignored: m.ignored },
        `${VPP_INTERFACES_SPEC}: keys not used by multinet (one ring per direction; the client picks ring sizes): ${m.ignored.join(', ')}`,
      );
    return m.mode;
  }

  /**
   * The Network from the cache, else from the store: it may have been created a moment ago and
   * its watch event not arrived yet. Only reads (program() writes it through).
   */
  private async resolveNetwork(name: string): Promise<ResolvedNetwork> {
    const cached = this.d.cache.networks.get(name);
    if (cached) return { info: cached };
    const stored = await this.d.store.get({ kind: KIND_NETWORK, namespace: '', name });
    const decoded = stored ? decodeStored(KIND_NETWORK, stored) : undefined;
    if (stored && decoded?.ok) return { info: networkInfo(decoded.value), stored };
    const why = decoded && !decoded.ok ? formatDecodeError(decoded.error) : this.d.cache.invalid.get(name);
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `network ${JSON.stringify(name)} is unknown`,
      why
        ? `Network/${name} is invalid: ${why}`
        : `dataplane_options.network_name names Network/${name}, which does not exist (create the Network first)`,
    );
  }

  /** Waits for a sync that includes `rec`; fails when that sync failed this attachment. */
  private async program(rec: AttachmentRecord, network: ResolvedNetwork): Promise<void> {
    const { cache } = this.d;
    // calc skips attachments of unknown networks: a Network read ahead of the watch goes into the
    // cache too (the watch's later event for it changes nothing).
    if (network.stored && !cache.get(KIND_NETWORK, '', network.info.name))
      cache.apply(KIND_NETWORK, {
        type: 'ADDED',
        object: network.stored,
        revision: network.stored.resourceVersion,
      });
    const report = await this.d.sync();
    const failed = syncFailure(report, rec);
    if (failed) {
      throw new CniError(
        ErrorCode.AgentInternal,
        'dataplane programming failed',
        `${failed.netns}: ${failed.op}: ${failed.message}`,
      );
    }
    if (report.failed > 0)
      this.d.log.warn(
        { errors: report.errors },
        'ADD: sync reported errors of other pods (next sync retries)',
      );
  }

  async del(req: CniRequest, _ctx: CniCallContext): Promise<void> {
    const pod = podIdentity(req);
    const key = attachmentKey(req, pod.namespace);
    const existing = await this.d.store.get<AttachmentRecord>(key);
    const plugin = pluginFromNetConf(req.netConf);
    const network = existing?.value.network ?? (plugin.ok ? plugin.value.network : undefined);
    const devInfoPath = deviceInfoPath(req);
    if (typeof devInfoPath === 'string' && isMemifName(req.ifName))
      await this.d.deviceInfo
        ?.remove(devInfoPath)
        .catch((e: unknown) =>
          this.d.log.warn({ err: (e as Error).message, path: devInfoPath }, 'DEL: device-info file left'),
        );
    if (existing) {
      await this.d.store.delete(key);
      this.d.cache.putAttachment(key.namespace, key.name, undefined);
      const report = await this.d.sync();
      if (report.failed > 0)
        this.d.log.warn({ errors: report.errors }, 'DEL: sync reported errors (next sync retries)');
      if (isMemifName(req.ifName) && req.netns)
        await this.d
          .removeMemifLink?.(req.netns, req.ifName)
          .catch((e: unknown) =>
            this.d.log.warn(
              { err: (e as Error).message, ifName: req.ifName },
              'DEL: memif link left in the pod',
            ),
          );
    }
    // Release even without a record: an ADD that crashed between allocation and record leaves one.
    if (network && !existing?.value.delegatedIpam && req.ipam === 'agent') {
      await this.d.ipam.release({ network, containerId: req.containerId, ifName: req.ifName });
    }
  }

  async check(req: CniRequest, _ctx: CniCallContext): Promise<void> {
    const pod = podIdentity(req);
    const key = attachmentKey(req, pod.namespace);
    const existing = await this.d.store.get<AttachmentRecord>(key);
    if (!existing)
      throw new CniError(
        ErrorCode.ContainerUnknown,
        'attachment unknown',
        `${pod.namespace}/${pod.name} ${req.ifName}`,
      );
    const problem = await this.d.inspectPod(existing.value);
    if (problem)
      throw new CniError(ErrorCode.AgentInternal, 'attachment does not match its configuration', problem);
    const prevIps = (req.netConf.prevResult?.ips ?? []).map((i) => i.address.split('/')[0]);
    for (const ip of existing.value.ips) {
      if (req.netConf.prevResult && !prevIps.includes(ip))
        throw new CniError(ErrorCode.AgentInternal, 'address missing from prevResult', ip);
    }
  }

  async status(_req: CniRequest, _ctx: CniCallContext): Promise<void> {
    try {
      await this.d.store.list(KIND_ATTACHMENT, '__status_probe__');
    } catch (e) {
      throw new CniError(ErrorCode.PluginNotAvailable, 'datastore unavailable', (e as Error).message);
    }
  }

  async gc(req: CniRequest, ctx: CniCallContext): Promise<void> {
    const valid = new Set((req.validAttachments ?? []).map((a) => `${a.containerId}/${a.ifName}`));
    for (const rec of [...this.d.cache.attachments.values()]) {
      if (rec.node !== this.d.node || rec.netConfName !== req.netConf.name) continue;
      if (valid.has(`${rec.containerId}/${rec.ifName}`)) continue;
      await this.del(
        {
          ...req,
          command: 'DEL',
          containerId: rec.containerId,
          ifName: rec.ifName,
          netns: rec.netns,
          args: { K8S_POD_NAMESPACE: rec.podNamespace, K8S_POD_NAME: rec.podName },
          ipam: rec.delegatedIpam ? 'delegated' : 'agent',
        },
        ctx,
      );
    }
  }
}

function refuseUnsupported(req: CniRequest, memif: boolean): void {
  if (req.ifName.startsWith(MEMIF_PREFIX) && !memif)
    throw new CniError(
      ErrorCode.UnsupportedField,
      'memif interfaces need the memif forwarder',
      `interface ${req.ifName}: names beginning with "memif" ask for a shared-memory interface, served by dist/multinet-memifd, which this agent does not have (npm run build compiles it with cc); nothing was attached`,
    );
  if (!req.netns) throw new CniError(ErrorCode.InvalidEnvironment, 'CNI_NETNS is required for ADD');
}

/** The error ADD reports: a spec error as thrown, a lost create race as "try again", else 100. */
function addFailure(e: unknown, name: string): CniError {
  if (e instanceof CniError) return e;
  if (isStoreError(e, 'AlreadyExists'))
    return new CniError(ErrorCode.TryAgainLater, 'concurrent ADD for the same interface', name);
  return new CniError(ErrorCode.AgentInternal, 'attachment failed', (e as Error).message);
}

/** The pod's addresses on its other interfaces (same sandbox): see AddressRequest.podAddresses. */
function podAddresses(cache: ClusterCache, req: CniRequest): PodAddress[] {
  return [...cache.attachments.values()]
    .filter((a) => a.containerId === req.containerId && a.ifName !== req.ifName)
    .flatMap((a) => a.ips.map((ip) => ({ ip, ifName: a.ifName, network: a.network })));
}
