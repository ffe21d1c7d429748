// IPAM benchmark: allocations/s and p50/p99 latency for 1000 allocations spread over 1, 8 and 32
// processes, on the embedded store, on etcd and on kubernetes:// (a real kube-apiserver), with an
// empty pool and with the pool 90% full.
// Pool: 10.64.0.0/18 (16382 addresses); "90% full" pre-reserves 14744 of them.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { openStore } from '../src/store/open.js';
import { etcdUnavailableReason, startTestEtcd } from '../src/store/etcd-test-server.js';
import { kubeBinDir, kubeUnavailableReason, startTestKube } from '../src/store/kube-test-server.js';
import type { Store } from '../src/store/types.js';
import { forkWorker, waitMessage } from '../src/ipam/fork-worker.js';
import { Ipam } from '../src/ipam/allocator.js';
import { compilePool, fromBigInt, type IpPool } from '../src/ipam/pool.js';
import { RESERVATION_KIND } from '../src/ipam/records.js';

const TOTAL = 1000;
const PROCS = [1, 8, 32];

/** kubernetes:// at 8 processes (the target: >= 200 allocations/s). */
const KUBE_PROCS = [8];

/** `--backend=etcd` / `--procs=8` (for development; the recorded run uses neither). */
function option(args: readonly string[], name: string): string | undefined {
  return args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

interface Row {
  backend: string;
  procs: number;
  fill: string;
  perSec: number;
  p50: number;
  p99: number;
  cpu: Cpu;
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Reserves 90% of the pool, scattered (every address whose index mod 10 != 0 is taken). */
async function prefill(store: Store, pool: IpPool): Promise<void> {
  const fp = compilePool(pool).families.get(4)!;
  const seg = fp.segments[0]!;
  const jobs: Array<() => Promise<unknown>> = [];
  for (let v = seg.first, i = 0; v <= seg.last; v++, i++) {
    if (i % 10 === 0) continue;
    const address = fromBigInt(v, 4);
    jobs.push(() =>
      store.create(
        { kind: RESERVATION_KIND, namespace: pool.network, name: address },
        {
          address,
          prefixLength: 18,
          containerId: `fill${i}`,
          ifName: 'net1',
          podNamespace: 'fill',
          podName: `fill${i}`,
          createdAt: Date.now(),
        },
      ),
    );
  }
  // A few concurrent writers (etcd pipelines them; SQLite serializes them anyway).
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < jobs.length) await jobs[next++]!();
    }),
  );
}

/** CPU time (user + system, ms) of a process so far, from /proc. */
function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // clock ticks of 10 ms
}

interface Cpu {
  /** CPU ms per allocation of each server process and of the allocating processes together. */
  servers: Record<string, number>;
  workers: number;
}

async function runOne(
  url: string,
  pool: IpPool,
  procs: number,
  servers: Record<string, number> = {},
): Promise<{ perSec: number; p50: number; p99: number; cpu: Cpu }> {
  const per = Math.ceil(TOTAL / procs);
  // Workers start and warm up (node start, store connection, first list of the network) a few at
  // a time: 32 at once on 2 cores can starve etcd past its call deadline. None of it is timed.
  const workers: ChildProcess[] = [];
  for (let i = 0; i < procs; i += 4) {
    const batch = Array.from({ length: Math.min(4, procs - i) }, (_, j) =>
      forkWorker({
        storeUrl: url,
        pool,
        id: `b${procs}-${i + j}`,
        mode: 'bench',
        ops: i + j === procs - 1 ? TOTAL - per * (procs - 1) : per,
      }),
    );
    workers.push(...batch);
    await Promise.all(batch.map((w) => waitMessage(w, 'ready')));
  }
  const results = workers.map((w) =>
    waitMessage<{ lat: number[]; start: number; end: number; cpuMs: number }>(w, 'result'),
  );
  const before = Object.fromEntries(Object.entries(servers).map(([k, pid]) => [k, cpuMs(pid)]));
  for (const w of workers) w.send('go');
  const rs = await Promise.all(results);
  const n = rs.reduce((a, r) => a + r.lat.length, 0);
  const cpu: Cpu = {
    servers: Object.fromEntries(
      Object.entries(servers).map(([k, pid]) => [k, (cpuMs(pid) - before[k]!) / n]),
    ),
    workers: rs.reduce((a, r) => a + r.cpuMs, 0) / n,
  };
  const done = workers.map((w) => waitMessage(w, 'done'));
  for (const w of workers) w.send('release');
  await Promise.all(done);
  const lat = rs.flatMap((r) => r.lat).sort((a, b) => a - b);
  const start = Math.min(...rs.map((r) => r.start));
  const end = Math.max(...rs.map((r) => r.end));
  return { perSec: (lat.length / (end - start)) * 1000, p50: pct(lat, 50), p99: pct(lat, 99), cpu };
}

