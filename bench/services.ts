// `npm run bench -- services`: 10,000 services x 4 endpoints in one network's routing domain.
// Namespaces: client (a pod) <-veth-> domain (the mnsvc table) <-veth-> server (4 endpoint addresses).
// 1. time to program them all (calc + one nft transaction), 2. one endpoint change with them
// present, 3. TCP connect latency through a ClusterIP with 10 services present vs 10,000, same run.
import { spawn } from 'node:child_process';
import { serviceState } from '../src/calc/services.js';
import type { ClusterView } from '../src/calc/node-state.js';
import type { AttachmentRecord } from '../src/calc/records.js';
import type { Pod, Service } from '../src/api/types.js';
import { parseLabelSelector } from '../src/api/label-selector.js';
import { LinuxNft } from '../src/dataplane/nft-linux.js';
import type { NftTableSpec } from '../src/dataplane/nft-types.js';
import { ProcessRunner, runChecked } from '../src/util/exec.js';

const SERVICES = 10_000;
const ENDPOINTS = ['10.200.0.1', '10.200.0.2', '10.200.0.3', '10.200.0.4'];
const PORT = 8080;

const vip = (i: number): string => `10.96.${Math.floor((i + 2) / 256)}.${(i + 2) % 256}`;

function view(services: number, endpoints: readonly string[]): ClusterView {
  const sel = parseLabelSelector('app=bench');
  if (!sel.ok) throw new Error(sel.error);
  const pods: Pod[] = endpoints.map((_, i) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    type: 'Pod',
    source: { file: 'bench', line: 0 },
    attachments: [],
    metadata: { name: `p${i}`, namespace: 'default', labels: { app: 'bench' }, annotations: {} },
    spec: { containers: [{ name: 'c', ports: [] }] },
  }));
  const atts = endpoints.map(
    (ip, i) =>
      ({
        podNamespace: 'default',
        podName: `p${i}`,
        network: 'blue',
        ips: [ip],
        ifName: 'eth1',
      }) as unknown as AttachmentRecord,
  );
  const svcs: Service[] = Array.from({ length: services }, (_, i) => ({
    apiVersion: 'v1',
    kind: 'Service',
    type: 'Service',
    source: { file: 'bench', line: 0 },
    metadata: { name: `s${i}`, namespace: 'default', labels: {}, annotations: {} },
    spec: {
      type: 'ClusterIP',
      ports: [{ protocol: 'TCP', port: 80, targetPort: PORT }],
      clusterIP: vip(i),
      sessionAffinity: 'None',
    },
    multinet: { network: 'blue', selector: sel.value, selectorText: 'app=bench' },
  }));
  return {
    networks: new Map([['blue', { name: 'blue', vni: 56, ranges: ['10.200.0.0/24'] }]]),
    nodes: new Map(),
    attachments: atts,
    pods,
    services: svcs,
  };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Connects `n` times from the client namespace to random ClusterIPs among the first `count`. */
async function connectLatency(
  runner: ProcessRunner,
  ns: string,
  count: number,
  n: number,
): Promise<number[]> {
  const code = `
const net = require('node:net');
const count = ${count}, n = ${n};
const vip = (i) => '10.96.' + Math.floor((i + 2) / 256) + '.' + ((i + 2) % 256);
const out = [];
(async () => {
  for (let k = 0; k < n; k++) {
    const ip = vip(Math.floor(Math.random() * count));
    const t0 = process.hrtime.bigint();
    await new Promise((res, rej) => { const s = net.connect(80, ip, () => { out.push(Number(process.hrtime.bigint() - t0) / 1000); s.destroy(); res(); }); s.on('error', rej); });
  }
  process.stdout.write(JSON.stringify(out));
})().catch((e) => { console.error(String(e)); process.exit(1); });`;
  const r = await runChecked(runner, 'ip', ['netns', 'exec', ns, process.execPath, '-e', code], {
    timeoutMs: 120_000,
  });
  return JSON.parse(r.stdout) as number[];
}

