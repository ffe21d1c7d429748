// Pod routing end to end (issue 11): a pod in two networks with the same range, and two interfaces
// in one network, answers on every interface (ICMP both ways, TCP); spoofed sources are dropped by
// the routing domain; a random topology over 3 nodes has no path between networks and no missing
// path. Real namespaces, agents, CNI chain and packets; needs root.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { Lab } from './lab.js';
import { labSkip } from './test-support.js';
import { expectations, mismatches, runChecks, type Endpoint } from './check.js';
import { POD_TABLE_BASE } from '../dataplane/naming.js';

const quiet = (): void => undefined;

const net = (name: string, vni: number, range: string): string =>
  `apiVersion: projectcalico.org/v3\nkind: Network\nmetadata:\n  name: ${name}\nspec:\n  vni: ${vni}\n  range: "${range}"\n`;
const nad = (name: string, network: string): string =>
  `apiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\nmetadata:\n  name: ${name}\nspec:\n  config: '${JSON.stringify(
    {
      cniVersion: '1.0.0',
      name,
      plugins: [{ type: 'multinet', network, capabilities: { ips: true }, ipam: { type: 'whereabouts' } }],
    },
  )}'\n`;
const pod = (name: string, node: string, networks: string): string =>
  `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\n  annotations:\n    k8s.v1.cni.cncf.io/networks: '${networks}'\nspec:\n  nodeName: ${node}\n  containers: [{ name: c, image: busybox }]\n`;

function writeYaml(dir: string, file: string, docs: string[]): string {
  const p = join(dir, file);
  writeFileSync(p, docs.join('---\n'));
  return p;
}

async function ping(lab: Lab, from: string, src: string, dst: string): Promise<boolean> {
  const r = await lab.runner.run(
    'ip',
    ['netns', 'exec', from, 'ping', '-c', '1', '-W', '1', '-I', src, dst],
    {
      timeoutMs: 5000,
    },
  );
  return r.code === 0;
}

async function inEchos(lab: Lab, netns: string): Promise<number> {
  const r = await lab.runner.run('ip', ['netns', 'exec', netns, 'cat', '/proc/net/snmp']);
  const lines = r.stdout.split('\n').filter((l) => l.startsWith('Icmp:'));
  return Number(lines[1]!.split(/\s+/)[lines[0]!.split(/\s+/).indexOf('InEchos')]);
}

/** A TCP server in a pod answering `hi` on every address; returns its stop function. */
async function tcpServer(netns: string, port: number): Promise<() => void> {
  const code = `require('net').createServer((s) => s.end('hi from ' + s.localAddress)).listen(${port}, '0.0.0.0', () => console.log('up'))`;
  const child = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', code], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', (c) => reject(new Error(`server exited ${c}`)));
  });
  return () => child.kill('SIGKILL');
}

async function tcpHello(lab: Lab, from: string, src: string, dst: string, port: number): Promise<string> {
  const code = `const s = require('net').connect({ host: '${dst}', port: ${port}, localAddress: '${src}' }); let d = ''; s.on('data', (b) => (d += b)); s.on('end', () => { console.log(d); process.exit(0); }); s.on('error', (e) => { console.log('error ' + e.code); process.exit(0); }); setTimeout(() => { console.log('timeout'); process.exit(0); }, 3000);`;
  const r = await lab.runner.run('ip', ['netns', 'exec', from, process.execPath, '-e', code], {
    timeoutMs: 10_000,
  });
  return r.stdout.trim();
}