async function backend(
  name: string,
  url: string,
  rows: Row[],
  procsList: number[],
  servers: Record<string, number> = {},
): Promise<void> {
  const empty: IpPool = { network: 'bench-empty', ranges: [{ range: '10.64.0.0/18' }] };
  const full: IpPool = { network: 'bench-full', ranges: [{ range: '10.64.0.0/18' }] };
  const store = await openStore(url);
  try {
    await new Ipam(store).allocate({
      network: full.network,
      pool: full,
      containerId: 'x',
      ifName: 'x',
      podNamespace: 'x',
      podName: 'x',
    });
    await new Ipam(store).release({ network: full.network, containerId: 'x', ifName: 'x' });
    await prefill(store, full);
  } finally {
    await store.close();
  }
  for (const procs of procsList) {
    for (const [fill, pool] of [
      ['empty', empty],
      ['90% full', full],
    ] as const) {
      const r = await runOne(url, pool, procs, servers);
      rows.push({ backend: name, procs, fill, ...r });
      process.stderr.write(
        `ipam bench: ${name} ${procs} procs ${fill}: ${r.perSec.toFixed(0)}/s p50 ${r.p50.toFixed(2)} ms p99 ${r.p99.toFixed(2)} ms\n`,
      );
    }
  }
}

export async function run(args: readonly string[]): Promise<string> {
  const rows: Row[] = [];
  const only = option(args, 'backend');
  const procsList = option(args, 'procs')?.split(',').map(Number) ?? PROCS;
  const dir = mkdtempSync(join(tmpdir(), 'mn-bench-ipam-'));
  try {
    const want = (b: string): boolean => only === undefined || only === b;
    if (want('embedded')) await backend('embedded', `embedded://${dir}/store.db`, rows, procsList);
    const skip = etcdUnavailableReason();
    if (!skip && want('etcd')) {
      const etcd = await startTestEtcd();
      try {
        await backend('etcd', etcd.url, rows, procsList);
      } finally {
        await etcd.stop();
      }
    }
    const kubeSkip = kubeUnavailableReason();
    if (!kubeSkip && want('kubernetes')) {
      const kube = await startTestKube();
      try {
        const kprocs = option(args, 'procs') ? procsList : KUBE_PROCS;
        await backend('kubernetes', `kubernetes://?kubeconfig=${kube.kubeconfig}`, rows, kprocs, {
          'kube-apiserver': kube.pids.apiserver,
          etcd: kube.pids.etcd,
        });
      } finally {
        await kube.stop();
      }
    }
    const kubeBinaries = basename(kubeBinDir() ?? 'k8s-?');
    const lines = [
      `IPAM: ${TOTAL} allocations spread over N processes; pool 10.64.0.0/18 (16382 addresses), empty or 90% reserved (scattered).`,
      `Each allocation on embedded = create reservation + create index (2 SQLite transactions); on etcd = one transaction creating the reservation and the index together (1 round trip); on kubernetes = 2 API requests (POST the IPReservation, POST the IPAllocation; the API has no multi-object transaction), over keep-alive TLS connections (one per concurrent request, client certificate), no 429 seen. kubernetes: ${kubeBinaries}: kube-apiserver on its own etcd (one member, --unsafe-no-fsync), started by src/store/kube-test-server.ts, only at 8 processes (the target: >= 200/s). Latency per allocation as seen by its process; worker start-up and the first list of the network are not timed. etcd: 3.4, one member, data dir on the default temporary directory (disk, fsync on). The machine is shared: other work ran at the same time.`,
      '',
      '| backend | processes | pool | allocations/s | p50 ms | p99 ms |',
      '|---|---:|---|---:|---:|---:|',
      ...rows.map(
        (r) =>
          `| ${r.backend} | ${r.procs} | ${r.fill} | ${r.perSec.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} |`,
      ),
    ];
    const kubeRows = rows.filter((r) => r.backend === 'kubernetes');
    if (kubeRows.length)
      lines.push(
        '',
        'Where the kubernetes time goes: CPU ms per allocation during the timed part (2 cores in all; ~1000 ms of CPU per second is one core):',
        '',
        '| processes | pool | kube-apiserver | its etcd | allocating processes | ceiling on 2 idle cores, allocations/s |',
        '|---:|---|---:|---:|---:|---:|',
        ...kubeRows.map(
          (r) =>
            `| ${r.procs} | ${r.fill} | ${r.cpu.servers['kube-apiserver']!.toFixed(2)} | ${r.cpu.servers.etcd!.toFixed(2)} | ${r.cpu.workers.toFixed(2)} | ${(2000 / (Object.values(r.cpu.servers).reduce((x, y) => x + y, 0) + r.cpu.workers)).toFixed(0)} |`,
        ),
      );
    if (skip) lines.push('', `etcd skipped: ${skip}`);
    if (kubeSkip) lines.push('', `kubernetes skipped: ${kubeSkip}`);
    return lines.join('\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
