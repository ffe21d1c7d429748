// Whereabouts-style address ranges (`range`, `range_start`, `range_end`, `exclude`, each
// `ipRanges` entry) read as Whereabouts reads them, normalised to canonical text. This is the one
// reader: `multinet validate` and the CNI ADD (through validateNad) both use it, and it refuses
// everything the IPAM's compilePool would refuse, so a NAD that validates can always allocate.
// Whereabouts behaviours followed (k8snetworkplumbingwg/whereabouts):
//   - `range` host bits are masked and the whole network is used (pkg/config/config.go, since v0.4);
//   - `range: "a-b/p"` means range a..b inside the /p network (README "Range end syntax");
//   - `exclude` entries are CIDRs (host bits masked) or bare addresses (pkg/allocate parseExcludedRange);
//   - `range_start`/`range_end` on the network or broadcast address are ignored (pkg/iphelpers GetIPRange);
//   - IPv4 octets with leading zeros are decimal (k8s.io/utils/net ParseIPSloppy, config_test.go).
import ipaddr from 'ipaddr.js';
import type { Cidr } from './cidr.js';
import type { Fields } from './fields.js';
import type { FieldPath } from './issues.js';
import type { IpamRange } from './types.js';

export const RANGE_KEYS = ['range', 'range_start', 'range_end', 'exclude'] as const;

type Ip = { family: 4 | 6; value: bigint; text: string };

const SLOPPY_V4 = /^\d{1,5}(\.\d{1,5}){3}$/;

/**
 * An address as Whereabouts takes it: any IPv6 spelling (upper case, leading zeros, `::0`) and
 * IPv4 with leading zeros read as decimal, as Go's ParseIPSloppy does. Returns canonical text.
 */
export function parseRangeIp(
  s: string,
): { ok: true; ip: Ip; sloppy: boolean } | { ok: false; error: string } {
  const bad = { ok: false as const, error: `"${s}" is not an IP address` };
  if (s.includes(':')) {
    // Zones (`%eth0`) name a link, not an address of a range.
    if (s.includes('%') || !ipaddr.IPv6.isValid(s)) return bad;
    const a = ipaddr.IPv6.parse(s);
    return { ok: true, ip: { family: 6, value: toBig(a.toByteArray()), text: a.toString() }, sloppy: false };
  }
  if (!SLOPPY_V4.test(s)) return bad;
  const octets = s.split('.').map(Number);
  if (octets.some((o) => o > 255)) return bad;
  const text = octets.join('.');
  return { ok: true, ip: { family: 4, value: toBig(octets), text }, sloppy: text !== s };
}

function toBig(bytes: readonly number[]): bigint {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}

function fromBig(n: bigint, family: 4 | 6): string {
  const bytes: number[] = [];
  for (let i = 0; i < (family === 4 ? 4 : 16); i++) {
    bytes.unshift(Number(n & 0xffn));
    n >>= 8n;
  }
  return ipaddr.fromByteArray(bytes).toString();
}

/** A network (host bits masked) with its numeric bounds. */
interface Net {
  cidr: Cidr;
  first: bigint;
  last: bigint;
}

function parseNet(s: string): { ok: true; net: Net; ip: Ip; sloppy: boolean } | { ok: false; error: string } {
  const slash = s.lastIndexOf('/');
  if (slash < 0) return { ok: false, error: `"${s}" is not a CIDR (missing /prefix-length)` };
  const ip = parseRangeIp(s.slice(0, slash));
  if (!ip.ok) return { ok: false, error: `"${s}" is not a CIDR: ${ip.error}` };
  const bits = ip.ip.family === 4 ? 32 : 128;
  const lenText = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > bits)
    return { ok: false, error: `"${s}" has an invalid prefix length (0..${bits})` };
  const len = Number(lenText);
  const host = BigInt(bits - len);
  const first = (ip.ip.value >> host) << host;
  const address = fromBig(first, ip.ip.family);
  return {
    ok: true,
    net: {
      cidr: { family: ip.ip.family, address, prefixLength: len, text: `${address}/${len}` },
      first,
      last: first + (1n << host) - 1n,
    },
    ip: ip.ip,
    sloppy: ip.sloppy,
  };
}

/**
 * The addresses a range may hand out, as compilePool computes them: the network address and the
 * IPv4 broadcast address are never handed out, except in /31, /32, /127 and /128.
 */