describe('lab: a pod in two networks with one range, and twice in one network', { skip: labSkip }, () => {
  let lab: Lab;
  let dir: string;
  const ns: Record<string, string> = {};
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mn-sbr-'));
    lab = await Lab.up('sbr', { nodes: 2, resyncSeconds: 3 }, quiet);
    // multi's purple address is gpeer's green one and the other way round: with one shared main
    // table, replies would leave by the wrong interface.
    const file = writeYaml(dir, 'all.yaml', [
      net('green', 700, '10.77.0.0/24'),
      net('purple', 701, '10.77.0.0/24'),
      nad('green-conf', 'green'),
      nad('purple-conf', 'purple'),
      pod(
        'multi',
        'sbr-node1',
        '[{"name":"green-conf","interface":"eth1","ips":["10.77.0.10"]},{"name":"purple-conf","interface":"eth3","ips":["10.77.0.20"]},{"name":"green-conf","interface":"eth4","ips":["10.77.0.30"]}]',
      ),
      pod('gpeer', 'sbr-node2', '[{"name":"green-conf","interface":"eth1","ips":["10.77.0.20"]}]'),
      pod('ppeer', 'sbr-node2', '[{"name":"purple-conf","interface":"eth1","ips":["10.77.0.10"]}]'),
      pod('gtarget', 'sbr-node2', '[{"name":"green-conf","interface":"eth1","ips":["10.77.0.40"]}]'),
    ]);
    const r = await lab.apply([file], quiet);
    assert.equal(r.errorCount, 0, JSON.stringify(r.issues));
    for (const e of await lab.endpoints()) ns[e.pod] = e.netns;
  });
  after(async () => {
    await lab?.down(quiet);
    rmSync(dir, { recursive: true, force: true });
  });

  test('every interface answers a ping, both ways, across nodes', async () => {
    const cases: Array<[string, string, string]> = [
      // [from pod, its source, destination]
      ['gpeer', '10.77.0.20', '10.77.0.10'],
      ['gpeer', '10.77.0.20', '10.77.0.30'],
      ['ppeer', '10.77.0.10', '10.77.0.20'],
      ['multi', '10.77.0.10', '10.77.0.20'],
      ['multi', '10.77.0.30', '10.77.0.20'],
      ['multi', '10.77.0.20', '10.77.0.10'],
      ['multi', '10.77.0.30', '10.77.0.40'],
    ];
    for (const [from, src, dst] of cases)
      assert.ok(await ping(lab, ns[from]!, src, dst), `${from} from ${src} to ${dst}`);
    // and each went into its own network: multi's purple address reached ppeer, not gpeer
    const before = await inEchos(lab, ns.gpeer!);
    const beforeP = await inEchos(lab, ns.ppeer!);
    assert.ok(await ping(lab, ns.multi!, '10.77.0.20', '10.77.0.10'));
    assert.equal(await inEchos(lab, ns.gpeer!), before);
    assert.equal(await inEchos(lab, ns.ppeer!), beforeP + 1);
  });

  test('a TCP server answers on each interface', async () => {
    const stop = await tcpServer(ns.multi!, 7777);
    try {
      assert.equal(await tcpHello(lab, ns.ppeer!, '10.77.0.10', '10.77.0.20', 7777), 'hi from 10.77.0.20');
      assert.equal(await tcpHello(lab, ns.gpeer!, '10.77.0.20', '10.77.0.10', 7777), 'hi from 10.77.0.10');
      assert.equal(await tcpHello(lab, ns.gpeer!, '10.77.0.20', '10.77.0.30', 7777), 'hi from 10.77.0.30');
    } finally {
      stop();
    }
  });

  test("the pod's rules and tables are ours and one per interface", async () => {
    const r = await lab.runner.run('ip', ['-n', ns.multi!, '-j', 'rule', 'show']);
    const rules = (JSON.parse(r.stdout) as Array<{ src?: string; table?: string; protocol?: string }>).filter(
      (x) => x.protocol === '77',
    );
    const tables = new Map(rules.filter((x) => x.src !== 'all').map((x) => [x.src, Number(x.table)]));
    assert.ok(
      rules.some((x) => x.table === 'local'),
      'the local table, behind our rules',
    );
    assert.equal(tables.size, 4, JSON.stringify(rules)); // eth0 + three secondaries
    assert.equal(new Set(tables.values()).size, 4);
    for (const t of tables.values()) assert.ok(t >= POD_TABLE_BASE);
  });

  test('lab check probes every interface from its own address and finds nothing wrong', async () => {
    const pairs = expectations(await lab.endpoints(), await lab.policyOracle());
    assert.ok(
      pairs.some((p) => p.ambiguous),
      'overlapping addresses are probed by counter',
    );
    const results = await runChecks(lab.runner, pairs);
    assert.deepEqual(mismatches(results), []);
    assert.equal(
      results.filter((p) => p.seen === undefined && p.note !== 'self' && p.note !== 'same pod').length,
      0,
    );
  });

  test("spoofed sources are dropped: a forged address, another network's address", async () => {
    const before = await inEchos(lab, ns.gtarget!);
    // forged: gpeer gives itself an address nobody was allocated
    await lab.runner.run('ip', ['-n', ns.gpeer!, 'addr', 'add', '10.77.0.99/32', 'dev', 'eth1']);
    assert.equal(await ping(lab, ns.gpeer!, '10.77.0.99', '10.77.0.40'), false);
    // another network's address: multi sends its purple address out of its green interface
    const r = await lab.runner.run('ip', ['-n', ns.multi!, '-j', 'rule', 'show']);
    const greenTable = (JSON.parse(r.stdout) as Array<{ src?: string; table?: string }>).find(
      (x) => x.src === '10.77.0.10',
    )!.table!;
    await lab.runner.run('ip', [
      '-n',
      ns.multi!,
      'rule',
      'add',
      'from',
      '10.77.0.20',
      'to',
      '10.77.0.40',
      'lookup',
      greenTable,
      'priority',
      '100',
    ]);
    assert.equal(await ping(lab, ns.multi!, '10.77.0.20', '10.77.0.40'), false);
    assert.equal(await inEchos(lab, ns.gtarget!), before, 'no spoofed echo reached the target');
    // the routing domain counted the drops; a legitimate source still passes
    assert.ok(await ping(lab, ns.multi!, '10.77.0.10', '10.77.0.40'));
    assert.equal(await inEchos(lab, ns.gtarget!), before + 1);
    await lab.runner.run('ip', ['-n', ns.multi!, 'rule', 'del', 'priority', '100']);
    await lab.runner.run('ip', ['-n', ns.gpeer!, 'addr', 'del', '10.77.0.99/32', 'dev', 'eth1']);
  });
});

