// Address pools: plain input types, their validation, and the compiled form the allocator walks.
// Addresses are bigints so IPv4 and IPv6 share one code path (ipaddr.js parses and prints them).
import ipaddr from 'ipaddr.js';

/** One range of a network's pool (Whereabouts: range, range_start, range_end, exclude). */
export interface IpRange {
  /** CIDR, e.g. "10.1.0.0/16" or "fd00:1::/64". */
  readonly range: string;
  /** First address that may be handed out (inclusive; default: first host address). */
  readonly rangeStart?: string;
  /** Last address that may be handed out (inclusive; default: last host address). */
  readonly rangeEnd?: string;
  /** CIDRs never handed out (a single address is a /32 or /128). */
  readonly exclude?: readonly string[];
}

/** A network's pool. Ranges of one IP family form one pool; IPv4 plus IPv6 ranges give dual stack. */
export interface IpPool {
  readonly network: string;
  readonly ranges: readonly IpRange[];
}

export type Family = 4 | 6;

export class IpamError extends Error {
  constructor(
    readonly code: 'InvalidPool' | 'InvalidRequest' | 'PoolExhausted' | 'AddressInUse',
    message: string,
  ) {
    super(message);
    this.name = `${code}Error`;
  }
}

/** A contiguous block of assignable addresses (network/broadcast already removed). */
export interface Segment {
  readonly rangeIndex: number;
  readonly prefixLength: number;
  /** Network address and last address of the range's CIDR (for containment checks). */
  readonly cidrFirst: bigint;
  readonly cidrLast: bigint;
  readonly first: bigint;
  readonly last: bigint;
  /** Merged, sorted excluded intervals clipped to [first, last]. */
  readonly excludes: ReadonlyArray<readonly [bigint, bigint]>;
}

export interface FamilyPool {
  readonly family: Family;
  readonly segments: readonly Segment[];
  /** Positions in the concatenated segments (excluded addresses included). */
  readonly span: bigint;
  /** Assignable addresses (excluded ones removed). */
  readonly size: bigint;
}

export interface CompiledPool {
  readonly network: string;
  readonly families: ReadonlyMap<Family, FamilyPool>;
}

const NETWORK_RE = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export function validateNetworkName(network: string): void {
  if (typeof network !== 'string' || !NETWORK_RE.test(network)) {
    throw new IpamError(
      'InvalidRequest',
      `network ${JSON.stringify(network)}: must be a DNS-style name (lower-case letters, digits, '-', '.')`,
    );
  }
}

export function familyOf(a: ipaddr.IPv4 | ipaddr.IPv6): Family {
  return a.kind() === 'ipv4' ? 4 : 6;
}

export function toBigInt(a: ipaddr.IPv4 | ipaddr.IPv6): bigint {
  let n = 0n;
  for (const b of a.toByteArray()) n = (n << 8n) | BigInt(b);
  return n;
}