export function assignableBounds(r: IpamRange): { first: bigint; last: bigint } {
  const c = parseNet(r.range.text);
  if (!c.ok) throw new Error(`not canonical: ${r.range.text}`);
  const bits = r.range.family === 4 ? 32 : 128;
  const p2p = r.range.prefixLength >= bits - 1;
  const first = r.rangeStart !== undefined ? ipValue(r.rangeStart) : p2p ? c.net.first : c.net.first + 1n;
  const last =
    r.rangeEnd !== undefined
      ? ipValue(r.rangeEnd)
      : p2p || r.range.family === 6
        ? c.net.last
        : c.net.last - 1n;
  return { first, last };
}

function ipValue(s: string): bigint {
  const p = parseRangeIp(s);
  if (!p.ok) throw new Error(p.error);
  return p.ip.value;
}

/** One range (top level of `ipam`, or one `ipRanges` entry). Errors and notes go to `f.sink`. */
export function readIpamRange(
  f: Fields,
  path: FieldPath,
  o: Record<string, unknown>,
  optional: boolean,
): IpamRange | undefined {
  const text = f.string([...path, 'range'], o.range, !optional);
  if (text === undefined) {
    for (const k of ['range_start', 'range_end', 'exclude']) {
      if (o[k] !== undefined) f.sink.error([...path, k], 'needs "range" next to it');
    }
    return undefined;
  }
  const errors = f.sink.errorCount;
  const sloppyNote = (k: string, s: string, canon: string): void =>
    f.sink.note([...path, k], `read "${s}" as ${canon} (leading zeros are decimal, as in Whereabouts)`);

  // `a-b/p`: the range a..b inside network b/p (Whereabouts' "range end syntax").
  const dash = text.indexOf('-');
  const netText = dash >= 0 ? text.slice(dash + 1) : text;
  const c = parseNet(netText);
  if (!c.ok) {
    f.sink.error(
      [...path, 'range'],
      dash >= 0
        ? `"${text}" is not "first-last/prefix": ${c.error}`
        : `${c.error.replace(/^"[^"]*"/, `"${text}"`)}`,
    );
    return undefined;
  }
  const net = c.net;
  const bits = net.cidr.family === 4 ? 32 : 128;
  const p2p = net.cidr.prefixLength >= bits - 1;
  const usableFirst = p2p ? net.first : net.first + 1n;
  const usableLast = p2p || net.cidr.family === 6 ? net.last : net.last - 1n;
  if (c.sloppy) sloppyNote('range', text, net.cidr.text);

  // A bound inside the network; on the network or broadcast address it is dropped, as Whereabouts
  // ignores it there (GetIPRange), rather than refused: the range then starts/ends at its default.
  const bound = (k: string, s: string, ip?: Ip): bigint | undefined => {
    let v = ip;
    if (!v) {
      const p = parseRangeIp(s);
      if (!p.ok) {
        f.sink.error([...path, k], p.error);
        return undefined;
      }
      if (p.sloppy) sloppyNote(k, s, p.ip.text);
      v = p.ip;
    }
    if (v.family !== net.cidr.family || v.value < net.first || v.value > net.last) {
      f.sink.error([...path, k], `${s} is outside range ${net.cidr.text}`);
      return undefined;
    }
    if (v.value < usableFirst || v.value > usableLast) {
      const what = v.value === net.first ? 'network' : 'broadcast';
      f.sink.note(
        [...path, k],
        `${v.text} is the ${what} address of ${net.cidr.text}, never handed out; ignored (as Whereabouts does)`,
      );
      return undefined;
    }
    return v.value;
  };

  let start: bigint | undefined;
  let end: bigint | undefined;
  if (dash >= 0) {
    for (const k of ['range_start', 'range_end'] as const) {
      if (o[k] !== undefined)
        f.sink.error(
          [...path, k],
          `conflicts with range "${text}", which already gives first and last address`,
        );
    }
    start = bound('range', text.slice(0, dash));
    end = bound('range', netText.slice(0, netText.lastIndexOf('/')), c.ip);
  } else {
    const s = f.string([...path, 'range_start'], o.range_start);
    const e = f.string([...path, 'range_end'], o.range_end);
    if (s !== undefined) start = bound('range_start', s);
    if (e !== undefined) end = bound('range_end', e);
    // Host bits in `range` are simply masked: Whereabouts (since v0.4) allocates from the whole
    // network, where we used to take them as a start address.
  }
  if (start !== undefined && end !== undefined && start > end) {
    f.sink.error(
      [...path, dash >= 0 ? 'range' : 'range_end'],
      `${fromBig(end, net.cidr.family)} is before ${dash >= 0 ? 'the first address' : 'range_start'} ${fromBig(start, net.cidr.family)}`,
    );
  }

  const exclude: Cidr[] = [];
  f.list([...path, 'exclude'], o.exclude)?.forEach((x, n) => {
    const p: FieldPath = [...path, 'exclude', n];
    const s = f.string(p, x, true);
    if (s === undefined) return;
    // A bare address excludes that one address (Whereabouts' parseExcludedRange).
    const ec = parseNet(s.includes('/') ? s : `${s}/${s.includes(':') ? 128 : 32}`);
    if (!ec.ok) {
      f.sink.error(p, `"${s}" is not a CIDR or an address`);
      return;
    }
    if (ec.net.cidr.family !== net.cidr.family) {
      f.sink.error(p, `${s} is not the same IP family as range ${net.cidr.text}`);
      return;
    }
    if (ec.sloppy) sloppyNote(`exclude`, s, ec.net.cidr.text);
    if (s.includes('/') && ec.ip.value !== ec.net.first) {
      f.sink.note(p, `${s} has host bits set: it excludes all of ${ec.net.cidr.text}, as in Whereabouts`);
    }
    if (ec.net.last < net.first || ec.net.first > net.last) {
      f.sink.note(p, `${ec.net.cidr.text} is outside range ${net.cidr.text} and excludes nothing`);
    }
    exclude.push(ec.net.cidr);
  });
  if (f.sink.errorCount > errors) return undefined;
  const fam = net.cidr.family;
  return {
    range: net.cidr,
    ...(start !== undefined ? { rangeStart: fromBig(start, fam) } : {}),
    ...(end !== undefined ? { rangeEnd: fromBig(end, fam) } : {}),
    exclude,
  };
}

