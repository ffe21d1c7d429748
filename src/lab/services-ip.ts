// ClusterIP allocation, the API server's part the lab plays: a Service applied with clusterIP ""
// gets the lowest free address of the lab's service range; an update keeps the address it has; a
// given address must be in the range and not held by another Service. Pure: the caller stores.
import { parseCidr, parseIp } from '../api/cidr.js';
import type { Issue, Service } from '../api/index.js';

const u32 = (b: readonly number[]): number => ((b[0]! << 24) >>> 0) + (b[1]! << 16) + (b[2]! << 8) + b[3]!;
const dotted = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

/**
 * Decides the ClusterIP of each applied Service (`ns/name` -> address; 'None' stays). Services that
 * are stored already (`stored`, decoded) keep theirs. Errors are issues on the Service's spec.clusterIP.
 */
export function assignClusterIPs(
  range: string,
  applied: readonly Service[],
  stored: readonly Service[],
): { ips: Map<string, string>; issues: Issue[] } {
  const cidr = parseCidr(range);
  if (!cidr.ok || cidr.value.family !== 4)
    throw new Error(`lab service range ${range}: must be an IPv4 CIDR`);
  const net = parseIp(cidr.value.address);
  if (!net.ok) throw new Error(`lab service range ${range}: ${net.error}`);
  const base = u32(net.value.bytes);
  const size = 2 ** (32 - cidr.value.prefixLength);
  const inRange = (ip: string): boolean => {
    const p = parseIp(ip);
    return p.ok && p.value.family === 4 && u32(p.value.bytes) - base >= 0 && u32(p.value.bytes) - base < size;
  };
  const id = (ns: string | undefined, name: string): string => `${ns || 'default'}/${name}`;
  const holder = new Map<string, string>(); // ip -> service id
  const current = new Map<string, string>();
  for (const s of stored) {
    const ip = s.spec.clusterIP;
    current.set(id(s.metadata.namespace, s.metadata.name), ip);
    if (ip && ip !== 'None') holder.set(ip, id(s.metadata.namespace, s.metadata.name));
  }
  const ips = new Map<string, string>();
  const issues: Issue[] = [];
  const issue = (s: Service, reason: string): void =>
    void issues.push({
      severity: 'error',
      file: s.source.file,
      line: s.source.fieldLines?.get('spec.clusterIP') ?? s.source.line,
      object: `Service/${id(s.metadata.namespace, s.metadata.name)}`,
      path: 'spec.clusterIP',
      reason,
    });
  const pending: Service[] = [];
  for (const s of applied) {
    const me = id(s.metadata.namespace, s.metadata.name);
    const want = s.spec.clusterIP;
    const had = current.get(me) ?? '';
    if (want === '') {
      if (had)
        ips.set(me, had); // an update keeps its address, as the API server does
      else pending.push(s);
      continue;
    }
    if (want === 'None') {
      ips.set(me, want);
      continue;
    }
    if (had && had !== want) issue(s, `is immutable: the service has ${had}`);
    else if (!inRange(want)) issue(s, `${want} is outside the service range ${range}`);
    else if (holder.has(want) && holder.get(want) !== me)
      issue(s, `${want} is already allocated to Service/${holder.get(want)}`);
    else {
      holder.set(want, me);
      ips.set(me, want);
    }
  }
  // Lowest free address, skipping the network and broadcast addresses and .1 (kubernetes' own).
  let next = 2;
  for (const s of pending) {
    while (next < size - 1 && holder.has(dotted(base + next))) next++;
    if (next >= size - 1) {
      issue(s, `the service range ${range} is full`);
      continue;
    }
    const ip = dotted(base + next);
    holder.set(ip, id(s.metadata.namespace, s.metadata.name));
    ips.set(id(s.metadata.namespace, s.metadata.name), ip);
  }
  return { ips, issues };
}

/** The manifest as stored, with spec.clusterIP set. */
export function withClusterIP(raw: unknown, ip: string): unknown {
  const m = { ...(raw as Record<string, unknown>) };
  m.spec = { ...((m.spec as Record<string, unknown>) ?? {}), clusterIP: ip };
  return m;
}
