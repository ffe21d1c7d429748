// The real Whereabouts as `npm run bench -- ipam-peer` runs it: exec'd as a CNI IPAM plugin, as
// our plugin (or Multus) does (CNI_COMMAND, env, the netconf on stdin, the result on stdout), and
// its records read back from the API server (IPPools, OverlappingRangeIPReservations).
import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import type { KubeClient } from '../src/store/kube-client.js';
import type { Held } from '../src/ipam/audit.js';

export interface WbRun {
  readonly child: ChildProcess;
  /** Exit code (null when killed), stdout, stderr's tail, wall time. */
  readonly done: Promise<{ code: number | null; stdout: string; stderr: string; ms: number }>;
}

export function execWhereabouts(
  bin: string,
  command: 'ADD' | 'DEL',
  containerId: string,
  netconf: string,
): WbRun {
  const t0 = performance.now();
  // The pod name is the holder too: Whereabouts' leader election identity is namespace/pod, so
  // concurrent ADDs must not share one.
  const child = spawn(bin, [], {
    env: {
      CNI_COMMAND: command,
      CNI_CONTAINERID: containerId,
      CNI_NETNS: '/var/run/netns/mn-bench-none',
      CNI_IFNAME: 'net1',
      CNI_PATH: '/usr/lib/cni',
      CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=${containerId}`,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const done = new Promise<{ code: number | null; stdout: string; stderr: string; ms: number }>((resolve) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-2000)));
    child.on('close', (code) => resolve({ code, stdout: out, stderr: err, ms: performance.now() - t0 }));
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(netconf);
  });
  return { child, done };
}

/** The address of a successful ADD's result (the first one, without its prefix). */
export function resultAddress(stdout: string): string | undefined {
  try {
    const r = JSON.parse(stdout) as { ips?: { address?: string }[] };
    return r.ips?.[0]?.address?.split('/')[0];
  } catch {
    return undefined;
  }
}

const GROUP = '/apis/whereabouts.cni.cncf.io/v1alpha1/namespaces';

/**
 * What Whereabouts reserves: each IPPool's allocations (key = offset from the range's network
 * address, IPv4 here) and each OverlappingRangeIPReservation (name = the address); the holder is
 * the pod reference ("namespace/name"), the one field both records carry.
 */
export async function whereaboutsReserved(client: KubeClient, namespace: string): Promise<Held[]> {
  const pools = await client.request<{
    items: { spec: { range: string; allocations?: Record<string, { podref: string }> } }[];
  }>({ method: 'GET', path: `${GROUP}/${namespace}/ippools` });
  const out: Held[] = [];
  for (const p of pools.items) {
    const base = p.spec.range.split('/')[0]!.split('.').map(Number);
    const baseInt = ((base[0]! << 24) | (base[1]! << 16) | (base[2]! << 8) | base[3]!) >>> 0;
    for (const [off, a] of Object.entries(p.spec.allocations ?? {})) {
      const v = baseInt + Number(off);
      const address = [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
      out.push({ holder: a.podref, address });
    }
  }
  const orips = await client.request<{
    items: { metadata: { name: string }; spec: { podref: string } }[];
  }>({
    method: 'GET',
    path: `${GROUP}/${namespace}/overlappingrangeipreservations`,
  });
  for (const o of orips.items) out.push({ holder: o.spec.podref, address: o.metadata.name });
  return out;
}