/** The ranges of an ipam section: `range` (+ its keys) first, then each `ipRanges` entry. */
export function readIpamRanges(f: Fields, path: FieldPath, o: Record<string, unknown>): IpamRange[] {
  const placed: Array<{ range: IpamRange; path: FieldPath }> = [];
  const top = readIpamRange(f, path, o, true);
  if (top) placed.push({ range: top, path });
  f.list([...path, 'ipRanges'], o.ipRanges)?.forEach((r, n) => {
    const rp: FieldPath = [...path, 'ipRanges', n];
    const ro = f.object(rp, r, true);
    if (!ro) return;
    f.onlyFields(rp, ro, RANGE_KEYS);
    const rr = readIpamRange(f, rp, ro, false);
    if (rr) placed.push({ range: rr, path: rp });
  });
  checkIpamRanges(f, placed);
  return placed.map((p) => p.range);
}

/**
 * Checks across the ranges of one ipam section, as compilePool does: ranges of one family may not
 * overlap (one pool per family), and a family must keep at least one assignable address.
 */
export function checkIpamRanges(
  f: Fields,
  ranges: ReadonlyArray<{ range: IpamRange; path: FieldPath }>,
): void {
  const seen: Array<{ family: 4 | 6; first: bigint; last: bigint; path: FieldPath; text: string }> = [];
  const size = new Map<4 | 6, { n: bigint; path: FieldPath }>();
  for (const { range: r, path } of ranges) {
    const { first, last } = assignableBounds(r);
    const fam = r.range.family;
    const clash = seen.find((s) => s.family === fam && first <= s.last && s.first <= last);
    if (clash) {
      f.sink.error(
        [...path, 'range'],
        `${r.range.text} overlaps ${formatRangePath(clash.path)} ${clash.text} (ranges of one IP family form one pool)`,
      );
    }
    seen.push({ family: fam, first, last, path, text: r.range.text });
    const ex = mergedExcluded(r, first, last);
    const prev = size.get(fam);
    size.set(fam, { n: (prev?.n ?? 0n) + (last - first + 1n - ex), path: prev?.path ?? path });
  }
  for (const [fam, { n, path }] of size) {
    if (n === 0n) f.sink.error([...path, 'exclude'], `every IPv${fam} address of the range is excluded`);
  }
}

function mergedExcluded(r: IpamRange, first: bigint, last: bigint): bigint {
  const iv: Array<[bigint, bigint]> = [];
  for (const e of r.exclude) {
    const n = parseNet(e.text);
    if (!n.ok) continue;
    const lo = n.net.first > first ? n.net.first : first;
    const hi = n.net.last < last ? n.net.last : last;
    if (lo <= hi) iv.push([lo, hi]);
  }
  iv.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  let total = 0n;
  let cur: [bigint, bigint] | undefined;
  for (const [lo, hi] of iv) {
    if (cur && lo <= cur[1] + 1n) cur[1] = hi > cur[1] ? hi : cur[1];
    else {
      if (cur) total += cur[1] - cur[0] + 1n;
      cur = [lo, hi];
    }
  }
  if (cur) total += cur[1] - cur[0] + 1n;
  return total;
}

function formatRangePath(p: FieldPath): string {
  const i = p.indexOf('ipRanges');
  return i >= 0 ? `ipRanges[${String(p[i + 1])}]` : 'range';
}
