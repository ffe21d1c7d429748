// CNI results: one internal form (the 1.x shape) and conversions to and from the versions we
// speak. 0.3.x/0.4.0 differ only by `ips[].version` ("4"/"6") and lack the 1.1.0 extras.
import { isIP } from 'node:net';
import { CniError, ErrorCode, compareVersions } from './spec.js';

export interface CniInterface {
  name: string;
  mac?: string;
  /** 1.1.0 */
  mtu?: number;
  sandbox?: string;
  /** 1.1.0 */
  socketPath?: string;
  /** 1.1.0 */
  pciID?: string;
}

export interface CniIpConfig {
  /** CIDR: address/prefix. */
  address: string;
  gateway?: string;
  /** Index into `interfaces`. */
  interface?: number;
}

export interface CniRoute {
  dst: string;
  gw?: string;
  /** 1.1.0 extras */
  mtu?: number;
  advmss?: number;
  priority?: number;
  table?: number;
  scope?: number;
}

export interface CniDns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

/** A result in the 1.0.0/1.1.0 shape (the form the agent speaks, whatever the runtime asked). */
export interface CniResult100 {
  cniVersion: string;
  interfaces?: CniInterface[];
  ips?: CniIpConfig[];
  routes?: CniRoute[];
  dns?: CniDns;
}

