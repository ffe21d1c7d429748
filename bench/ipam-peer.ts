// `npm run bench -- ipam-peer`: our IPAM on kubernetes:// against the real Whereabouts (v0.9,
// scripts/whereabouts-bin.sh), in one run, on one throwaway kube-apiserver + etcd
// (src/store/kube-test-server.ts). Same workload for both:
// - rate: 200 ADDs with 1 and with 8 in flight; allocations/s, p50/p99 latency per ADD.
//   Ours: N processes (bench/ipam-peer-worker.ts, one ADD at a time each) calling the IPAM as the
//   agent does in its warm process. Whereabouts: N lanes, each exec'ing the plugin once per ADD
//   (CNI_COMMAND=ADD, netconf on stdin), as our plugin or Multus runs it.
// - crash: 200 ADDs at once; after 50 have succeeded, kill -9 of some in-flight allocating
//   processes (ours: 2 of the 8 processes, 25 ADDs in flight each; Whereabouts: 20 of its 200
//   processes); then a DEL for every ADD that did not succeed (what a runtime does), then
//   duplicates / leaks / lost reservations across the results and the store (src/ipam/audit.ts);
//   then DEL of everything, and what is left.
// Everything (processes, API server, files) is stopped and removed at the end.
import type { ChildProcess } from 'node:child_process';
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  kubeBinDir,
  kubeUnavailableReason,
  startTestKube,
  type TestKube,
} from '../src/store/kube-test-server.js';
import { installCrds, repoObjects } from '../src/store/kube-bins.js';
import { KubeClient } from '../src/store/kube-client.js';
import { openStore } from '../src/store/open.js';
import type { Store } from '../src/store/types.js';
import { Ipam } from '../src/ipam/allocator.js';
import type { IpPool } from '../src/ipam/pool.js';
import { RESERVATION_KIND, type ReservationRecord } from '../src/ipam/records.js';
import { audit, type Audit, type Held } from '../src/ipam/audit.js';
import {
  whereaboutsBinary,
  whereaboutsUnavailableReason,
  whereaboutsVersion,
} from '../src/store/whereabouts-bin.js';
import { execWhereabouts, resultAddress, whereaboutsReserved } from './whereabouts-exec.js';
import type { Allocated, PeerWorkerConfig } from './ipam-peer-worker.js';

const OPS = 200;
const CONCURRENCY = [1, 8];
const CRASH_ADDS = 200;
const CRASH_KILL_AFTER = 50;
const OUR_CRASH_PROCS = 8;
const OUR_CRASH_KILLED = 2;
const WB_CRASH_KILLED = 20;
/** Whereabouts' IPPools and reservations live in its kubeconfig context's namespace (default). */
const WB_NAMESPACE = 'kube-system';

interface RateRow {
  ipam: string;
  concurrent: number;
  ok: number;
  failed: number;
  perSec: number;
  p50: number;
  p99: number;
}

interface CrashRow {
  ipam: string;
  started: number;
  killed: string;
  ok: number;
  failed: number;
  cleanupDels: number;
  result: Audit;
  leftAfterAllDels: number;
}

function pct(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : NaN;
}

/** Runs jobs with at most `n` at a time. */
async function pool(n: number, jobs: readonly (() => Promise<void>)[]): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < jobs.length) await jobs[next++]!();
    }),
  );
}

// ---- ours

function forkPeerWorker(cfg: PeerWorkerConfig): ChildProcess {
  const script = fileURLToPath(new URL('./ipam-peer-worker.js', import.meta.url));
  const child = fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  child.send(cfg);
  return child;
}

interface OurRun {
  allocated: Allocated[];
  start: number;
  end: number;
  /** Workers that ended before reporting their result (killed). */
  lost: string[];
}

/**
 * `procs` workers, `count` ADDs each with `inflight` at a time; `onAllocated` may kill workers
 * (it gets them all). Resolves when every worker has reported or died.
 */
