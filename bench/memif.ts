// `npm run bench -- memif`: 64-byte packets per second DELIVERED (counted at the receiver), all in
// one run of a 2-node lab (`bm`):
//  (a) memif to memif on one node: dpdk-testpmd txonly in memif pod A, rxonly in memif pod B
//      (B's port counters), under a few CPU placements of the three busy pollers;
//  (b) memif pod A (node 1) to a kernel pod on node 2: the kernel pod's eth1 rx counter;
//  (c) the baseline: a kernel pod on node 1 sending 64-byte UDP through its own kernel interface to
//      the same receiver (a C sendmmsg loop compiled here with cc, and iperf3 -u; the faster counts).
// Targets (issue 15): (a) >= 10 Mpps, (b) >= 2x (c).
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Lab } from '../src/lab/lab.js';
import { memifControl, type LabNode } from '../src/lab/layout.js';
import { agentPid } from '../src/lab/agents.js';
import { parseList } from '../src/agent/memif.js';
import { routingNs } from '../src/dataplane/naming.js';
import { Testpmd, testpmdUnavailable } from '../src/memif/testpmd.js';
import {
  cpuUsage,
  otherUsers,
  processUsage,
  sampleAll,
  sampleCpus,
  sampleProcess,
  type CpuTimes,
  type ProcessSample,
  type TaskStat,
} from '../src/util/proc-stat.js';

const exec = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const LAB = 'bm';
const WARMUP_MS = 1000;
const WINDOW_MS = 3000;
// The clients' rings: 2^14 descriptors (testpmd rsize=14, the most memif and the forwarder allow).
// Three busy pollers share 2 cores, so each runs in scheduler slices of milliseconds: a ring must
// hold a whole slice of traffic, and DPDK's default 2^10 holds about 0.3 ms of it at 3 Mpps.
// MN_BENCH_RSIZE=10 measures the default.
const RING_LOG2 = Number(process.env.MN_BENCH_RSIZE ?? 14);
const MEMIFD = fileURLToPath(new URL('../multinet-memifd', import.meta.url));
const progress = (l: string): void => void process.stderr.write(`memif bench: ${l}\n`);

// ---------------------------------------------------------------- the lab's objects