function bad(where: string, why: string): never {
  throw new CniError(ErrorCode.DecodingFailure, 'failed to decode result', `${where}: ${why}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** IP family of "addr/prefix" (4 or 6), or 0 when malformed. */
export function cidrFamily(cidr: string): 4 | 6 | 0 {
  const slash = cidr.indexOf('/');
  if (slash < 0) return 0;
  const fam = isIP(cidr.slice(0, slash));
  const prefix = cidr.slice(slash + 1);
  if (fam === 0 || !/^\d{1,3}$/.test(prefix) || Number(prefix) > (fam === 4 ? 32 : 128)) return 0;
  return fam as 4 | 6;
}

function str(o: Record<string, unknown>, k: string, where: string, required = false): string | undefined {
  const v = o[k];
  if (v === undefined || v === null || (v === '' && !required)) {
    if (required) bad(where, `field "${k}" is required`);
    return undefined;
  }
  if (typeof v !== 'string') bad(where, `field "${k}" must be a string`);
  return v;
}

function num(o: Record<string, unknown>, k: string, where: string): number | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
    bad(where, `field "${k}" must be a non-negative integer`);
  return v;
}

function strList(o: Record<string, unknown>, k: string, where: string): string[] | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string'))
    bad(where, `field "${k}" must be a list of strings`);
  return v as string[];
}

function defined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

/**
 * Reads a result printed by a plugin (or passed as `prevResult`) of version 0.3.0 to 1.1.0 into the
 * 1.x shape. `where` names the source in errors ("prevResult", "ipam plugin static").
 */
export function parseResult(raw: unknown, where: string): CniResult100 {
  if (!isObject(raw)) bad(where, 'must be a JSON object');
  const cniVersion = str(raw, 'cniVersion', where) ?? '1.0.0';
  if (compareVersions(cniVersion, '0.3.0') < 0)
    bad(where, `result version ${cniVersion} is not supported (0.3.0 or later)`);
  const out: CniResult100 = { cniVersion };
  if (raw.interfaces !== undefined && raw.interfaces !== null) {
    if (!Array.isArray(raw.interfaces)) bad(where, 'field "interfaces" must be a list');
    out.interfaces = raw.interfaces.map((i: unknown, n) => {
      const w = `${where}.interfaces[${n}]`;
      if (!isObject(i)) bad(w, 'must be an object');
      return defined({
        name: str(i, 'name', w, true) as string,
        mac: str(i, 'mac', w),
        mtu: num(i, 'mtu', w),
        sandbox: str(i, 'sandbox', w),
        socketPath: str(i, 'socketPath', w),
        pciID: str(i, 'pciID', w),
      });
    });
  }
  if (raw.ips !== undefined && raw.ips !== null) {
    if (!Array.isArray(raw.ips)) bad(where, 'field "ips" must be a list');
    out.ips = raw.ips.map((ip: unknown, n) => {
      const w = `${where}.ips[${n}]`;
      if (!isObject(ip)) bad(w, 'must be an object');
      const address = str(ip, 'address', w, true) as string;
      const fam = cidrFamily(address);
      if (fam === 0) bad(w, `address ${JSON.stringify(address)} is not address/prefix`);
      // 0.3.x/0.4.0 carry a redundant "version"; check it agrees rather than trusting it.
      const version = str(ip, 'version', w);
      if (version !== undefined && version !== String(fam))
        bad(w, `version "${version}" does not match ${address}`);
      const gateway = str(ip, 'gateway', w);
      if (gateway !== undefined && isIP(gateway) !== fam)
        bad(w, `gateway ${JSON.stringify(gateway)} is not an IPv${fam} address`);
      const iface = num(ip, 'interface', w);
      if (iface !== undefined && iface >= (out.interfaces?.length ?? 0))
        bad(w, `interface index ${iface} is out of range`);
      return defined({ address, gateway, interface: iface });
    });
  }
  if (raw.routes !== undefined && raw.routes !== null) {
    if (!Array.isArray(raw.routes)) bad(where, 'field "routes" must be a list');
    out.routes = raw.routes.map((r: unknown, n) => {
      const w = `${where}.routes[${n}]`;
      if (!isObject(r)) bad(w, 'must be an object');
      const dst = str(r, 'dst', w, true) as string;
      if (cidrFamily(dst) === 0) bad(w, `dst ${JSON.stringify(dst)} is not address/prefix`);
      const gw = str(r, 'gw', w);
      if (gw !== undefined && isIP(gw) === 0) bad(w, `gw ${JSON.stringify(gw)} is not an IP address`);
      return defined({
        dst,
        gw,
        mtu: num(r, 'mtu', w),
        advmss: num(r, 'advmss', w),
        priority: num(r, 'priority', w),
        table: num(r, 'table', w),
        scope: num(r, 'scope', w),
      });
    });
  }
  if (raw.dns !== undefined && raw.dns !== null) {
    if (!isObject(raw.dns)) bad(where, 'field "dns" must be an object');
    const w = `${where}.dns`;
    out.dns = defined({
      nameservers: strList(raw.dns, 'nameservers', w),
      domain: str(raw.dns, 'domain', w),
      search: strList(raw.dns, 'search', w),
      options: strList(raw.dns, 'options', w),
    });
  }
  return out;
}

/** The result as printed for `cniVersion` (0.3.0..1.1.0). */
export function formatResult(r: CniResult100, cniVersion: string): Record<string, unknown> {
  const v1 = compareVersions(cniVersion, '1.0.0') >= 0;
  const v11 = compareVersions(cniVersion, '1.1.0') >= 0;
  const out: Record<string, unknown> = { cniVersion };
  if (r.interfaces)
    out.interfaces = r.interfaces.map((i) =>
      v11 ? { ...i } : defined({ name: i.name, mac: i.mac, sandbox: i.sandbox }),
    );
  if (r.ips)
    out.ips = r.ips.map((ip) =>
      v1
        ? defined({ address: ip.address, gateway: ip.gateway, interface: ip.interface })
        : defined({
            version: String(cidrFamily(ip.address)),
            address: ip.address,
            gateway: ip.gateway,
            interface: ip.interface,
          }),
    );
  if (r.routes) out.routes = r.routes.map((rt) => (v11 ? { ...rt } : defined({ dst: rt.dst, gw: rt.gw })));
  // Reference plugins always print "dns": {}; keep it when present so chained plugins see the same.
  if (r.dns) out.dns = { ...r.dns };
  return out;
}

/**
 * Our attachment's result added to the result of earlier plugins of the chain: their interfaces,
 * addresses and routes are kept, ours appended (our `interface` indexes shifted accordingly).
 */
export function mergeResults(prev: CniResult100 | undefined, ours: CniResult100): CniResult100 {
  if (!prev) return ours;
  const base = prev.interfaces?.length ?? 0;
  const dns = ours.dns && Object.keys(ours.dns).length ? ours.dns : prev.dns;
  return defined({
    cniVersion: ours.cniVersion,
    interfaces: [...(prev.interfaces ?? []), ...(ours.interfaces ?? [])],
    ips: [
      ...(prev.ips ?? []),
      ...(ours.ips ?? []).map((ip) =>
        ip.interface === undefined ? ip : { ...ip, interface: ip.interface + base },
      ),
    ],
    routes: [...(prev.routes ?? []), ...(ours.routes ?? [])],
    dns,
  });
}