async function runOurs(
  url: string,
  ipPool: IpPool,
  id: string,
  procs: number,
  count: number,
  inflight: number,
  onAllocated: (n: number, workers: ChildProcess[]) => void = () => {},
): Promise<OurRun> {
  const workers: ChildProcess[] = [];
  const ready: Promise<unknown>[] = [];
  for (let i = 0; i < procs; i++) {
    const w = forkPeerWorker({ storeUrl: url, pool: ipPool, id: `${id}${i}`, count, inflight });
    ready.push(
      new Promise((resolve, reject) => {
        w.on('message', (m: { type: string }) => m.type === 'ready' && resolve(undefined));
        w.once('exit', (c) => reject(new Error(`ipam-peer worker exited (${c}) before it was ready`)));
      }),
    );
    workers.push(w);
  }
  await Promise.all(ready);
  const allocated: Allocated[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  const lost: string[] = [];
  const finished = workers.map(
    (w, i) =>
      new Promise<void>((resolve) => {
        let reported = false;
        w.on('message', (m: Allocated | { type: 'result'; start: number; end: number }) => {
          if (m.type === 'allocated') {
            allocated.push(m);
            onAllocated(allocated.length, workers);
          } else if (m.type === 'result') {
            reported = true;
            starts.push(m.start);
            ends.push(m.end);
            resolve();
          }
        });
        w.once('exit', () => {
          if (!reported) lost.push(`${id}${i}`);
          resolve();
        });
      }),
  );
  for (const w of workers) w.send('go');
  await Promise.all(finished);
  for (const w of workers) if (w.connected) w.disconnect();
  return { allocated, start: Math.min(...starts), end: Math.max(...ends), lost };
}

async function ourRate(url: string, concurrent: number): Promise<RateRow> {
  const ipPool: IpPool = { network: `peer-rate-${concurrent}`, ranges: [{ range: '10.97.0.0/16' }] };
  const r = await runOurs(url, ipPool, `r${concurrent}-`, concurrent, OPS / concurrent, 1);
  const lat = r.allocated.map((a) => a.ms).sort((a, b) => a - b);
  return {
    ipam: 'multinet (kubernetes://)',
    concurrent,
    ok: r.allocated.length,
    failed: OPS - r.allocated.length,
    perSec: (r.allocated.length / (r.end - r.start)) * 1000,
    p50: pct(lat, 50),
    p99: pct(lat, 99),
  };
}

async function ourReserved(store: Store, network: string): Promise<Held[]> {
  const items = (await store.list(RESERVATION_KIND, network)).items;
  return items.map((o) => ({ holder: (o.value as ReservationRecord).containerId, address: o.name }));
}

async function ourCrash(url: string, store: Store): Promise<CrashRow> {
  const network = 'peer-crash';
  const ipPool: IpPool = { network, ranges: [{ range: '10.97.0.0/16' }] };
  const per = CRASH_ADDS / OUR_CRASH_PROCS;
  let killed = 0;
  const r = await runOurs(url, ipPool, 'k', OUR_CRASH_PROCS, per, per, (n, workers) => {
    if (n < CRASH_KILL_AFTER || killed > 0) return;
    for (const w of workers.slice(0, OUR_CRASH_KILLED)) if (w.exitCode === null) w.kill('SIGKILL');
    killed = OUR_CRASH_KILLED;
  });
  const live: Held[] = r.allocated.map((a) => ({ holder: a.holder, address: a.address }));
  const liveSet = new Set(live.map((h) => h.holder));
  const ipam = new Ipam(store);
  const holders = Array.from({ length: OUR_CRASH_PROCS }, (_, w) =>
    Array.from({ length: per }, (_, i) => `k${w}-${i}`),
  ).flat();
  const dels = holders.filter((h) => !liveSet.has(h));
  await pool(
    8,
    dels.map((h) => async () => {
      await ipam.release({ network, containerId: h, ifName: 'net1' });
    }),
  );
  const result = audit(live, await ourReserved(store, network));
  await pool(
    8,
    [...liveSet].map((h) => async () => {
      await ipam.release({ network, containerId: h, ifName: 'net1' });
    }),
  );
  return {
    ipam: 'multinet (kubernetes://)',
    started: CRASH_ADDS,
    killed: `${r.lost.length} of ${OUR_CRASH_PROCS} processes (${CRASH_ADDS - live.length} ADDs unanswered)`,
    ok: live.length,
    failed: CRASH_ADDS - live.length,
    cleanupDels: dels.length,
    result,
    leftAfterAllDels: (await ourReserved(store, network)).length,
  };
}

// ---- Whereabouts

function wbNetconf(range: string, confPath: string): string {
  // Our plugin's config as a NAD would hold it; Whereabouts reads its ipam section.
  return JSON.stringify({
    cniVersion: '1.0.0',
    name: 'peer',
    type: 'multinet',
    delegateIpam: true,
    ipam: { type: 'whereabouts', range, configuration_path: confPath },
  });
}

async function wbRate(bin: string, confPath: string, concurrent: number): Promise<RateRow> {
  const netconf = wbNetconf(`10.9${concurrent === 1 ? 6 : 5}.0.0/16`, confPath);
  const lat: number[] = [];
  let failed = 0;
  let n = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrent }, async () => {
      while (n < OPS) {
        const id = `wbr${concurrent}-${n++}`;
        const r = await execWhereabouts(bin, 'ADD', id, netconf).done;
        if (r.code === 0 && resultAddress(r.stdout)) lat.push(r.ms);
        else {
          failed++;
          if (failed <= 3)
            process.stderr.write(`ipam-peer: whereabouts ADD ${id} failed: ${r.stdout} ${r.stderr}\n`);
        }
      }
    }),
  );
  const wall = performance.now() - t0;
  lat.sort((a, b) => a - b);
  return {
    ipam: `Whereabouts v${whereaboutsVersion()} (exec)`,
    concurrent,
    ok: lat.length,
    failed,
    perSec: (lat.length / wall) * 1000,
    p50: pct(lat, 50),
    p99: pct(lat, 99),
  };
}

