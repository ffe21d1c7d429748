// The agent's CNI handler: ADD allocates, records the attachment, programs the dataplane and
// answers with the result; any failure undoes every step already taken. DEL undoes ADD and is
// idempotent. The dataplane itself is driven by desired state (calc), so ADD/DEL only change the
// attachment records and then wait for a sync that includes them.
import { CniError, ErrorCode } from '../cni/spec.js';
import type { CniCallContext, CniHandler } from './cni-server.js';
import type { CniRequest, CniResult100 } from './cni-protocol.js';
import { attachmentName, KIND_ATTACHMENT, type AttachmentRecord } from '../calc/records.js';
import { GATEWAY_V4, GATEWAY_V6, podMac } from '../dataplane/naming.js';
import type { SyncReport } from '../dataplane/types.js';
import type { Store } from '../store/types.js';
import { isStoreError } from '../store/types.js';
import type { AddressAllocator, PoolRange } from './allocator.js';
import { KIND_NETWORK, type ClusterCache } from './cache.js';
import { pluginFromNetConf } from '../api/netconf.js';
import type { Logger } from '../util/log.js';
import { isIP } from 'node:net';
import { poolRanges } from '../ipam/whereabouts.js';

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
}

const MEMIF_PREFIX = 'memif';

function podIdentity(req: CniRequest): { namespace: string; name: string; uid?: string } {
  const namespace = req.args.K8S_POD_NAMESPACE || 'default';
  const name = req.args.K8S_POD_NAME || req.containerId;
  const uid = req.args.K8S_POD_UID;
  return uid ? { namespace, name, uid } : { namespace, name };
}

export class AttachmentService implements CniHandler {
  constructor(private readonly d: AttachDeps) {}

  async add(req: CniRequest, _ctx: CniCallContext): Promise<CniResult100> {
    const { cache, store, ipam, log } = this.d;
    if (req.ifName.startsWith(MEMIF_PREFIX)) {
      throw new CniError(
        ErrorCode.UnsupportedField,
        'memif interfaces are not supported yet',
        `interface ${req.ifName}: names beginning with "memif" ask for a shared-memory interface, which this version does not provide; nothing was attached`,
      );
    }
    if (!req.netns) throw new CniError(ErrorCode.InvalidEnvironment, 'CNI_NETNS is required for ADD');
    const plugin = pluginFromNetConf(req.netConf);
    if (!plugin.ok)
      throw new CniError(ErrorCode.InvalidNetworkConfig, 'invalid network config', plugin.error);
    let network = cache.networks.get(plugin.value.network);
    if (!network) {
      // The Network may have been created a moment ago and its watch event not arrived yet.
      const o = await store.get({ kind: KIND_NETWORK, namespace: '', name: plugin.value.network });
      if (o) cache.apply(KIND_NETWORK, { type: 'ADDED', object: o, revision: o.resourceVersion });
      network = cache.networks.get(plugin.value.network);
    }
    if (!network) {
      const why = cache.invalid.get(plugin.value.network);
      throw new CniError(
        ErrorCode.InvalidNetworkConfig,
        `network ${JSON.stringify(plugin.value.network)} is unknown`,
        why
          ? `Network/${plugin.value.network} is invalid: ${why}`
          : `dataplane_options.network_name names Network/${plugin.value.network}, which does not exist (create the Network first)`,
      );
    }
    const pod = podIdentity(req);
    const key = attachmentKey(req, pod.namespace);
    const name = key.name;

    // Idempotent ADD: the same (container, interface) again returns the recorded result.
    const existing = await store.get<AttachmentRecord>(key);
    if (existing && existing.value.network === network.name) {
      await this.requireSynced(this.d.sync(), existing.value);
      return this.result(existing.value, network.ranges);
    }
    if (existing) {
      throw new CniError(
        ErrorCode.InvalidNetworkConfig,
        'interface already attached to another network',
        `${pod.namespace}/${pod.name} ${req.ifName} is attached to ${existing.value.network}`,
      );
    }

    const ipamMode = req.ipam;
    let ips: string[];
    const requested = requestedIps(req);
    if (ipamMode === 'delegated') {
      ips = (req.ipamResult?.ips ?? []).map((c) => c.address.split('/')[0]!).filter((a) => isIP(a) !== 0);
      if (ips.length === 0)
        throw new CniError(
          ErrorCode.InvalidNetworkConfig,
          'delegated IPAM returned no address',
          `ipam.type ${String(req.netConf.ipam?.type)}`,
        );
    } else if (ipamMode === 'none') {
      throw new CniError(
        ErrorCode.InvalidNetworkConfig,
        'no ipam section',
        'the plugin config needs an "ipam" section (e.g. {"type": "whereabouts"})',
      );
    } else {
      try {
        const ranges: PoolRange[] = poolRanges(plugin.value.ipam, network.ranges).map((r) => ({
          ...r,
          exclude: r.exclude ?? [],
        }));
        ips = await ipam.allocate({
          network: network.name,
          ranges,
          containerId: req.containerId,
          ifName: req.ifName,
          podNamespace: pod.namespace,
          podName: pod.name,
          ...(requested.length ? { requestedIps: requested } : {}),
        });
      } catch (e) {
        throw new CniError(ErrorCode.AgentInternal + 2, 'address allocation failed', (e as Error).message);
      }
    }

    const mac =
      typeof req.netConf.runtimeConfig?.mac === 'string'
        ? (req.netConf.runtimeConfig.mac as string)
        : undefined;
    const rec: AttachmentRecord = {
      containerId: req.containerId,
      ifName: req.ifName,
      podNamespace: pod.namespace,
      podName: pod.name,
      ...(pod.uid ? { podUid: pod.uid } : {}),
      node: this.d.node,
      netns: req.netns,
      network: network.name,
      netConfName: req.netConf.name,
      ips,
      mac: podMac({ network: network.name, netns: req.netns, ifname: req.ifName, ...(mac ? { mac } : {}) }),
      delegatedIpam: ipamMode === 'delegated',
      defaultRoute: wantsDefaultRoute(req),
      createdAt: new Date().toISOString(),
    };

    // From here on, every step is undone if a later one fails.
    let recorded = false;
    try {
      await store.create(key, rec);
      recorded = true;
      cache.putAttachment(key.namespace, key.name, rec);
      await this.requireSynced(this.d.sync(), rec);
      log.info(
        { pod: `${pod.namespace}/${pod.name}`, ifName: req.ifName, network: network.name, ips },
        'attached',
      );
      return this.result(rec, network.ranges);
    } catch (e) {
      log.warn({ err: (e as Error).message, ifName: req.ifName }, 'ADD failed; rolling back');
      if (recorded) {
        await store.delete(key).catch(() => undefined);
        cache.putAttachment(key.namespace, key.name, undefined);
        await this.d.sync().catch(() => undefined);
      }
      if (ipamMode === 'agent')
        await ipam
          .release({ network: network.name, containerId: req.containerId, ifName: req.ifName })
          .catch(() => undefined);
      if (e instanceof CniError) throw e;
      if (isStoreError(e, 'AlreadyExists'))
        throw new CniError(ErrorCode.TryAgainLater, 'concurrent ADD for the same interface', name);
      throw new CniError(ErrorCode.AgentInternal, 'attachment failed', (e as Error).message);
    }
  }

