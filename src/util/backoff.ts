// Capped, jittered exponential backoff for retrying a dependency that is down (the store). Jitter
// spreads the retries of many agents over time, so a recovering store is not hit by all at once.

export interface BackoffPolicy {
  /** First delay in ms (default 500). */
  readonly initialMs?: number;
  /** Ceiling of the delay in ms (default 30 000). */
  readonly maxMs?: number;
  /** Growth per failure (default 2). */
  readonly factor?: number;
  /** Fraction of the delay that is random: delay in [d*(1-jitter), d] (default 0.5). */
  readonly jitter?: number;
}

export class Backoff {
  private failures = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly factor: number;
  private readonly jitter: number;

  constructor(
    policy: BackoffPolicy = {},
    private readonly random: () => number = Math.random,
  ) {
    this.initialMs = policy.initialMs ?? 500;
    this.maxMs = policy.maxMs ?? 30_000;
    this.factor = policy.factor ?? 2;
    this.jitter = Math.min(1, Math.max(0, policy.jitter ?? 0.5));
  }

  /** Consecutive failures since the last reset. */
  get attempts(): number {
    return this.failures;
  }

  /** Records a failure; returns how long to wait before the next attempt. */
  next(): number {
    const d = Math.min(this.maxMs, this.initialMs * this.factor ** this.failures);
    this.failures++;
    return Math.round(d * (1 - this.jitter * this.random()));
  }

  reset(): void {
    this.failures = 0;
  }
}

/** Waits ms, or less if the signal aborts (then resolves false). */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(ok);
    };
    const onAbort = (): void => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Resolves like p, or with undefined as soon as the signal aborts (p is left to settle alone). */
export function untilAborted<T>(p: Promise<T>, signal?: AbortSignal): Promise<T | undefined> {
  if (!signal) return p;
  if (signal.aborted) {
    p.catch(() => undefined);
    return Promise.resolve(undefined);
  }
  return new Promise<T | undefined>((resolve, reject) => {
    const onAbort = (): void => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) resolve(undefined);
        else reject(e);
      },
    );
  });
}
