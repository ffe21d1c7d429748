// An in-memory CniHandler for tests and benchmarks: keeps attachments in a map, allocates from a
// fake /24, can be told to fail or stall, and records every request it saw.
import { CniError, ErrorCode } from '../cni/spec.js';
import type { CniCallContext, CniCommand, CniHandler, CniRequest, CniResult100 } from '../cni/protocol.js';

export interface FakeAttachment {
  req: CniRequest;
  result: CniResult100;
}

export interface FakeCniHandlerOptions {
  /** Runs inside ADD before it succeeds (e.g. create the link in the netns); a throw fails the ADD. */
  onAdd?: (req: CniRequest) => Promise<void>;
  /** Runs inside DEL for an existing attachment. */
  onDel?: (req: CniRequest) => Promise<void>;
  /** Delay every answer by this many ms (timeouts, benchmarks). */
  delayMs?: number;
}

export class FakeCniHandler implements CniHandler {
  readonly attachments = new Map<string, FakeAttachment>();
  readonly calls: CniRequest[] = [];
  /** STATUS answers 50 while false. */
  available = true;
  private readonly failures = new Map<CniCommand, CniError | Error>();
  private nextHost = 2;

  constructor(private readonly opts: FakeCniHandlerOptions = {}) {}

  /** The next request of this command throws `err`. */
  failNext(command: CniCommand, err: CniError | Error): void {
    this.failures.set(command, err);
  }

  static key(containerId: string, ifName: string): string {
    return `${containerId}/${ifName}`;
  }

  private async enter(req: CniRequest): Promise<void> {
    this.calls.push(req);
    if (this.opts.delayMs) await new Promise((r) => setTimeout(r, this.opts.delayMs));
    const f = this.failures.get(req.command);
    if (f) {
      this.failures.delete(req.command);
      throw f;
    }
  }

  async add(req: CniRequest, _ctx: CniCallContext): Promise<CniResult100> {
    await this.enter(req);
    const key = FakeCniHandler.key(req.containerId, req.ifName);
    const existing = this.attachments.get(key);
    if (existing) return existing.result;
    const ips =
      req.ipamResult?.ips ??
      (req.ipam === 'none' ? [] : [{ address: `10.99.0.${this.nextHost++}/24`, gateway: '10.99.0.1' }]);
    const result: CniResult100 = {
      cniVersion: '1.1.0',
      interfaces: [{ name: req.ifName, mac: '02:00:00:00:00:01', sandbox: req.netns }],
      ips: ips.map((ip) => ({ ...ip, interface: 0 })),
      routes: req.ipamResult?.routes ?? [],
      dns: req.ipamResult?.dns ?? {},
    };
    await this.opts.onAdd?.(req);
    this.attachments.set(key, { req, result });
    return result;
  }

  async del(req: CniRequest, _ctx: CniCallContext): Promise<void> {
    await this.enter(req);
    const key = FakeCniHandler.key(req.containerId, req.ifName);
    if (this.attachments.has(key)) await this.opts.onDel?.(req);
    this.attachments.delete(key);
  }

  async check(req: CniRequest, _ctx: CniCallContext): Promise<void> {
    await this.enter(req);
    const a = this.attachments.get(FakeCniHandler.key(req.containerId, req.ifName));
    if (!a)
      throw new CniError(
        ErrorCode.ContainerUnknown,
        'attachment unknown',
        `${req.containerId} ${req.ifName}`,
      );
    const want = a.result.ips?.map((i) => i.address) ?? [];
    const have = new Set(req.netConf.prevResult?.ips?.map((i) => i.address));
    const lost = want.filter((w) => !have.has(w));
    if (lost.length)
      throw new CniError(
        ErrorCode.AgentInternal,
        'prevResult does not list the attachment addresses',
        lost.join(', '),
      );
  }

  async status(req: CniRequest, _ctx: CniCallContext): Promise<void> {
    await this.enter(req);
    if (!this.available)
      throw new CniError(
        ErrorCode.PluginNotAvailable,
        'plugin not available',
        'fake agent told to be unavailable',
      );
  }

  async gc(req: CniRequest, _ctx: CniCallContext): Promise<void> {
    await this.enter(req);
    const valid = new Set(
      (req.validAttachments ?? []).map((a) => FakeCniHandler.key(a.containerId, a.ifName)),
    );
    for (const [key, a] of this.attachments)
      if (a.req.netConf.name === req.netConf.name && !valid.has(key)) this.attachments.delete(key);
  }
}
