// The nftables part of a node's desired state: per routing-domain namespace, the tables that the
// services and policies layers own. Static chains and set/map declarations form the table's
// skeleton; services, endpoints and policy members are elements of sets and maps, so that the
// kernel's cost does not grow with their number and one change writes one element.

export type NftFamily = 'ip' | 'ip6' | 'inet';

export interface NftTableSpec {
  readonly family: NftFamily;
  /** Table name; always starts with `mn` (ownership mark): `mnsvc`, `mnpol`. */
  readonly name: string;
  /**
   * Everything but the elements, as the body of `table <family> <name> { ... }` in nft syntax:
   * chains with their rules, and set/map declarations without elements. Rewritten (delete +
   * create, in the same transaction as its elements) only when it changes.
   */
  readonly skeleton: string;
  /** Elements of each set/map declared in the skeleton, each in nft syntax (`10.96.0.10 . tcp . 80 : 0`). */
  readonly elements: Readonly<Record<string, readonly string[]>>;
}

/** What the nft layer is asked to make true: for each routing namespace, its tables (absent = none). */
export type NftDesired = ReadonlyMap<string, readonly NftTableSpec[]>;

export interface NftSyncReport {
  /** nft processes run (reads + writes). */
  readonly processes: number;
  /** Tables rewritten and elements added/removed. */
  readonly changes: number;
  readonly errors: readonly { readonly netns: string; readonly message: string }[];
  readonly durationMs: number;
}

/** Applies NftDesired; one `nft -f -` per namespace that needs a change. */
export interface NftDataplane {
  /**
   * Makes the tables named in `desired` (and only tables whose name starts with `mn`) match.
   * Namespaces absent from `desired` are not touched. `full` re-reads the kernel instead of
   * trusting what was last written.
   */
  sync(desired: NftDesired, opts?: { readonly full?: boolean }): Promise<NftSyncReport>;
}
