// What the CNI server is given instead of the agent's handler: while the agent is not ready (store
// not reached yet, first list not done, or the watch lost and not re-listed), every call is answered
// at once with the spec's code 11 "Try again later" (STATUS: 50, "plugin not available", as the
// spec's STATUS section asks) instead of acting on a cache that may be stale. The runtime retries.
import { CniError, ErrorCode } from '../cni/spec.js';
import { isStoreError } from '../store/types.js';
import type { CniCallContext, CniHandler, CniRequest, CniResult100 } from '../cni/protocol.js';

export class ReadyGate implements CniHandler {
  private why: string | undefined;

  constructor(
    private readonly inner: CniHandler,
    initialReason = 'the agent is starting',
  ) {
    this.why = initialReason;
  }

  get ready(): boolean {
    return this.why === undefined;
  }

  /** Why calls are refused now; undefined when ready. */
  get reason(): string | undefined {
    return this.why;
  }

  open(): void {
    this.why = undefined;
  }

  close(reason: string): void {
    this.why = reason;
  }

  add(req: CniRequest, ctx: CniCallContext): Promise<CniResult100> {
    return this.pass(() => this.inner.add(req, ctx));
  }

  del(req: CniRequest, ctx: CniCallContext): Promise<void> {
    return this.pass(() => this.inner.del(req, ctx));
  }

  check(req: CniRequest, ctx: CniCallContext): Promise<void> {
    return this.pass(() => this.inner.check(req, ctx));
  }

  gc(req: CniRequest, ctx: CniCallContext): Promise<void> {
    return this.pass(() => this.inner.gc(req, ctx));
  }

  async status(req: CniRequest, ctx: CniCallContext): Promise<void> {
    if (this.why !== undefined)
      throw new CniError(ErrorCode.PluginNotAvailable, 'multinet agent is not ready', this.why);
    return this.inner.status(req, ctx);
  }

  private async pass<R>(call: () => Promise<R>): Promise<R> {
    if (this.why !== undefined)
      throw new CniError(ErrorCode.TryAgainLater, 'multinet agent is not ready; try again later', this.why);
    try {
      return await call();
    } catch (e) {
      // The store went away during the call (before the watch noticed): transient, not a failure.
      if (isStoreError(e, 'Unavailable'))
        throw new CniError(
          ErrorCode.TryAgainLater,
          'datastore unavailable; try again later',
          (e as Error).message,
        );
      throw e;
    }
  }
}
