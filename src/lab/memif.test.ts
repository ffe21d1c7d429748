// The seed's memif pod in the lab: its `memif1` attachment is served by the node's memif forwarder
// (dist/multinet-memifd, started by the agent), a DPDK application in the pod (dpdk-testpmd,
// icmpecho) answers kernel pods of its network on the other node, not other networks, and not
// peers the policy denies; the pod sees a visible memif1 with its address and the gateway's MAC;
// deleting the pod removes the forwarder's interface. Needs root, the built forwarder and
// dpdk-testpmd (fails in CI without them).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Lab } from './lab.js';
import { labSkip, SEED_DIR } from './test-support.js';
import { memifControl } from './layout.js';
import { Testpmd, testpmdUnavailable } from '../memif/testpmd.js';
import { expectations, runChecks, mismatches } from './check.js';
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
      // lab check shows memif interfaces without pinging them, and is green.
      const results = await runChecks(
        lab.runner,
        expectations(await lab.endpoints(), await lab.policyOracle()),
      );
      assert.deepEqual(mismatches(results), []);
      assert.ok(results.some((r) => r.note === 'memif'));
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
  });