function manifests(node1: string, node2: string): string {
  const pod = (name: string, node: string, networks: string) => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  annotations:
    k8s.v1.cni.cncf.io/networks: ${networks}
spec:
  nodeName: ${node}
  containers:
    - name: app
      image: busybox
      command: ["/bin/sh", "-c", "sleep infinity"]
`;
  return [
    `apiVersion: projectcalico.org/v3
kind: Network
metadata:
  name: blue
spec:
  vni: 56
  range: "172.19.0.0/16"
`,
    // The seed's network-blue-conf.
    `apiVersion: "k8s.cni.cncf.io/v1"
kind: NetworkAttachmentDefinition
metadata:
  name: network-blue-conf
spec:
  config: |-
    {
      "cniVersion": "0.3.1",
      "name": "network-blue",
      "plugins": [
        {
          "type": "calico",
          "ipam": { "type": "whereabouts" },
          "dataplane_options": { "network_name": "blue" }
        }
      ]
    }
`,
    pod('memif-a', node1, 'network-blue-conf@memif1'),
    pod('memif-b', node1, 'network-blue-conf@memif1'),
    pod('kernel-1', node1, 'network-blue-conf@eth1'),
    pod('kernel-2', node2, 'network-blue-conf@eth1'),
  ].join('---\n');
}

// A kernel pod's sender: 64-byte frames = 14 Ethernet + 20 IPv4 + 8 UDP + 22 payload.
const SENDER_C = String.raw`
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#define BATCH 64
int main(int argc, char **argv) {
  if (argc != 5) { fprintf(stderr, "usage: %s SRC DST PORT SECONDS\n", argv[0]); return 2; }
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET};
  inet_pton(AF_INET, argv[1], &src.sin_addr);
  inet_pton(AF_INET, argv[2], &dst.sin_addr);
  dst.sin_port = htons(atoi(argv[3]));
  if (s < 0 || bind(s, (struct sockaddr *)&src, sizeof src) || connect(s, (struct sockaddr *)&dst, sizeof dst)) {
    perror("socket"); return 1;
  }
  static char payload[22];
  struct iovec iov = {payload, sizeof payload};
  struct mmsghdr m[BATCH];
  memset(m, 0, sizeof m);
  for (int i = 0; i < BATCH; i++) { m[i].msg_hdr.msg_iov = &iov; m[i].msg_hdr.msg_iovlen = 1; }
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  unsigned long long sent = 0, errors = 0;
  for (;;) {
    for (int k = 0; k < 256; k++) {
      int n = sendmmsg(s, m, BATCH, 0);
      /* ICMP port unreachable from the receiver shows up as ECONNREFUSED: go on. */
      if (n > 0) sent += n; else errors++;
    }
    clock_gettime(CLOCK_MONOTONIC, &t);
    if (t.tv_sec - t0.tv_sec >= atoi(argv[4])) break;
  }
  printf("sent=%llu errors=%llu\n", sent, errors);
  return 0;
}
`;

// ---------------------------------------------------------------- probes

async function ipJson<T>(args: string[]): Promise<T> {
  return JSON.parse((await exec('ip', ['-j', ...args])).stdout) as T;
}

async function linkMac(netns: string, dev: string): Promise<string> {
  const l = await ipJson<{ address: string }[]>(['-n', netns, 'link', 'show', dev]);
  return l[0]!.address;
}

/** The pod's permanent neighbour 169.254.1.1 on its memif1 link: the gateway (TAP) MAC. */
async function gatewayMac(netns: string, dev: string): Promise<string> {
  const n = await ipJson<{ dst: string; lladdr?: string }[]>(['-n', netns, 'neigh', 'show', 'dev', dev]);
  const gw = n.find((x) => x.dst === '169.254.1.1')?.lladdr;
  if (!gw) throw new Error(`no neighbour 169.254.1.1 on ${dev} in ${netns}`);
  return gw;
}

async function linkCounters(netns: string, dev: string): Promise<{ rx: number; tx: number }> {
  const l = await ipJson<{ stats64: { rx: { packets: number }; tx: { packets: number } } }[]>([
    '-n',
    netns,
    '-s',
    'link',
    'show',
    dev,
  ]);
  return { rx: l[0]!.stats64.rx.packets, tx: l[0]!.stats64.tx.packets };
}

/** The forwarder's LIST, by interface id (its TAP's name). */
async function memifList(control: string): Promise<Map<string, Record<string, string>>> {
  const text = await new Promise<string>((resolve, reject) => {
    const s = connect(control);
    let buf = '';
    s.setEncoding('utf8');
    const t = setTimeout(() => (s.destroy(), reject(new Error(`no LIST answer on ${control}`))), 5000);
    s.on('data', (d: string) => {
      buf += d;
      const n = /^OK (\d+)\n/.exec(buf);
      if (n && buf.split('\n').length - 1 >= Number(n[1]) + 1) {
        clearTimeout(t);
        s.destroy();
        resolve(buf);
      }
    });
    s.on('error', (e) => (clearTimeout(t), reject(e)));
    s.write('LIST\n');
  });
  return parseList(text.split('\n'));
}

const num = (f: Record<string, string> | undefined, k: string): number => Number(f?.[k] ?? 0);

async function waitFor(what: string, ms: number, ok: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

// ---------------------------------------------------------------- one measurement window

interface Proc {
  readonly name: string;
  readonly pid: number;
}

interface Window {
  /** Packets per second counted at the receiver. */
  delivered: number;
  /** Packets per second the sender reported sent (testpmd TX-packets, or the pod's eth1 tx). */
  offered: number;
  seconds: number;
  procs: { name: string; cpu: number; ranOn: number[] }[];
  cores: { cpu: number; busy: number; softirq: number; steal: number }[];
  /** Deltas of the forwarder's LIST counters over the window, by id. */
  memif: Map<string, Record<string, number>>;
  /** What else ran on the machine meanwhile (not the bench's processes nor the bench itself). */
  others: { comm: string; cpu: number; cmd?: string }[];
}

/** A process's command line, shortened (for naming what else ran). */
function cmdline(pid: number): string | undefined {
  try {
    const c = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    return c.length > 70 ? `${c.slice(0, 67)}...` : c || undefined;
  } catch {
    return undefined;
  }
}

async function measure(o: {
  received: () => Promise<number>;
  sent: () => Promise<number>;
  procs: readonly Proc[];
  control?: string;
}): Promise<Window> {
  await sleep(WARMUP_MS);
  const at = async (): Promise<{
    t: number;
    rx: number;
    tx: number;
    cpus: Map<number, CpuTimes>;
    all: Map<number, TaskStat>;
    ps: (ProcessSample | undefined)[];
    list: Map<string, Record<string, string>>;
  }> => {
    const cpus = sampleCpus();
    const all = sampleAll();
    const ps = o.procs.map((p) => {
      try {
        return sampleProcess(p.pid);
      } catch {
        return undefined;
      }
    });
    const list = o.control ? await memifList(o.control) : new Map<string, Record<string, string>>();
    // The receiver's counter brackets the time; the sender's is read right after it.
    const t0 = performance.now();
    const rx = await o.received();
    const t = (t0 + performance.now()) / 2;
    const tx = await o.sent();
    return { t, rx, tx, cpus, all, ps, list };
  };
  const a = await at();
  await sleep(WINDOW_MS);
  const b = await at();
  const seconds = (b.t - a.t) / 1000;
  const memif = new Map<string, Record<string, number>>();
  for (const [id, f] of b.list) {
    const was = a.list.get(id);
    memif.set(
      id,
      Object.fromEntries(
        ['rx', 'tx', 'drops', 'fast']
          .filter((k) => f[k] !== undefined)
          .map((k) => [k, num(f, k) - num(was, k)]),
      ),
    );
  }
  return {
    delivered: (b.rx - a.rx) / seconds,
    offered: (b.tx - a.tx) / seconds,
    seconds,
    procs: o.procs.flatMap((p, i) => {
      const x = a.ps[i];
      const y = b.ps[i];
      return x && y ? [{ name: p.name, ...processUsage(x, y, seconds) }] : [];
    }),
    cores: cpuUsage(a.cpus, b.cpus),
    memif,
    others: otherUsers(a.all, b.all, seconds, new Set([process.pid, ...o.procs.map((p) => p.pid)])).map(
      (x) => ({ ...x, ...(x.cpu >= 0.05 ? { cmd: cmdline(x.pid) } : {}) }),
    ),
  };
}

// ---------------------------------------------------------------- the bench

interface Row {
  id: string;
  what: string;
  placement: string;
  path: string;
  w: Window;
}

const mpps = (pps: number): string => (pps / 1e6).toFixed(pps < 1e6 ? 3 : 2);

function why(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  if (!existsSync(MEMIFD)) return `${MEMIFD} not built (npm run build needs cc)`;
  return testpmdUnavailable();
}

export async function run(_args: readonly string[]): Promise<string> {
  const skip = why();
  if (skip) return `_skipped: ${skip}_`;
  if (Lab.exists(LAB)) await Lab.load(LAB).down(progress);
  const dir = mkdtempSync(join(tmpdir(), 'mn-bench-memif-'));
  const cc = spawnSync('cc', ['-O2', '-o', join(dir, 'sender'), '-x', 'c', '-'], {
    input: SENDER_C,
    encoding: 'utf8',
  });
  if (cc.status !== 0) throw new Error(`cc of the UDP sender failed: ${cc.stderr}`);
  let lab: Lab | undefined;
  const pmds: Testpmd[] = [];
  const children: ChildProcess[] = [];
  try {
    lab = await Lab.up(LAB, { nodes: 2 }, progress);
    const [n1, n2] = lab.config.nodes as [LabNode, LabNode];
    writeFileSync(join(dir, 'bench.yaml'), manifests(n1.name, n2.name));
    const applied = await lab.apply([join(dir, 'bench.yaml')], progress);
    if (applied.errorCount) throw new Error(`lab apply: ${applied.errorCount} error(s)`);
    const eps = await lab.endpoints();
    const ep = (pod: string, ifName: string) => {
      const e = eps.find((x) => x.pod === pod && x.ifName === ifName);
      if (!e) throw new Error(`no running ${pod}/${ifName}`);
      return e;
    };
    const A = ep('memif-a', 'memif1');
    const B = ep('memif-b', 'memif1');
    const K1 = ep('kernel-1', 'eth1');
    const K2 = ep('kernel-2', 'eth1');
    const control = memifControl(lab.config, n1);
    await waitFor('the forwarder of node 1 holding both memif interfaces', 30_000, async () => {
      const l = await memifList(control);
      return [...l.values()].filter((f) => f.sock === 'memif1').length === 2;
    });
    const fwdPid = Number(readFileSync(`${control}.pid`, 'utf8'));
    const mac = { A: await linkMac(A.netns, 'memif1'), B: await linkMac(B.netns, 'memif1') };
    const gw = { A: await gatewayMac(A.netns, 'memif1'), B: await gatewayMac(B.netns, 'memif1') };
    // The forwarder's id of a pod's interface is its TAP's name; the TAP carries the gateway MAC.
    const rns = routingNs(n1.name, 'blue');
    const taps = await ipJson<{ ifname: string; address: string }[]>(['-n', rns, 'link', 'show']);
    const tapOf = (m: string): string => {
      const t = taps.find((x) => x.address === m)?.ifname;
      if (!t) throw new Error(`no TAP with MAC ${m} in ${rns}`);
      return t;
    };
    const tap = { A: tapOf(gw.A), B: tapOf(gw.B) };
    const listening = (id: string) =>
      waitFor(
        `${id} listening again`,
        10_000,
        async () => (await memifList(control)).get(id)?.state === 'listening',
      );
    const agents = lab.config.nodes.flatMap((n) => {
      const pid = agentPid(n);
      return pid ? [{ name: `agent ${n.name}`, pid }] : [];
    });
    const pin = async (pid: number, cpu: number) =>
      exec('taskset', ['-a', '-p', '-c', String(cpu), String(pid)]);
    const startPmd = async (
      who: 'A' | 'B',
      forward: number,
      mode: 'txonly' | 'rxonly',
      extra: string[] = [],
    ): Promise<Testpmd> => {
      const e = who === 'A' ? A : B;
      const p = await Testpmd.start({
        netns: e.netns,
        socket: 'memif1',
        filePrefix: `mnbm${who}`,
        forwardMode: mode,
        cpus: { main: 1 - forward, forward },
        mac: mac[who],
        extra,
        ringLog2: RING_LOG2,
      });
      pmds.push(p);
      for (let i = 0; i < 100 && !(await p.linkUp()); i++) await sleep(100);
      if (!(await p.linkUp())) throw new Error(`testpmd ${who}: memif link did not come up`);
      return p;
    };
    const stopPmd = async (p: Testpmd, id: string): Promise<void> => {
      await p.stop();
      pmds.splice(pmds.indexOf(p), 1);
      await listening(id);
    };
    const txonly = (dst: string) => [`--eth-peer=0,${gw.A}`, `--tx-ip=${A.ip},${dst}`, '--txpkts=64'];
    const rows: Row[] = [];

    // (a) memif to memif on node 1, three placements of A's poller, B's poller and the forwarder.
    const placements = [
      { a: 0, b: 1, f: 1, note: "forwarder shares the receiver's core" },
      { a: 0, b: 1, f: 0, note: "forwarder shares the sender's core" },
      { a: 0, b: 0, f: 1, note: 'both testpmd pollers on one core, the forwarder alone' },
    ];
    for (const pl of placements) {
      await pin(fwdPid, pl.f);
      const pb = await startPmd('B', pl.b, 'rxonly');
      const pa = await startPmd('A', pl.a, 'txonly', txonly(B.ip));
      progress(`(a) A@${pl.a} B@${pl.b} forwarder@${pl.f}: measuring`);
      const w = await measure({
        received: async () => (await pb.portStats()).rxPackets,
        sent: async () => (await pa.portStats()).txPackets,
        procs: [
          { name: 'testpmd A (txonly)', pid: pa.pid },
          { name: 'testpmd B (rxonly)', pid: pb.pid },
          { name: 'multinet-memifd', pid: fwdPid },
          ...agents,
        ],
        control,
      });
      // The direct path's counter, if the forwarder has one (on either interface).
      const fasts = [w.memif.get(tap.A)?.fast, w.memif.get(tap.B)?.fast].filter(
        (x): x is number => x !== undefined,
      );
      const fast = fasts.length ? Math.max(...fasts) : undefined;
      rows.push({
        id: 'a',
        what: 'memif A -> memif B, one node (testpmd txonly -> rxonly; B port RX-packets)',
        placement: `A@cpu${pl.a}, B@cpu${pl.b}, forwarder@cpu${pl.f} (${pl.note})`,
        path:
          fast === undefined
            ? 'via the kernel (TAP): no fast= counter in LIST'
            : fast > 0
              ? `direct memif-to-memif (fast=${fast} in the window)`
              : 'via the kernel (TAP): fast=0 in the window',
        w,
      });
      progress(`(a) ${mpps(w.delivered)} Mpps delivered`);
      await stopPmd(pa, tap.A);
      await stopPmd(pb, tap.B);
    }

    // (b) memif A (node 1) -> kernel pod on node 2.
    const k2rx = async () => (await linkCounters(K2.netns, 'eth1')).rx;
    {
      await pin(fwdPid, 1);
      const pa = await startPmd('A', 0, 'txonly', txonly(K2.ip));
      progress('(b) measuring');
      const w = await measure({
        received: k2rx,
        sent: async () => (await pa.portStats()).txPackets,
        procs: [
          { name: 'testpmd A (txonly)', pid: pa.pid },
          { name: 'multinet-memifd', pid: fwdPid },
          ...agents,
        ],
        control,
      });
      rows.push({
        id: 'b',
        what: 'memif A (node 1) -> kernel pod eth1 on node 2 (testpmd txonly; receiver eth1 rx packets)',
        placement: 'A@cpu0, forwarder@cpu1',
        path: 'memif -> TAP -> routing domain -> VXLAN -> node 2 -> veth',
        w,
      });
      progress(`(b) ${mpps(w.delivered)} Mpps delivered`);
      await stopPmd(pa, tap.A);
    }

    // (c) kernel pod on node 1 -> the same receiver, through its kernel interface.
    const k1tx = async () => (await linkCounters(K1.netns, 'eth1')).tx;
    const baselines: Row[] = [];
    {
      const child = spawn(
        'ip',
        ['netns', 'exec', K1.netns, 'taskset', '-c', '0', join(dir, 'sender'), K1.ip, K2.ip, '9', '6'],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      children.push(child);
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise((r) => child.on('exit', r));
      progress('(c) C sendmmsg sender: measuring');
      const w = await measure({
        received: k2rx,
        sent: k1tx,
        procs: [{ name: 'sender (C, sendmmsg x64)', pid: child.pid! }, ...agents],
      });
      await exited;
      if (!/sent=\d+/.test(out)) throw new Error(`the UDP sender failed: ${out}`);
      baselines.push({
        id: 'c',
        what: 'kernel pod (node 1) -> the same receiver: C sendmmsg loop, 64 x 22-byte UDP per call, connected socket',
        placement: 'sender@cpu0',
        path: 'veth -> routing domain -> VXLAN -> node 2 -> veth',
        w,
      });
      progress(`(c) C sender ${mpps(w.delivered)} Mpps delivered`);
    }
    {
      const server = spawn('ip', ['netns', 'exec', K2.netns, 'iperf3', '-s', '-1', '-B', K2.ip], {
        stdio: 'ignore',
      });
      children.push(server);
      await sleep(500);
      const client = spawn(
        'ip',
        [
          'netns',
          'exec',
          K1.netns,
          'taskset',
          '-c',
          '0',
          'iperf3',
          '-u',
          '-c',
          K2.ip,
          '-B',
          K1.ip,
          '-l',
          '22',
          '-b',
          '0',
          '-t',
          '6',
        ],
        { stdio: 'ignore' },
      );
      children.push(client);
      const exited = new Promise((r) => client.on('exit', r));
      progress('(c) iperf3 -u: measuring');
      await sleep(300); // its control connection first
      const w = await measure({
        received: k2rx,
        sent: k1tx,
        procs: [
          { name: 'iperf3 -u client', pid: client.pid! },
          { name: 'iperf3 server (receiver pod)', pid: server.pid! },
          ...agents,
        ],
      });
      await exited;
      baselines.push({
        id: 'c',
        what: 'kernel pod (node 1) -> the same receiver: iperf3 -u -l 22 -b 0 (an iperf3 server in the receiver pod)',
        placement: 'client@cpu0, server unpinned',
        path: 'veth -> routing domain -> VXLAN -> node 2 -> veth',
        w,
      });
      progress(`(c) iperf3 ${mpps(w.delivered)} Mpps delivered`);
    }
    const base = baselines.reduce((x, y) => (y.w.delivered > x.w.delivered ? y : x));
    for (const r of baselines) r.id = r === base ? 'c' : 'c (slower, not the baseline)';
    rows.push(...baselines);
    return report(rows, base, tap);
  } finally {
    for (const p of pmds) await p.stop().catch(() => undefined);
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await lab?.close().catch(() => undefined);
    if (Lab.exists(LAB)) await Lab.load(LAB).down(progress);
    rmSync(dir, { recursive: true, force: true });
  }
}

function report(rows: Row[], base: Row, tap: { A: string; B: string }): string {
  const aRows = rows.filter((r) => r.id === 'a');
  const bestA = aRows.reduce((x, y) => (y.w.delivered > x.w.delivered ? y : x));
  const b = rows.find((r) => r.id === 'b')!;
  const ratio = b.w.delivered / base.w.delivered;
  const dpdk = spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'dpdk-dev'], { encoding: 'utf8' }).stdout;
  const pct = (x: number): string => `${(x * 100).toFixed(0)}%`;
  const cpuOf = (w: Window): string =>
    w.procs
      .filter((p) => p.cpu >= 0.01 || !p.name.startsWith('agent'))
      .map((p) => `${p.name} ${pct(p.cpu)}${p.ranOn.length ? ` on cpu${p.ranOn.join('+')}` : ''}`)
      .join('; ');
  const coresOf = (w: Window): string =>
    w.cores
      .map((c) => `cpu${c.cpu} ${pct(c.busy)} (softirq ${pct(c.softirq)}, steal ${pct(c.steal)})`)
      .join(', ');
  const othersOf = (w: Window): string => {
    const total = w.others.reduce((x, y) => x + y.cpu, 0);
    const top = w.others.filter((x) => x.cpu >= 0.05).slice(0, 3);
    const name = (x: { comm: string; cmd?: string }) =>
      x.cmd ? `\`${x.cmd.replace(/[`|]/g, '')}\`` : x.comm;
    return `${pct(total)}${top.length ? ` (${top.map((x) => `${name(x)} ${pct(x.cpu)}`).join(', ')})` : ''}`;
  };
  const fwd = (r: Row): string => {
    const a = r.w.memif.get(tap.A);
    const bb = r.w.memif.get(tap.B);
    const per = (m: Record<string, number> | undefined, name: string) =>
      m
        ? `${name} rx ${mpps(m.rx! / r.w.seconds)} tx ${mpps(m.tx! / r.w.seconds)} drops ${mpps(m.drops! / r.w.seconds)}${m.fast !== undefined ? ` fast ${mpps(m.fast / r.w.seconds)}` : ''}`
        : '';
    return [per(a, 'A'), r.id === 'a' ? per(bb, 'B') : ''].filter(Boolean).join('; ');
  };
  const c0 = cpus()[0];
  return [
    `Machine: ${c0?.model ?? '?'}, ${cpus().length} vCPUs, Linux ${release()}, DPDK ${dpdk || '?'} (dpdk-testpmd, net_memif client), Node ${process.version}. ` +
      `Lab \`${LAB}\`: 2 nodes; memif pods A and B and kernel pod 1 on node 1, kernel pod 2 (the receiver of (b) and (c)) on node 2; network blue (the seed's network-blue-conf).`,
    `Every figure is 64-byte frames (14 + 20 IPv4 + 8 UDP + 22) per second **delivered**, counted at the receiver over ${WINDOW_MS / 1000} s after ${WARMUP_MS / 1000} s of warm-up: ` +
      "testpmd rxonly's port RX-packets in (a), the receiving kernel pod's eth1 rx packets (`ip -s link`) in (b) and (c). " +
      "Offered = what the sender counted as sent in the same window (testpmd TX-packets, or the sending pod's eth1 tx packets). " +
      'Pinning: testpmd with `--lcores=0@M,1@F --main-lcore=0` (the main lcore only reads the prompt; lcore 1 is the busy poller on cpu F), the forwarder with `taskset -a -p`, the senders of (c) with `taskset -c 0`. ' +
      `The memif clients ask for rings of 2^${RING_LOG2} descriptors (testpmd \`rsize=${RING_LOG2}\`; DPDK's default is 2^10): with three busy pollers on 2 cores each runs in scheduler slices of milliseconds, and a ring must hold a slice's traffic.`,
    '',
    '| row | what | placement | path | delivered Mpps | offered Mpps |',
    '|---|---|---|---|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.id} | ${r.what} | ${r.placement} | ${r.path} | **${mpps(r.w.delivered)}** | ${mpps(r.w.offered)} |`,
    ),
    '',
    `- (a) best placement: **${mpps(bestA.w.delivered)} Mpps** against the target >= 10 Mpps: **${bestA.w.delivered >= 10e6 ? 'met' : 'NOT met'}** (${bestA.path}).`,
    `- (b)/(c) = ${mpps(b.w.delivered)} / ${mpps(base.w.delivered)} = **${ratio.toFixed(2)}** against the target >= 2: **${ratio >= 2 ? 'met' : 'NOT met'}** (baseline (c): the faster kernel sender, ${base.what.includes('iperf3') ? 'iperf3' : 'the C sendmmsg loop'}).`,
    '',
    'CPU during each window (from /proc/<pid>/stat and /proc/<pid>/task/*/stat: 100% = one core; "on cpuN" = where its busy threads ran; agents shown when they used >= 1%), per core from /proc/stat:',
    '',
    '| row | placement | processes | cores | other processes on the machine | forwarder counters, Mpps |',
    '|---|---|---|---|---|---|',
    ...rows.map(
      (r) => `| ${r.id} | ${r.placement} | ${cpuOf(r.w)} | ${coresOf(r.w)} | ${othersOf(r.w)} | ${fwd(r)} |`,
    ),
  ].join('\n');
}