/** A small deterministic PRNG (mulberry32): the seed is printed so that a failure can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('lab: a random topology over 3 nodes', { skip: labSkip }, () => {
  let lab: Lab;
  let dir: string;
  const seed = Number(process.env.MN_TOPOLOGY_SEED ?? Date.now() % 1_000_000);
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mn-topo-'));
    lab = await Lab.up('topo', { nodes: 3, resyncSeconds: 3 }, quiet);
  });
  after(async () => {
    await lab?.down(quiet);
    rmSync(dir, { recursive: true, force: true });
  });

  test('no path between networks, no missing path, every interface probing from its own source', async () => {
    const rand = rng(seed);
    // two pairs of networks share a range; a fifth has its own; small ranges make equal addresses likely
    const nets = [
      ['ta', '10.88.0.0/28'],
      ['tb', '10.88.0.0/28'],
      ['tc', '10.89.0.0/28'],
      ['td', '10.89.0.0/28'],
      ['te', '10.90.0.0/28'],
    ] as const;
    const docs = nets.flatMap(([n, range], i) => [net(n, 800 + i, range), nad(`${n}-conf`, n)]);
    for (let p = 0; p < 8; p++) {
      const k = 1 + Math.floor(rand() * 3);
      const atts = Array.from(
        { length: k },
        (_, j) => `${nets[Math.floor(rand() * nets.length)]![0]}-conf@net${j + 1}`,
      );
      docs.push(pod(`r${p}`, `topo-node${1 + Math.floor(rand() * 3)}`, atts.join(', ')));
    }
    const r = await lab.apply([writeYaml(dir, 'topo.yaml', docs)], quiet);
    assert.equal(r.errorCount, 0, `seed ${seed}: ${JSON.stringify(r.issues)}`);
    const eps: Endpoint[] = await lab.endpoints();
    const results = await runChecks(lab.runner, expectations(eps, await lab.policyOracle()));
    const bad = mismatches(results).map(
      (b) =>
        `${b.from.pod}/${b.from.ifName} ${b.from.ip} -> ${b.to.pod}/${b.to.ifName} ${b.to.ip}: expected ${b.expected}, seen ${b.seen}`,
    );
    assert.deepEqual(bad, [], `seed ${seed} (MN_TOPOLOGY_SEED=${seed} replays it)`);
    const probed = results.filter((x) => x.seen !== undefined).length;
    assert.ok(probed > eps.length, `seed ${seed}: ${probed} pairs probed`);
  });
});
