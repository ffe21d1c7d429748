// CIDR and IP parsing with normalisation (ipaddr.js does the address syntax).
import ipaddr from 'ipaddr.js';

export interface Cidr {
  readonly family: 4 | 6;
  /** Network address in canonical text form (IPv6 compressed). */
  readonly address: string;
  readonly prefixLength: number;
  /** `address/prefixLength`, canonical. */
  readonly text: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const IPV4_STRICT = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** Parses an IP address; IPv4 must be four decimal octets (ipaddr.js alone accepts `0x7f.1`). */
export function parseIp(s: string): Parsed<{ family: 4 | 6; text: string; bytes: number[] }> {
  if (typeof s !== 'string' || s.trim() !== s || s === '')
    return { ok: false, error: `"${s}" is not an IP address` };
  if (s.includes(':')) {
    if (!ipaddr.IPv6.isValid(s) || s.includes('%'))
      return { ok: false, error: `"${s}" is not an IP address` };
    const a = ipaddr.IPv6.parse(s);
    return { ok: true, value: { family: 6, text: a.toString(), bytes: a.toByteArray() } };
  }
  if (!IPV4_STRICT.test(s)) return { ok: false, error: `"${s}" is not an IP address` };
  const a = ipaddr.IPv4.parse(s);
  return { ok: true, value: { family: 4, text: a.toString(), bytes: a.toByteArray() } };
}

/**
 * Parses `addr/len`. With `strict`, host bits set is an error that names the normalised form
 * (Calico and Kubernetes also reject `10.0.0.1/8` for a range); otherwise they are masked off.
 */
export function parseCidr(s: string, strict = true): Parsed<Cidr> {
  if (typeof s !== 'string') return { ok: false, error: 'must be a CIDR string' };
  const slash = s.indexOf('/');
  if (slash < 0) return { ok: false, error: `"${s}" is not a CIDR (missing /prefix-length)` };
  const ip = parseIp(s.slice(0, slash));
  if (!ip.ok) return { ok: false, error: `"${s}" is not a CIDR: ${ip.error}` };
  const lenText = s.slice(slash + 1);
  const max = ip.value.family === 4 ? 32 : 128;
  if (!/^(0|[1-9]\d{0,2})$/.test(lenText) || Number(lenText) > max) {
    return { ok: false, error: `"${s}" has an invalid prefix length (0..${max})` };
  }
  const prefixLength = Number(lenText);
  const masked = maskBytes(ip.value.bytes, prefixLength);
  const address = bytesToText(masked, ip.value.family);
  const cidr: Cidr = { family: ip.value.family, address, prefixLength, text: `${address}/${prefixLength}` };
  if (strict && masked.some((b, i) => b !== ip.value.bytes[i])) {
    return { ok: false, error: `"${s}" has host bits set; did you mean "${cidr.text}"?` };
  }
  return { ok: true, value: cidr };
}

/** True when the two prefixes share at least one address. */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  const len = Math.min(a.prefixLength, b.prefixLength);
  const ab = maskBytes(toBytes(a.address), len);
  const bb = maskBytes(toBytes(b.address), len);
  return ab.every((x, i) => x === bb[i]);
}

/** True when `inner` lies entirely within `outer`. */
export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  return (
    outer.family === inner.family && outer.prefixLength <= inner.prefixLength && cidrsOverlap(outer, inner)
  );
}

/** True when the address (any family) is inside the CIDR. */
export function cidrContainsIp(c: Cidr, ip: string): boolean {
  const p = parseIp(ip);
  if (!p.ok || p.value.family !== c.family) return false;
  return cidrContains(c, {
    family: c.family,
    address: p.value.text,
    prefixLength: c.family === 4 ? 32 : 128,
    text: '',
  });
}

function toBytes(addr: string): number[] {
  return ipaddr.parse(addr).toByteArray();
}

function maskBytes(bytes: readonly number[], len: number): number[] {
  return bytes.map((b, i) => {
    const bits = Math.max(0, Math.min(8, len - i * 8));
    return bits === 0 ? 0 : b & ((0xff << (8 - bits)) & 0xff);
  });
}

function bytesToText(bytes: number[], family: 4 | 6): string {
  return family === 4 ? new ipaddr.IPv4(bytes).toString() : new ipaddr.IPv6(bytes).toString();
}