export async function run(_args: readonly string[]): Promise<string> {
  if (process.getuid?.() !== 0) return '_skipped: needs root_';
  const runner = new ProcessRunner();
  const tag = `mn-svb-${process.pid % 100000}`;
  const [C, D, S] = [`${tag}c`, `${tag}d`, `${tag}s`];
  const sh = (args: string[]) => runChecked(runner, 'ip', args);
  let server: ReturnType<typeof spawn> | undefined;
  try {
    for (const ns of [C, D, S]) await sh(['netns', 'add', ns]);
    await sh(['-n', D, 'link', 'add', 'mnc', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', C]);
    await sh(['-n', D, 'link', 'add', 'mns', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', S]);
    for (const [ns, dev] of [
      [C, 'eth0'],
      [S, 'eth0'],
      [D, 'mnc'],
      [D, 'mns'],
      [C, 'lo'],
      [S, 'lo'],
      [D, 'lo'],
    ] as const)
      await sh(['-n', ns, 'link', 'set', dev, 'up']);
    await sh(['-n', C, 'addr', 'add', '10.201.0.1/24', 'dev', 'eth0']);
    await sh(['-n', D, 'addr', 'add', '10.201.0.254/24', 'dev', 'mnc']);
    await sh(['-n', D, 'addr', 'add', '10.200.0.254/24', 'dev', 'mns']);
    for (const ip of ENDPOINTS) await sh(['-n', S, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    await sh(['-n', C, 'route', 'add', '10.96.0.0/16', 'via', '10.201.0.254']);
    await sh(['-n', S, 'route', 'add', 'default', 'via', '10.200.0.254']);
    await runChecked(runner, 'ip', ['netns', 'exec', D, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    server = spawn(
      'ip',
      [
        'netns',
        'exec',
        S,
        process.execPath,
        '-e',
        `require('node:net').createServer((s) => s.end()).listen(${PORT})`,
      ],
      { stdio: 'ignore' },
    );
    await new Promise((r) => setTimeout(r, 500));

    // 1. program 10,000 services x 4 endpoints
    let t0 = performance.now();
    const big = serviceState(view(SERVICES, ENDPOINTS)).tables.get('blue')!;
    const calcMs = performance.now() - t0;
    const nft = new LinuxNft(runner);
    await nft.sync(new Map([[D, []]]), { full: true }); // learn the (empty) namespace first
    const first = await nft.sync(new Map([[D, [big]]]));
    if (first.errors.length) throw new Error(first.errors[0]!.message);

    // 2. one endpoint change, repeated: endpoint 4 of service 5000 moves and comes back
    const changeMs: number[] = [];
    let changes = 0;
    for (let k = 0; k < 7; k++) {
      const from = `10.96.${Math.floor(5002 / 256)}.${5002 % 256} . tcp . 80 . 3 : 10.200.0.4 . ${PORT}`;
      const to = from.replace('10.200.0.4', '10.200.0.5');
      const eps = k % 2 === 0 ? big.elements.eps!.map((e) => (e === from ? to : e)) : big.elements.eps!;
      const t: NftTableSpec = { ...big, elements: { ...big.elements, eps } };
      t0 = performance.now();
      const r = await nft.sync(new Map([[D, [t]]]));
      changeMs.push(performance.now() - t0);
      if (r.errors.length) throw new Error(r.errors[0]!.message);
      changes = r.changes;
    }
    t0 = performance.now();
    const full = await nft.sync(new Map([[D, [big]]]), { full: true });
    const fullMs = performance.now() - t0;

    // 3. connect latency, 10 vs 10,000 services present, alternated to share the machine's noise
    const small = serviceState(view(10, ENDPOINTS)).tables.get('blue')!;
    const lat: Record<'10' | '10000', number[]> = { '10': [], '10000': [] };
    await connectLatency(runner, C, 10, 200); // warm-up
    for (let round = 0; round < 3; round++) {
      for (const [label, t, count] of [
        ['10', small, 10],
        ['10000', big, SERVICES],
      ] as const) {
        const r = await nft.sync(new Map([[D, [t]]]));
        if (r.errors.length) throw new Error(r.errors[0]!.message);
        lat[label].push(median(await connectLatency(runner, C, count, 1000)));
      }
    }
    const l10 = median(lat['10']);
    const l10k = median(lat['10000']);
    const rows = [
      `| program ${SERVICES.toLocaleString('en')} services x 4 endpoints (one nft transaction) | ${first.durationMs.toFixed(0)} ms (+ calc ${calcMs.toFixed(0)} ms) | < 2000 ms |`,
      `| one endpoint change with them present (median of 7) | ${median(changeMs).toFixed(1)} ms, ${changes} elements, 1 process | < 50 ms |`,
      `| full resync with them present (re-read + compare; moves the last changed endpoint back) | ${fullMs.toFixed(0)} ms, ${full.changes} element writes | - |`,
      `| TCP connect to a ClusterIP, 10 services present (median of 3 x 1000) | ${l10.toFixed(0)} us | - |`,
      `| same, 10,000 services present | ${l10k.toFixed(0)} us | - |`,
      `| ratio 10,000 / 10 | **${(l10k / l10).toFixed(2)}** | <= 1.2 |`,
    ];
    return [
      "One network's routing domain (netns) between a client and a server namespace; the `mnsvc` table",
      'from `serviceState` (shared lbN chains, `svc` verdict map, `eps` endpoint map) written by `LinuxNft`.',
      'Connects are real TCP handshakes through DNAT from a node process inside the client namespace.',
      '',
      '| measure | result | target |',
      '|---|---|---|',
      ...rows,
    ].join('\n');
  } finally {
    if (server?.pid) server.kill();
    for (const ns of [C, D, S]) await runner.run('ip', ['netns', 'del', ns]);
  }
}
