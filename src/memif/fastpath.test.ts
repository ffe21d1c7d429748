// The forwarder's fast path end to end (root): two pod netns and one routing-domain netns, two
// memif interfaces with ips/peermac, dpdk-testpmd txonly in pod A (64-byte UDP to B's address
// through the gateway, i.e. A's TAP MAC) and rxonly in pod B. With fast=1 B receives A's frames
// and the TAPs' kernel counters stay still (the kernel never sees them); with fast=0 (changed in
// place, the clients stay connected) the same traffic is routed by the kernel through both TAPs.
// Measured, not asserted: 64-byte packets per second delivered to B either way.
//
// CPU: on 2 vCPUs the two busy-polling testpmds are pinned apart (A forwards on CPU 1, B on CPU 0)
// and the forwarder, polling too while traffic flows, shares them: the figures are contention-bound.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, Control, Forwarder, SRC, inNs, sh, sleep, until } from './e2e.js';
import { Testpmd, testpmdUnavailable } from './testpmd.js';

const POD_A = 'mnmf-pa';
const POD_B = 'mnmf-pb';
const RD = 'mnmf-rd';
const side = (id: string, pod: string, sock: string, n: number) => ({
  id,
  pod,
  sock,
  tap: `mnmf${id}0`,
  tapmac: `02:ee:00:00:00:0${n}`,
  ip: `10.252.0.${n}`,
  mac: `02:fa:00:00:00:0${n}`,
});
const A = side('fa', POD_A, 'memif1', 2);
const B = side('fb', POD_B, 'memif1', 3);
const C = side('fc', POD_B, 'memif2', 9); // a hostile client (fake_client badm2s)
type Side = typeof A;

const putLine = (s: Side, fast: 0 | 1, ip = s.ip) =>
  `PUT id=${s.id} podns=/var/run/netns/${s.pod} sock=${s.sock} rns=/var/run/netns/${RD} tap=${s.tap} ` +
  `mode=ethernet mac=${s.tapmac} ips=${ip},fd00:252::${ip.split('.')[3]} peermac=${s.mac} fast=${fast}`;

function unavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, TAP devices)';
  if (!existsSync(BIN)) return `${BIN} was not built (no C compiler at build time)`;
  if (spawnSync('cc', ['--version']).error) return 'no C compiler for the fake memif client';
  return testpmdUnavailable();
}

/** A TAP's kernel counters in the routing domain: rx = frames the forwarder wrote into the kernel. */
function tapCounters(tap: string): { rx: number; tx: number } {
  const read = (what: string) => Number(inNs(RD, ['cat', `/sys/class/net/${tap}/statistics/${what}`]).out);
  return { rx: read('rx_packets'), tx: read('tx_packets') };
}