async function wbCrash(bin: string, confPath: string, client: KubeClient): Promise<CrashRow> {
  const range = '10.94.0.0/16';
  const netconf = wbNetconf(range, confPath);
  const inRange = (h: Held) => h.address.startsWith('10.94.');
  const ids = Array.from({ length: CRASH_ADDS }, (_, i) => `wbk-${i}`);
  const runs = ids.map((id) => ({ id, run: execWhereabouts(bin, 'ADD', id, netconf), exited: false }));
  let ok = 0;
  let killed = 0;
  const results = await Promise.all(
    runs.map(async (x) => {
      const r = await x.run.done;
      x.exited = true;
      const address = r.code === 0 ? resultAddress(r.stdout) : undefined;
      if (address && ++ok === CRASH_KILL_AFTER) {
        // Every other process still running, up to WB_CRASH_KILLED of them.
        const running = runs.filter((y) => !y.exited);
        for (const y of running.filter((_, i) => i % 2 === 0).slice(0, WB_CRASH_KILLED)) {
          y.run.child.kill('SIGKILL');
          killed++;
        }
      }
      return { id: x.id, address, code: r.code };
    }),
  );
  // Holder = the pod reference Whereabouts records (the pod name is the container id here).
  const live: Held[] = results.flatMap((r) =>
    r.address ? [{ holder: `bench/${r.id}`, address: r.address }] : [],
  );
  const dels = results.filter((r) => !r.address).map((r) => r.id);
  let delFailures = 0;
  const del = (id: string) => async () => {
    const r = await execWhereabouts(bin, 'DEL', id, netconf).done;
    if (r.code !== 0) {
      delFailures++;
      if (delFailures <= 3) process.stderr.write(`ipam-peer: whereabouts DEL ${id} failed: ${r.stdout}\n`);
    }
  };
  await pool(8, dels.map(del));
  const result = audit(live, (await whereaboutsReserved(client, WB_NAMESPACE)).filter(inRange));
  await pool(
    8,
    live.map((h) => del(h.holder.slice('bench/'.length))),
  );
  const left = (await whereaboutsReserved(client, WB_NAMESPACE)).filter(inRange);
  return {
    ipam: `Whereabouts v${whereaboutsVersion()} (exec)`,
    started: CRASH_ADDS,
    killed: `${killed} of ${CRASH_ADDS} processes`,
    ok: live.length,
    failed: CRASH_ADDS - live.length,
    cleanupDels: dels.length,
    result,
    leftAfterAllDels: new Set(left.map((h) => h.address)).size,
  };
}

// ---- the run

