// Canonical address forms, so what `ip -json` prints and what the desired state says compare equal.
import ipaddr from 'ipaddr.js';

export type Family = 4 | 6;

/**
 * Remember results of a pure string function: a sync of a 1000-pod node parses the same few
 * thousand addresses each time, and ipaddr.js parsing (exceptions for the wrong family) dominated
 * the expansion. Bounded: cleared when full. Errors are not cached (they throw again).
 */
function memo<R>(fn: (s: string) => R): (s: string) => R {
  const m = new Map<string, R>();
  return (s) => {
    let r = m.get(s);
    if (r === undefined && !m.has(s)) {
      r = fn(s);
      if (m.size >= 50_000) m.clear();
      m.set(s, r);
    }
    return r as R;
  };
}

export const isIp = memo((s: string): boolean => ipaddr.isValid(s) && !s.includes('/'));

export const familyOf = memo((ip: string): Family =>
  ipaddr.parse(ip.split('/')[0] ?? ip).kind() === 'ipv4' ? 4 : 6,
);

/** Canonical text of an address (RFC 5952 for IPv6). */
export const canonIp = memo((ip: string): string => {
  const a = ipaddr.parse(ip);
  return a.kind() === 'ipv6' ? (a as ipaddr.IPv6).toRFC5952String() : a.toString();
});

/** Canonical CIDR with the host bits cleared: `10.50.1.2/16` -> `10.50.0.0/16`. */
export const canonCidr = memo(canonCidrRaw);
function canonCidrRaw(cidr: string): string {
  const [a, len] = ipaddr.parseCIDR(cidr);
  const net =
    a.kind() === 'ipv4'
      ? ipaddr.IPv4.networkAddressFromCIDR(`${a.toString()}/${len}`)
      : ipaddr.IPv6.networkAddressFromCIDR(`${(a as ipaddr.IPv6).toRFC5952String()}/${len}`);
  return `${net.kind() === 'ipv6' ? (net as ipaddr.IPv6).toRFC5952String() : net.toString()}/${len}`;
}

export const isCidr = memo((s: string): boolean => s.includes('/') && ipaddr.isValidCIDR(s));

/** `/32` or `/128` host CIDR of an address. */
export function hostCidr(ip: string): string {
  return `${canonIp(ip)}/${familyOf(ip) === 4 ? 32 : 128}`;
}

/** `ip -json route` dst field (`default`, `10.1.2.3`, `10.0.0.0/8`) -> canonical CIDR. */
export function routeDst(dst: string, family: Family): string {
  if (dst === 'default') return family === 4 ? '0.0.0.0/0' : '::/0';
  return dst.includes('/') ? canonCidr(dst) : hostCidr(dst);
}

export function defaultDst(family: Family): string {
  return family === 4 ? '0.0.0.0/0' : '::/0';
}
