// What the agent's health endpoints decide (served by health-server.ts): readiness ("give me CNI
// work": in sync with the store and the socket answers) and liveness ("restart me": the sync loop is
// wedged). Pure over a snapshot of the agent, so the rules are tested without an agent.
// Liveness is deliberately narrow: a store outage is normal (the agent waits, the dataplane stays),
// and a restart would only drop the warm cache, so nothing store-related ever fails it.

/** A snapshot of the agent, as the health endpoints read it. */
export interface HealthState {
  /** The first dataplane sync after the first store list is done. */
  readonly firstSyncDone: boolean;
  /** Why CNI calls are answered "try again later" now (the ReadyGate); undefined when served. */
  readonly cniRefusal: string | undefined;
  readonly watch: {
    readonly connected: boolean;
    /** Consecutive failed list/watch attempts of the ongoing outage. */
    readonly failures: number;
    readonly lastError?: string;
    /** Time since the last event, list or bookmark; undefined before the first list. */
    readonly staleMs?: number;
  };
  /** When the sync loop last finished a pass (ms since the epoch). */
  readonly lastSyncAt: number | undefined;
  /** When the pass running now started; undefined when idle. */
  readonly syncRunningSince: number | undefined;
  readonly syncs: number;
  /** The full resync interval (0 = none). */
  readonly resyncMs: number;
  /** Attachment records of this node. */
  readonly attachments: number;
  /** The CNI socket; undefined when the agent serves none. */
  readonly socketPath: string | undefined;
}

/** The agent as the health server sees it (Agent implements it; tests give a fake). */
export interface HealthSource {
  healthState(): HealthState;
  /** True when the CNI socket accepts a connection now. */
  cniSocketAnswers(): Promise<boolean>;
}

export interface Check {
  readonly name: string;
  /** undefined = passed. */
  readonly failure: string | undefined;
}

export function readinessChecks(s: HealthState, socketAnswers: boolean): Check[] {
  const w = s.watch;
  const checks: Check[] = [
    {
      name: 'first-sync',
      failure: s.firstSyncDone ? undefined : `first sync not done (${s.cniRefusal ?? 'starting'})`,
    },
    {
      name: 'store-watch',
      failure: w.connected
        ? undefined
        : w.failures > 0
          ? `store watch lost (${w.failures} failure${w.failures === 1 ? '' : 's'}): ${w.lastError ?? 'unknown error'}`
          : 'store watch not connected yet',
    },
    // Open only after a re-list replaced the cache: a moment later than the watch reconnecting.
    {
      name: 'cni-gate',
      failure: s.cniRefusal === undefined ? undefined : `CNI calls refused: ${s.cniRefusal}`,
    },
  ];
  if (s.socketPath !== undefined)
    checks.push({
      name: 'cni-socket',
      failure: socketAnswers ? undefined : `CNI socket ${s.socketPath} does not answer`,
    });
  return checks;
}

/**
 * How long the sync loop may go without finishing a pass before the agent counts as wedged: far
 * beyond the resync interval (a slow kernel is not a dead one), and never under 5 minutes.
 */
export function stuckAfterMs(resyncMs: number): number {
  return Math.max(10 * resyncMs, 300_000);
}

export function livenessChecks(s: HealthState, now: number): Check[] {
  const limit = stuckAfterMs(s.resyncMs);
  let failure: string | undefined;
  // Only judged while the store answers: during an outage a stall could be the outage's doing.
  if (s.watch.connected) {
    const running = s.syncRunningSince === undefined ? 0 : now - s.syncRunningSince;
    const idle = s.lastSyncAt === undefined ? 0 : now - s.lastSyncAt;
    if (running > limit) failure = `a sync pass has been running for ${secs(running)} s`;
    // Idle: a resync timer fires every resyncMs, so no pass for this long means the loop is gone.
    else if (s.syncRunningSince === undefined && s.firstSyncDone && s.resyncMs > 0 && idle > limit)
      failure = `no sync pass finished for ${secs(idle)} s (full resync every ${secs(s.resyncMs)} s)`;
  }
  // The event loop needs no check of its own: a blocked loop answers no request at all.
  return [{ name: 'sync-loop', failure }];
}

/** The one-line answer: `ok`, or the first failure prefixed. */
export function summary(checks: readonly Check[], prefix: string): string {
  const bad = checks.find((c) => c.failure !== undefined);
  return bad ? `${prefix}: ${bad.failure}` : 'ok';
}

/** `?verbose`: one line per check (`[+]name ok` / `[-]name failed: why`), then the summary. */
export function verbose(checks: readonly Check[], prefix: string): string {
  const lines = checks.map((c) =>
    c.failure === undefined ? `[+]${c.name} ok` : `[-]${c.name} failed: ${c.failure}`,
  );
  return [...lines, summary(checks, prefix)].join('\n');
}

function secs(ms: number): number {
  return Math.round(ms / 1000);
}