const why = unavailable();
if (why && process.env.CI) {
  test('memif fast path end to end', () => {
    throw new Error(`${why}: CI must run the memif fast path end to end`);
  });
} else {
  describe('memif fast path: memif-to-memif switching without the kernel', { skip: why ?? false }, () => {
    let dir: string;
    let fwd: Forwarder | undefined;
    let ctl: Control;
    let pmdA: Testpmd | undefined;
    let pmdB: Testpmd | undefined;
    let fake: string; // test/fake_client.c, built in before()
    const cleanNs = () => {
      for (const ns of [POD_A, POD_B, RD]) sh('ip', ['netns', 'del', ns]);
    };
    const state = async (id: string) => (await ctl.iface(id))?.state;
    /** Waits for a state, saying what the forwarder and the testpmd logged when it does not come. */
    const connected = async (s: Side, pmd: () => Testpmd | undefined) => {
      try {
        await until(`${s.id} connected`, 20_000, async () => (await state(s.id)) === 'connected');
      } catch (e) {
        throw new Error(
          `${(e as Error).message}\nforwarder:\n${fwd!.stderr.slice(-3000)}\ntestpmd:\n${pmd()?.output.slice(-3000)}`,
        );
      }
    };

    /** Counters of everything involved over `ms`: B's receive rate, A's fast counter, the TAPs. */
    const sample = async (ms: number) => {
      const b0 = await pmdB!.stats(),
        a0 = (await ctl.iface(A.id))!,
        ta0 = tapCounters(A.tap),
        tb0 = tapCounters(B.tap),
        c0 = fwd!.cpuSeconds(),
        t0 = Date.now();
      await sleep(ms);
      const b1 = await pmdB!.stats(),
        a1 = (await ctl.iface(A.id))!,
        ta1 = tapCounters(A.tap),
        tb1 = tapCounters(B.tap),
        c1 = fwd!.cpuSeconds(),
        secs = (Date.now() - t0) / 1000;
      return {
        secs,
        bRx: b1.rx - b0.rx,
        aFast: Number(a1.fast) - Number(a0.fast),
        aRx: Number(a1.rx) - Number(a0.rx),
        bDrops: Number((await ctl.iface(B.id))!.drops),
        tapARx: ta1.rx - ta0.rx,
        tapBTx: tb1.tx - tb0.tx,
        cpu: (c1 - c0) / secs,
      };
    };
    const report = (what: string, s: Awaited<ReturnType<typeof sample>>) =>
      `${what}: B received ${(s.bRx / s.secs / 1e6).toFixed(3)} Mpps of 64 B ` +
      `(A fast ${s.aFast}, A rx to TAP ${s.aRx}, TAP A kernel rx ${s.tapARx}, TAP B kernel tx ${s.tapBTx}, ` +
      `B drops total ${s.bDrops}), forwarder CPU ${(s.cpu * 100).toFixed(0)}%`;

    before(async () => {
      cleanNs();
      for (const ns of [POD_A, POD_B, RD]) assert.equal(sh('ip', ['netns', 'add', ns]).code, 0);
      dir = mkdtempSync(join(tmpdir(), 'mn-memif-fast-'));
      const control = join(dir, 'memifd.sock');
      fake = join(dir, 'fake_client');
      const srcs = ['test/fake_client.c', 'memif_conn.c'].map((f) => join(SRC, f));
      const cc = sh('cc', ['-std=c11', '-D_GNU_SOURCE', '-O1', '-o', fake, ...srcs]);
      assert.equal(cc.code, 0, cc.out);
      fwd = await Forwarder.start(control);
      ctl = await Control.connect(control);
      for (const s of [A, B]) {
        assert.equal(await ctl.request(putLine(s, 1)), `OK ${s.id} tapmac=${s.tapmac}`);
        // What the dataplane sets up in a routing domain for a pod: a host route and a permanent
        // neighbour for its address on its TAP, forwarding on.
        for (const args of [
          ['route', 'add', `${s.ip}/32`, 'dev', s.tap],
          ['neigh', 'replace', s.ip, 'lladdr', s.mac, 'dev', s.tap, 'nud', 'permanent'],
        ])
          assert.equal(sh('ip', ['-n', RD, ...args]).code, 0, args.join(' '));
      }
      assert.equal(inNs(RD, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']).code, 0);
      // B polls on CPU 0 (main lcore 1), A on CPU 1 (main lcore 0).
      pmdB = await Testpmd.start({
        netns: POD_B,
        socket: 'memif1',
        filePrefix: 'mnmfb',
        forwardMode: 'rxonly',
        mac: B.mac,
        mainLcore: 1,
      });
      await connected(B, () => pmdB);
      pmdA = await Testpmd.start({
        netns: POD_A,
        socket: 'memif1',
        filePrefix: 'mnmfa',
        forwardMode: 'txonly',
        mac: A.mac,
        extra: ['--txpkts=64', `--eth-peer=0,${A.tapmac}`, `--tx-ip=${A.ip},${B.ip}`],
      });
      await connected(A, () => pmdA);
    });

    after(async () => {
      await pmdA?.stop();
      await pmdB?.stop();
      ctl?.close();
      await fwd?.kill('SIGKILL');
      cleanNs();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test('fast=1: B receives A frames, switched directly, and the kernel sees none of them', async (t) => {
      await sleep(500);
      const s = await sample(3000);
      t.diagnostic(report('fast=1 (memif -> memif, no kernel)', s));
      assert.ok(s.bRx > 1000, `B received ${s.bRx}`);
      assert.ok(s.aFast > 1000, `A's fast counter grew by ${s.aFast}`);
      assert.ok(s.aRx < 50, `A's frames written to its TAP: ${s.aRx}`);
      assert.ok(s.tapARx < 50, `TAP A kernel rx grew by ${s.tapARx}`);
      assert.ok(s.tapBTx < 50, `TAP B kernel tx grew by ${s.tapBTx}`);
    });

    test('B sees the frames as routed to it: from its TAP MAC to its own MAC', async () => {
      await pmdA!.command('stop');
      await sleep(200);
      const from = pmdB!.output.length;
      try {
        await pmdB!.command('set verbose 1'); // a line per packet: a burst of a few ms only
        await pmdA!.command('start');
        await sleep(20);
        await pmdA!.command('stop');
        await sleep(200);
      } finally {
        await pmdB!.command('set verbose 0');
        await pmdA!.command('start');
      }
      const seen = pmdB!.output.slice(from);
      const m = seen.match(
        /src=([0-9A-F:]{17}) - dst=([0-9A-F:]{17}) - .*?type=0x0800 - length=64 .*L3_IPV4 L4_UDP/,
      );
      assert.ok(m, seen.slice(0, 2000));
      assert.equal(m[1]!.toLowerCase(), B.tapmac);
      assert.equal(m[2]!.toLowerCase(), B.mac);
    });

    test('fast=0 (changed in place, clients stay connected): the same traffic goes through the kernel', async (t) => {
      for (const s of [A, B]) assert.equal(await ctl.request(putLine(s, 0)), `OK ${s.id} tapmac=${s.tapmac}`);
      assert.equal(await state(A.id), 'connected');
      assert.equal(await state(B.id), 'connected');
      await sleep(500);
      const s = await sample(3000);
      t.diagnostic(report('fast=0 (memif -> TAP -> kernel -> TAP -> memif)', s));
      assert.equal(s.aFast, 0, 'nothing switched directly');
      assert.ok(s.tapARx > 1000, `TAP A kernel rx grew by ${s.tapARx}`);
      assert.ok(s.tapBTx > 1000, `TAP B kernel tx grew by ${s.tapBTx}`);
      assert.ok(s.bRx > 1000, `B received ${s.bRx}`);
    });

    test('fast=1 on one side only is not enough; on both again, switching resumes', async () => {
      assert.match(await ctl.request(putLine(A, 1)), /^OK fa /);
      await sleep(300);
      let s = await sample(1000);
      assert.equal(s.aFast, 0, 'B has fast=0: to the kernel');
      assert.ok(s.tapARx > 1000);
      assert.match(await ctl.request(putLine(B, 1)), /^OK fb /);
      await sleep(300);
      s = await sample(1000);
      assert.ok(s.aFast > 1000 && s.bRx > 1000, JSON.stringify(s));
      assert.ok(s.tapARx < 50, `TAP A kernel rx grew by ${s.tapARx}`);
    });

    test('a destination that breaks its M2S ring is disconnected (code 10); the rest goes on', async () => {
      assert.match(await ctl.request(putLine(C, 1)), /^OK fc /);
      // Nothing from the kernel on C's TAP (IPv6 on a new link sends MLD/ND at once): C's bad
      // buffer must be found by a switched frame, not by the TAP path.
      const off = inNs(RD, ['sysctl', '-qw', `net.ipv6.conf.${C.tap}.disable_ipv6=1`]);
      assert.equal(off.code, 0, off.out);
      const client = spawn('ip', ['netns', 'exec', POD_B, fake, 'memif2', 'badm2s'], {
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      let said = '';
      client.stdout.on('data', (d: Buffer) => (said += d.toString()));
      const exited = new Promise((r) => client.on('close', r));
      await until(
        'C connected',
        10_000,
        async () => /CONNECTED/.test(said) && (await state(C.id)) === 'connected',
      ).catch((e: Error) => {
        throw new Error(`${e.message}; the client said: ${said}\nforwarder:\n${fwd!.stderr.slice(-2000)}`);
      });
      // B's address moves to C, in place (B first: an address claimed twice switches nowhere).
      assert.match(await ctl.request(putLine(B, 1, '10.252.0.8')), /^OK fb /);
      assert.match(await ctl.request(putLine(C, 1, B.ip)), /^OK fc /);
      await exited;
      assert.match(said, /^DISCONNECT 10 M2S descriptor 0 .* unusable$/m);
      assert.match(fwd!.stderr, /fc: a frame switched from fa found a broken M2S ring/);
      assert.equal(await state(C.id), 'listening');
      assert.ok(Number((await ctl.iface(C.id))!.drops) >= 1);
      assert.equal(await state(A.id), 'connected');
      assert.equal(await state(B.id), 'connected');
      // Back to B: switching resumes.
      assert.equal(await ctl.request(`DEL id=${C.id}`), 'OK');
      assert.match(await ctl.request(putLine(B, 1)), /^OK fb /);
      await sleep(300);
      const s = await sample(1000);
      assert.ok(s.aFast > 1000 && s.bRx > 1000, JSON.stringify(s));
    });
  });
}