export async function run(): Promise<string> {
  const why = kubeUnavailableReason() ?? whereaboutsUnavailableReason();
  if (why) return `ipam-peer skipped: ${why}`;
  const bin = whereaboutsBinary();
  const dir = mkdtempSync(join(tmpdir(), 'mn-bench-peer-'));
  let kube: TestKube | undefined;
  let client: KubeClient | undefined;
  let store: Store | undefined;
  try {
    kube = await startTestKube();
    client = new KubeClient(kube.credentials, 30_000);
    await installCrds(
      client,
      repoObjects('third_party/crds', (f) => f.startsWith('whereabouts.')),
    );
    // Whereabouts v0.9 needs its flat config file; here it names the admin kubeconfig.
    const confPath = join(dir, 'whereabouts.conf');
    writeFileSync(
      confPath,
      JSON.stringify({ datastore: 'kubernetes', kubernetes: { kubeconfig: kube.kubeconfig } }),
    );
    const url = `kubernetes://?kubeconfig=${kube.kubeconfig}`;
    // The machine is shared: its load before and after says how much of it the run had.
    const loadBefore = loadavg()[0]!;
    store = await openStore(url);
    const rates: RateRow[] = [];
    const say = (s: string): void => void process.stderr.write(`ipam-peer: ${s}\n`);
    for (const c of CONCURRENCY) {
      const o = await ourRate(url, c);
      say(
        `ours ${c} in flight: ${o.perSec.toFixed(1)}/s p50 ${o.p50.toFixed(1)} ms p99 ${o.p99.toFixed(1)} ms`,
      );
      const w = await wbRate(bin, confPath, c);
      say(
        `whereabouts ${c} in flight: ${w.perSec.toFixed(1)}/s p50 ${w.p50.toFixed(1)} ms p99 ${w.p99.toFixed(1)} ms, ${w.failed} failed`,
      );
      rates.push(o, w);
    }
    const crashes = [await ourCrash(url, store)];
    say(`ours crash: ${JSON.stringify(crashes[0])}`);
    crashes.push(await wbCrash(bin, confPath, client));
    say(`whereabouts crash: ${JSON.stringify(crashes[1])}`);
    const loadAfter = loadavg()[0]!;
    const at8 = rates.filter((r) => r.concurrent === 8);
    const ratio = at8[0]!.perSec / at8[1]!.perSec;
    const lines = [
      `Our IPAM on kubernetes:// against the real Whereabouts v${whereaboutsVersion()} (its IPAM plugin, built by scripts/whereabouts-bin.sh), in one run on one throwaway kube-apiserver + etcd (${basename(kubeBinDir() ?? 'k8s-?')}, one etcd member, --unsafe-no-fsync; src/store/kube-test-server.ts), machine: ${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}), shared with other work (1-minute load average ${loadBefore.toFixed(1)} before the run, ${loadAfter.toFixed(1)} after). Ours: N processes calling the IPAM as the agent does in its warm process (2 API requests per allocation), one ADD at a time each. Whereabouts: N lanes exec'ing the plugin once per ADD (CNI_COMMAND=ADD, netconf on stdin, flat config file naming the admin kubeconfig), as our plugin with \`"delegateIpam": true\` or Multus runs it; each ADD takes its cluster-wide Lease (leader election, retry period 500 ms), reads and patches the IPPool, creates an OverlappingRangeIPReservation. Pools: a /16 per row. Latency per ADD as seen by its caller.`,
      '',
      '| IPAM | ADDs in flight | ADDs (ok / failed) | allocations/s | p50 ms | p99 ms |',
      '|---|---:|---:|---:|---:|---:|',
      ...rates.map(
        (r) =>
          `| ${r.ipam} | ${r.concurrent} | ${r.ok} / ${r.failed} | ${r.perSec.toFixed(1)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} |`,
      ),
      '',
      `At 8 in flight ours is **${ratio.toFixed(1)}x** Whereabouts' rate (target >= 10x).`,
      '',
      `Crash check: ${CRASH_ADDS} ADDs at once; after ${CRASH_KILL_AFTER} succeeded, kill -9 of in-flight allocating processes (ours: ${OUR_CRASH_KILLED} of ${OUR_CRASH_PROCS} processes holding ${CRASH_ADDS / OUR_CRASH_PROCS} ADDs each; Whereabouts: every other running plugin process, up to ${WB_CRASH_KILLED}); then a DEL for every ADD that did not succeed, as a runtime does; then duplicates (an address with two holders across the results and the store), leaks (a reserved address whose holder is not a succeeded ADD) and lost (a succeeded ADD the store does not reserve for it); then DEL of every succeeded ADD. Targets: 0 duplicates, 0 leaks.`,
      '',
      '| IPAM | ADDs | killed -9 | succeeded | not answered / failed | cleanup DELs | duplicates | leaks | lost | reserved after all DELs |',
      '|---|---:|---|---:|---:|---:|---:|---:|---:|---:|',
      ...crashes.map(
        (c) =>
          `| ${c.ipam} | ${c.started} | ${c.killed} | ${c.ok} | ${c.failed} | ${c.cleanupDels} | ${c.result.duplicates.length} | ${new Set(c.result.leaks.map((h) => h.address)).size} | ${c.result.lost.length} | ${c.leftAfterAllDels} |`,
      ),
    ];
    return lines.join('\n');
  } finally {
    await store?.close();
    client?.close();
    await kube?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
