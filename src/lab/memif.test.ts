// The seed's memif pod in the lab: its `memif1` attachment is served by the node's memif forwarder
// (dist/multinet-memifd, started by the agent), a DPDK application in the pod (dpdk-testpmd,
// icmpecho) answers kernel pods of its network on the other node, not other networks, and not
// peers the policy denies; the pod sees a visible memif1 with its address and the gateway's MAC;
// deleting the pod removes the forwarder's interface. Needs root, the built forwarder and
// dpdk-testpmd (fails in CI without them).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Lab } from './lab.js';
import { labSkip, SEED_DIR, sourcePath } from './test-support.js';
import { listMemifd } from '../agent/memif.js';
import { join } from 'node:path';
import { memifControl } from './layout.js';
import { Testpmd, testpmdUnavailable } from '../memif/testpmd.js';
import { expectations, runChecks, mismatches } from './check.js';
import { labResponderDeps, startMemifResponders } from './memif-responders.js';
import { NETWORK_STATUS_ANNOTATION } from './pods.js';
import { readCluster } from './cluster.js';
import { connect } from 'node:net';

const run = promisify(execFile);
const quiet = (): void => undefined;
const MEMIFD = fileURLToPath(new URL('../../multinet-memifd', import.meta.url));

function why(): string | undefined {
  if (labSkip) return labSkip;
  if (!existsSync(MEMIFD)) return `${MEMIFD} not built (npm run build needs cc)`;
  return testpmdUnavailable();
}

/** One request on the forwarder's control socket (LIST: with its interface lines). */
async function control(path: string, req: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      const n = /^OK (\d+)\n/.exec(buf);
      const lines = buf.split('\n').length - 1;
      if (!req.startsWith('LIST') || (n && lines >= Number(n[1]) + 1)) {
        s.destroy();
        resolve(buf);
      }
    });
    s.on('error', reject);
    s.write(`${req}\n`);
  });
}

// n UDP datagrams "hi" to ip:port, one at a time; prints the answers counted.
const UDP_ASK = `
const [ip, port, n] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])];
const u = require('node:dgram').createSocket('udp4');
const counts = {};
const one = () => new Promise((res) => {
  const t = setTimeout(() => res('timeout'), 1000);
  u.once('message', (m) => { clearTimeout(t); res(String(m)); });
  u.send('hi', port, ip);
});
(async () => {
  for (let i = 0; i < n; i++) { const r = await one(); counts[r] = (counts[r] ?? 0) + 1; }
  process.stdout.write(JSON.stringify(counts), () => process.exit(0));
})();`;