  async del(req: CniRequest, _ctx: CniCallContext): Promise<void> {
    const pod = podIdentity(req);
    const key = attachmentKey(req, pod.namespace);
    const existing = await this.d.store.get<AttachmentRecord>(key);
    const plugin = pluginFromNetConf(req.netConf);
    const network = existing?.value.network ?? (plugin.ok ? plugin.value.network : undefined);
    if (existing) {
      await this.d.store.delete(key);
      this.d.cache.putAttachment(key.namespace, key.name, undefined);
      const report = await this.d.sync();
      if (report.failed > 0)
        this.d.log.warn({ errors: report.errors }, 'DEL: sync reported errors (next sync retries)');
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

  private async requireSynced(p: Promise<SyncReport>, rec: AttachmentRecord): Promise<void> {
    const report = await p;
    const mine = report.errors.filter((e) => e.netns === rec.netns || e.op.includes(rec.ifName));
    if (report.failed > 0 && (mine.length > 0 || report.errors.length === report.failed)) {
      const first = (mine[0] ?? report.errors[0])!;
      throw new CniError(
        ErrorCode.AgentInternal,
        'dataplane programming failed',
        `${first.netns}: ${first.op}: ${first.message}`,
      );
    }
  }

  private result(rec: AttachmentRecord, ranges: readonly string[]): CniResult100 {
    const has6 = rec.ips.some((a) => isIP(a) === 6);
    const has4 = rec.ips.some((a) => isIP(a) === 4);
    const routes = ranges
      .filter((r) => (r.includes(':') ? has6 : has4))
      .map((dst) => ({ dst, gw: dst.includes(':') ? GATEWAY_V6 : GATEWAY_V4 }));
    if (rec.defaultRoute) {
      if (has4) routes.push({ dst: '0.0.0.0/0', gw: GATEWAY_V4 });
      if (has6) routes.push({ dst: '::/0', gw: GATEWAY_V6 });
    }
    return {
      cniVersion: '1.1.0',
      interfaces: [{ name: rec.ifName, mac: rec.mac, sandbox: rec.netns }],
      ips: rec.ips.map((a) => ({
        address: `${a}/${isIP(a) === 6 ? 128 : 32}`,
        gateway: isIP(a) === 6 ? GATEWAY_V6 : GATEWAY_V4,
        interface: 0,
      })),
      routes,
    };
  }
}

/** Store key of the attachment record of (container, interface), in the pod's namespace. */
function attachmentKey(
  req: CniRequest,
  podNamespace: string,
): { kind: string; namespace: string; name: string } {
  return {
    kind: KIND_ATTACHMENT,
    namespace: podNamespace,
    name: attachmentName(req.containerId, req.ifName),
  };
}

function requestedIps(req: CniRequest): string[] {
  const rc = req.netConf.runtimeConfig?.ips;
  const fromRc = Array.isArray(rc) ? rc.filter((x): x is string => typeof x === 'string') : [];
  const fromArgs = req.args.IP ? req.args.IP.split(',') : [];
  return [...fromRc, ...fromArgs].map((s) => s.split('/')[0]!.trim()).filter(Boolean);
}

function wantsDefaultRoute(req: CniRequest): boolean {
  const gw = req.netConf.runtimeConfig?.['default-route'] ?? req.args.MULTINET_DEFAULT_ROUTE;
  return gw === true || gw === 'true' || (Array.isArray(gw) && gw.length > 0);
}
