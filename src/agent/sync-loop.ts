// Serialises dataplane syncs and coalesces requests: every caller gets a sync that started after
// its request, and any number of requests made during a running sync share the next one.
export class SyncLoop<R> {
  private running = false;
  private queued: { promise: Promise<R>; resolve: (r: R) => void; reject: (e: unknown) => void } | undefined;

  constructor(private readonly doSync: () => Promise<R>) {}

  request(): Promise<R> {
    if (this.queued) return this.queued.promise;
    {
      let resolve!: (r: R) => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<R>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.queued = { promise, resolve, reject };
      void this.kick();
      return promise;
    }
  }

  get busy(): boolean {
    return this.running || this.queued !== undefined;
  }

  private async kick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queued) {
        const d = this.queued;
        this.queued = undefined;
        try {
          d.resolve(await this.doSync());
        } catch (e) {
          d.reject(e);
        }
      }
    } finally {
      this.running = false;
    }
  }
}