export function fromBigInt(n: bigint, family: Family): string {
  const len = family === 4 ? 4 : 16;
  const bytes: number[] = new Array<number>(len);
  for (let i = len - 1; i >= 0; i--) {
    bytes[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return ipaddr.fromByteArray(bytes).toString();
}

/** Parses an address (no prefix) or throws naming the field. */
export function parseAddress(s: unknown, field: string): { family: Family; value: bigint } {
  if (typeof s !== 'string' || !ipaddr.isValid(s) || s.includes('/')) {
    throw new IpamError('InvalidPool', `${field}: ${JSON.stringify(s)} is not an IP address`);
  }
  const a = ipaddr.parse(s);
  // "::ffff:1.2.3.4" is an IPv6 address to ipaddr.js; keep it so, but never mix it with IPv4 ranges.
  return { family: familyOf(a), value: toBigInt(a) };
}

export function parseCidr(
  s: unknown,
  field: string,
): { family: Family; first: bigint; last: bigint; prefixLength: number } {
  if (typeof s !== 'string')
    throw new IpamError('InvalidPool', `${field}: ${JSON.stringify(s)} is not a CIDR`);
  let parsed: [ipaddr.IPv4 | ipaddr.IPv6, number];
  try {
    parsed = ipaddr.parseCIDR(s);
  } catch {
    throw new IpamError(
      'InvalidPool',
      `${field}: ${JSON.stringify(s)} is not a CIDR (expected e.g. 10.1.0.0/24 or fd00::/64)`,
    );
  }
  const [addr, prefixLength] = parsed;
  const family = familyOf(addr);
  const bits = family === 4 ? 32 : 128;
  const hostBits = BigInt(bits - prefixLength);
  const first = (toBigInt(addr) >> hostBits) << hostBits;
  return { family, first, last: first + (1n << hostBits) - 1n, prefixLength };
}

/** Validates a pool and compiles it; every error names the network and the field. */
export function compilePool(pool: IpPool): CompiledPool {
  validateNetworkName(pool?.network);
  const where = `network ${JSON.stringify(pool.network)}`;
  if (!Array.isArray(pool.ranges) || pool.ranges.length === 0) {
    throw new IpamError('InvalidPool', `${where}: ranges: at least one range is required`);
  }
  const byFamily = new Map<Family, Segment[]>();
  pool.ranges.forEach((r, i) => {
    const f = `${where}: ranges[${i}]`;
    if (typeof r !== 'object' || r === null) throw new IpamError('InvalidPool', `${f}: must be an object`);
    const c = parseCidr(r.range, `${f}.range`);
    const bits = c.family === 4 ? 32 : 128;
    // Network and (IPv4) broadcast addresses are never handed out, except in /31, /32 (RFC 3021),
    // /127 and /128, where every address is a host address.
    const pointToPoint = c.prefixLength >= bits - 1;
    let first = pointToPoint ? c.first : c.first + 1n;
    let last = pointToPoint || c.family === 6 ? c.last : c.last - 1n;
    const bound = (v: string | undefined, name: string): bigint | undefined => {
      if (v === undefined) return undefined;
      const a = parseAddress(v, `${f}.${name}`);
      if (a.family !== c.family || a.value < first || a.value > last) {
        throw new IpamError('InvalidPool', `${f}.${name}: ${v} is not a host address of ${r.range}`);
      }
      return a.value;
    };
    const start = bound(r.rangeStart, 'rangeStart');
    const end = bound(r.rangeEnd, 'rangeEnd');
    first = start ?? first;
    last = end ?? last;
    if (first > last)
      throw new IpamError('InvalidPool', `${f}: rangeStart ${r.rangeStart} is after rangeEnd ${r.rangeEnd}`);
    if (r.exclude !== undefined && !Array.isArray(r.exclude)) {
      throw new IpamError('InvalidPool', `${f}.exclude: must be a list of CIDRs`);
    }
    const ex: Array<[bigint, bigint]> = [];
    const excludes: readonly string[] = r.exclude ?? [];
    excludes.forEach((e, j) => {
      const x = parseCidr(e, `${f}.exclude[${j}]`);
      if (x.family !== c.family)
        throw new IpamError(
          'InvalidPool',
          `${f}.exclude[${j}]: ${e} is not the same IP family as ${r.range}`,
        );
      const lo = x.first > first ? x.first : first;
      const hi = x.last < last ? x.last : last;
      if (lo <= hi) ex.push([lo, hi]);
    });
    ex.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const merged: Array<[bigint, bigint]> = [];
    for (const [lo, hi] of ex) {
      const top = merged[merged.length - 1];
      if (top && lo <= top[1] + 1n) top[1] = hi > top[1] ? hi : top[1];
      else merged.push([lo, hi]);
    }
    const segs = byFamily.get(c.family) ?? [];
    for (const s of segs) {
      if (first <= s.last && s.first <= last) {
        throw new IpamError('InvalidPool', `${f}.range: ${r.range} overlaps ranges[${s.rangeIndex}]`);
      }
    }
    segs.push({
      rangeIndex: i,
      prefixLength: c.prefixLength,
      cidrFirst: c.first,
      cidrLast: c.last,
      first,
      last,
      excludes: merged,
    });
    byFamily.set(c.family, segs);
  });
  const families = new Map<Family, FamilyPool>();
  for (const [family, segments] of byFamily) {
    let span = 0n;
    let size = 0n;
    for (const s of segments) {
      const n = s.last - s.first + 1n;
      span += n;
      size += n - s.excludes.reduce((acc, [lo, hi]) => acc + hi - lo + 1n, 0n);
    }
    if (size === 0n) throw new IpamError('InvalidPool', `${where}: every IPv${family} address is excluded`);
    families.set(family, { family, segments, span, size });
  }
  return { network: pool.network, families };
}

/** The segment holding an assignable address, or undefined (outside, excluded, network/broadcast). */
export function segmentOf(fp: FamilyPool, value: bigint): Segment | undefined {
  for (const s of fp.segments) {
    if (value < s.first || value > s.last) continue;
    if (s.excludes.some(([lo, hi]) => value >= lo && value <= hi)) return undefined;
    return s;
  }
  return undefined;
}

/** Address at a position of the concatenated segments. */
export function addressAt(fp: FamilyPool, pos: bigint): { value: bigint; segment: Segment } {
  let p = pos;
  for (const s of fp.segments) {
    const n = s.last - s.first + 1n;
    if (p < n) return { value: s.first + p, segment: s };
    p -= n;
  }
  throw new Error(`position ${pos} outside the pool`);
}

/** If value is excluded, the position just after its excluded interval; else undefined. */
export function skipExcluded(fp: FamilyPool, pos: bigint): bigint | undefined {
  const { value, segment } = addressAt(fp, pos);
  for (const [lo, hi] of segment.excludes) {
    if (value >= lo && value <= hi) return pos + (hi - value) + 1n;
  }
  return undefined;
}