const reason = why();
if (reason && process.env.CI && !labSkip) {
  test('memif in the lab', () => {
    throw new Error(`${reason}: CI must run memif end to end`);
  });
} else
  describe('lab: the seed memif pod, answered by a DPDK application', { skip: reason ?? false }, () => {
    let lab: Lab;
    let pmd: Testpmd | undefined;
    before(async () => {
      lab = await Lab.up('mf', { nodes: 2, resyncSeconds: 3 }, quiet);
      const r = await lab.apply([SEED_DIR], quiet);
      assert.equal(r.errorCount, 0);
    });
    after(async () => {
      await pmd?.stop();
      await lab?.down(quiet);
    });

    const ep = async (pod: string, ifName: string) => {
      const e = (await lab.endpoints()).find((x) => x.pod === pod && x.ifName === ifName);
      assert.ok(e, `${pod}/${ifName}`);
      return e;
    };
    const ping = async (netns: string, from: string, to: string): Promise<boolean> => {
      try {
        await run('ip', ['netns', 'exec', netns, 'ping', '-c', '2', '-W', '1', '-I', from, to]);
        return true;
      } catch {
        return false;
      }
    };

    test('memif1 attaches in blue: a visible link with the address and the gateway MAC, the forwarder listening', async () => {
      const m = await ep('samplepod-memif', 'memif1');
      assert.equal(m.network, 'blue');
      const link = JSON.parse(
        (await run('ip', ['-n', m.netns, '-j', '-d', 'link', 'show', 'memif1'])).stdout,
      ) as {
        linkinfo?: { info_kind?: string };
      }[];
      assert.equal(link[0]?.linkinfo?.info_kind, 'bridge', 'a port-less bridge: no dummy driver here');
      const addr = (await run('ip', ['-n', m.netns, '-4', 'addr', 'show', 'memif1'])).stdout;
      assert.match(addr, new RegExp(`inet ${m.ip.replace(/\./g, '\\.')}/32`));
      const neigh = (await run('ip', ['-n', m.netns, 'neigh', 'show', 'dev', 'memif1'])).stdout;
      assert.match(neigh, /169\.254\.1\.1 lladdr \S+ PERMANENT/);
      const lists = await Promise.all(
        lab.config.nodes.map((n) => control(memifControl(lab.config, n), 'LIST').catch(() => '')),
      );
      assert.ok(
        lists.some((l) => /IF id=\S+ sock=memif1 tap=\S+ state=listening/.test(l)),
        lists.join('\n'),
      );
      // lab check probes memif1 through a responder (testpmd icmpecho) it connects for the check.
      const eps = await lab.endpoints();
      const probes = await startMemifResponders(eps, labResponderDeps(lab.config));
      let results;
      try {
        results = await runChecks(lab.runner, expectations(eps, await lab.policyOracle(), probes.probed));
      } finally {
        await probes.stop();
      }
      assert.deepEqual([...probes.skipped], []);
      assert.deepEqual(mismatches(results), []);
      const toMemif = results.filter((r) => r.to.ifName === 'memif1' && r.seen !== undefined);
      assert.ok(
        toMemif.some((r) => r.seen === 'reach'),
        'blue peers reach memif1',
      );
      assert.ok(
        toMemif.some((r) => r.seen === 'block' && !r.byPolicy),
        'other networks do not',
      );
      assert.ok(
        toMemif.some((r) => r.seen === 'block' && r.byPolicy),
        'the policy applies to memif1',
      );
      // Sources on a memif stay unprobed: ping cannot send through the pod's memif application.
      assert.ok(results.some((r) => r.note === 'memif' && r.from.ifName === 'memif1'));
    });

    test('dpdk-testpmd (icmpecho) in the pod answers its network across nodes; other networks and denied peers do not reach it', async () => {
      const m = await ep('samplepod-memif', 'memif1');
      pmd = await Testpmd.start({
        netns: m.netns,
        socket: 'memif1',
        filePrefix: 'mnlabmf',
        forwardMode: 'icmpecho',
      });
      for (let i = 0; i < 50 && !(await pmd.linkUp()); i++) await new Promise((r) => setTimeout(r, 100));
      assert.ok(await pmd.linkUp(), 'testpmd connected to the forwarder');
      const s3blue = await ep('samplepod3', 'eth1');
      const s3red = await ep('samplepod3', 'eth2');
      const s2blue = await ep('samplepod2', 'eth1');
      const s1blue = await ep('samplepod', 'eth1');
      // The pods spread over the 2 nodes: samplepod3 runs on the other node than samplepod2.
      assert.notEqual(s3blue.netns, s2blue.netns);
      assert.ok(await ping(s3blue.netns, s3blue.ip, m.ip), 'blue, from the other node or this one');
      assert.ok(await ping(s2blue.netns, s2blue.ip, m.ip), 'blue, from the other node or this one');
      assert.equal(await ping(s3red.netns, s3red.ip, m.ip), false, 'red does not reach blue');
      // The seed's policy denies samplepod (see the lab check matrix): it applies to memif too.
      assert.equal(await ping(s1blue.netns, s1blue.ip, m.ip), false, 'denied by the policy');
      const lists = await Promise.all(
        lab.config.nodes.map((n) => control(memifControl(lab.config, n), 'LIST').catch(() => '')),
      );
      const line = lists
        .join('\n')
        .split('\n')
        .find((l) => l.includes('sock=memif1'))!;
      assert.match(line, /state=connected/);
      assert.ok(Number(/ rx=(\d+)/.exec(line)?.[1]) > 0 && Number(/ tx=(\d+)/.exec(line)?.[1]) > 0, line);
    });

    test('kill -9 of the forwarder: the agent starts another, re-creates the interface and its TAP routes; the client reconnects', async () => {
      const m = await ep('samplepod-memif', 'memif1');
      const s3blue = await ep('samplepod3', 'eth1');
      const node = lab.config.nodes.find((n) => existsSync(`${memifControl(lab.config, n)}.pid`))!;
      const ctl = memifControl(lab.config, node);
      const old = Number(readFileSync(`${ctl}.pid`, 'utf8'));
      process.kill(old, 'SIGKILL');
      const deadline = Date.now() + 30_000;
      let list = '';
      while (Date.now() < deadline) {
        const pid = Number(readFileSync(`${ctl}.pid`, 'utf8'));
        list = pid !== old ? await control(ctl, 'LIST').catch(() => '') : '';
        if (list.includes('sock=memif1')) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.match(list, /sock=memif1/, 'a new forwarder holds memif1 again');
      // DPDK 22.11's memif client connects only when its port starts: restart it, as an app would.
      await pmd!.restartPort();
      let ok = false;
      for (let i = 0; i < 40 && !ok; i++) {
        ok = await ping(s3blue.netns, s3blue.ip, m.ip);
        if (!ok) await new Promise((r) => setTimeout(r, 250));
      }
      assert.ok(ok, 'answered again through the new forwarder and TAP');
      await pmd!.stop();
      pmd = undefined;
    });

    test('deleting the memif pod removes its forwarder interface and TAP', async () => {
      await lab.delete([`${SEED_DIR}/pod-memif.yaml`], quiet);
      const lists = await Promise.all(
        lab.config.nodes.map((n) => control(memifControl(lab.config, n), 'LIST').catch(() => 'OK 0\n')),
      );
      assert.ok(!lists.join('\n').includes('sock=memif1'), lists.join('\n'));
    });

    test('two memif pods of one network on one node exchange traffic through testpmd (5tswap), switched directly', async () => {
      const r = await lab.apply([sourcePath('./testdata/memif/green.yaml')], quiet);
      assert.equal(r.errorCount, 0);
      const a = await ep('memif-a', 'memif1');
      const b = await ep('memif-b', 'memif1');
      const node = lab.config.nodes.find((n) => n.name === 'mf-node1')!;
      const ctl = memifControl(lab.config, node);
      const entry = async (netns: string) =>
        [...(await listMemifd(ctl)).values()].find((x) => x.podns?.endsWith(`/${netns}`));
      // device-info, as Multus copies it from the file the plugin wrote (the NAD declares it).
      const store = await lab.store();
      const podA = (await store.get({ kind: 'Pod', namespace: 'default', name: 'memif-a' }))!.value as {
        metadata: { annotations: Record<string, string> };
      };
      const statusA = JSON.parse(podA.metadata.annotations[NETWORK_STATUS_ANNOTATION]!) as {
        interface: string;
        mac: string;
        'device-info'?: unknown;
      }[];
      const memifA = statusA.find((x) => x.interface === 'memif1')!;
      assert.deepEqual(memifA['device-info'], {
        type: 'memif',
        version: '1.1.0',
        memif: { role: 'slave', path: '@memif1', mode: 'ethernet' },
      });
      assert.equal(statusA.find((x) => x.interface === 'eth0')!['device-info'], undefined);
      const gw = async (netns: string) =>
        /169\.254\.1\.1 lladdr (\S+)/.exec(
          (await run('ip', ['-n', netns, 'neigh', 'show', 'dev', 'memif1'])).stdout,
        )![1]!;
      const mac = async (netns: string) =>
        (
          JSON.parse((await run('ip', ['-n', netns, '-j', 'link', 'show', 'memif1'])).stdout) as {
            address: string;
          }[]
        )[0]!.address;
      // 5tswap swaps MACs, IPs and ports: a frame from the other pod goes back to it. (macswap or io
      // would send it to the pod itself again: the network routes by IP.) The ports take the MACs
      // the network expects of the pods, so the forwarder's routing keeps them.
      const pa = await Testpmd.start({
        netns: a.netns,
        socket: 'memif1',
        filePrefix: 'mnlabmfa',
        forwardMode: '5tswap',
        mac: await mac(a.netns),
        cpus: { main: 0, forward: 0 },
      });
      const pb = await Testpmd.start({
        netns: b.netns,
        socket: 'memif1',
        filePrefix: 'mnlabmfb',
        forwardMode: '5tswap',
        mac: await mac(b.netns),
        cpus: { main: 1, forward: 1 },
        extra: [`--tx-ip=${b.ip},${a.ip}`, `--eth-peer=0,${await gw(b.netns)}`],
      });
      try {
        for (let i = 0; i < 50 && !((await pa.linkUp()) && (await pb.linkUp())); i++)
          await new Promise((res) => setTimeout(res, 100));
        assert.equal((await entry(a.netns))?.state, 'connected');
        assert.equal((await entry(b.netns))?.state, 'connected');
        // B sends a first burst to A; from then on both answer each other's frames.
        await pb.command('stop');
        await pb.command('start tx_first 4');
        await new Promise((res) => setTimeout(res, 2000));
        const sa = await pa.stats();
        const sb = await pb.stats();
        assert.ok(sa.rx > 1000 && sa.tx > 1000, `A rx ${sa.rx} tx ${sa.tx}`);
        assert.ok(sb.rx > 1000 && sb.tx > 1000, `B rx ${sb.rx} tx ${sb.tx}`);
        const ea = (await entry(a.netns))!;
        assert.ok(Number(ea.fast) > 1000, `switched directly: ${JSON.stringify(ea)}`);
      } finally {
        await pa.stop();
        await pb.stop();
      }
    });

    test('a service of the network has the memif as endpoint: UDP from a kernel pod on the other node is answered through it', async () => {
      const r = await lab.apply([sourcePath('./testdata/memif/green-service.yaml')], quiet);
      assert.equal(r.errorCount, 0);
      const a = await ep('memif-a', 'memif1');
      const client = await ep('green-client', 'eth1');
      const vip = (await readCluster(await lab.store()))
        .resources('Service')
        .find((x) => x.metadata.name === 'echo')!.spec.clusterIP;
      const mac = (
        JSON.parse((await run('ip', ['-n', a.netns, '-j', 'link', 'show', 'memif1'])).stdout) as {
          address: string;
        }[]
      )[0]!.address;
      const pa = await Testpmd.start({
        netns: a.netns,
        socket: 'memif1',
        filePrefix: 'mnlabmfs',
        forwardMode: '5tswap',
        mac,
      });
      try {
        for (let i = 0; i < 50 && !(await pa.linkUp()); i++) await new Promise((res) => setTimeout(res, 100));
        const { stdout } = await run('ip', [
          'netns',
          'exec',
          client.netns,
          process.execPath,
          '-e',
          UDP_ASK,
          vip,
          '7',
          '5',
        ]);
        assert.deepEqual(JSON.parse(stdout), { hi: 5 }, `to ${vip}:7 (memif-a ${a.ip}:7007)`);
      } finally {
        await pa.stop();
      }
      await lab.delete(
        [sourcePath('./testdata/memif/green-service.yaml'), sourcePath('./testdata/memif/green.yaml')],
        quiet,
      );
      const lists = await Promise.all(
        lab.config.nodes.map((n) => listMemifd(memifControl(lab.config, n)).catch(() => new Map())),
      );
      assert.equal(
        lists.reduce((k, m) => k + m.size, 0),
        0,
        'no forwarder interface left',
      );
      assert.deepEqual(readdirSync(join(lab.config.dir, 'devinfo', 'cni')), [], 'device-info files removed');
    });
  });
