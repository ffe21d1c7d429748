// Duplicates and leaks of an IPAM after a crash test, whichever IPAM it is (ours, Whereabouts):
// what the successful ADDs returned (their holders are live) against what the store reserves
// after the cleanup DELs of every ADD that did not succeed. Pure.

export interface Held {
  /** The owner, e.g. containerId@ifName. */
  readonly holder: string;
  readonly address: string;
}

export interface Audit {
  /** Addresses held by more than one holder, across the results and the store. */
  readonly duplicates: readonly string[];
  /** Reserved addresses whose holder is not a live one (a successful ADD not deleted). */
  readonly leaks: readonly Held[];
  /** Live results the store does not reserve for their holder (could be handed out again). */
  readonly lost: readonly Held[];
}

export function audit(live: readonly Held[], reservedRecords: readonly Held[]): Audit {
  // One address may be recorded twice for one holder (Whereabouts: IPPool + overlapping-range reservation).
  const reserved = [...new Map(reservedRecords.map((h) => [`${h.holder} ${h.address}`, h])).values()];
  const holders = new Map<string, Set<string>>();
  for (const h of [...live, ...reserved]) {
    const s = holders.get(h.address) ?? new Set<string>();
    s.add(h.holder);
    holders.set(h.address, s);
  }
  const duplicates = [...holders].filter(([, s]) => s.size > 1).map(([a]) => a);
  const liveHolders = new Set(live.map((h) => h.holder));
  const key = (h: Held): string => `${h.holder} ${h.address}`;
  const stored = new Set(reserved.map(key));
  return {
    duplicates: duplicates.sort(),
    leaks: reserved.filter((h) => !liveHolders.has(h.holder)),
    lost: live.filter((h) => !stored.has(key(h))),
  };
}
