// dist/multinet-memifd end to end (root): the control protocol over its unix socket, the memif
// listener in a pod netns and the TAP in a routing-domain netns, dpdk-testpmd as an independent
// memif client (ping through icmpecho), hostile clients, DEL, kill -9, SIGTERM; plus measured (not
// asserted) figures: 64-byte packets per second memif -> TAP, and the forwarder's idle CPU.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, Control, Forwarder, SRC, inNs, sh, sleep, until } from './e2e.js';
import { Testpmd, testpmdUnavailable } from './testpmd.js';

const POD = 'mnmt-pod';
const RD = 'mnmt-rd';
const TAP = 'mnmttap0';
const PUT_P1 = `PUT id=p1 podns=/var/run/netns/${POD} sock=memif1 rns=/var/run/netns/${RD} tap=${TAP} mode=ethernet`;

function unavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, TAP devices)';
  if (!existsSync(BIN)) return `${BIN} was not built (no C compiler at build time)`;
  if (spawnSync('cc', ['--version']).error) return 'no C compiler for the fake memif client';
  return testpmdUnavailable();
}

const tapExists = () => sh('ip', ['-n', RD, 'link', 'show', TAP]).code === 0;
const abstractSockets = () => inNs(POD, ['cat', '/proc/net/unix']).out;

/** Waits for the forwarder to log a line matching re (its stderr arrives asynchronously). */
let logged: (re: RegExp) => Promise<void>;

const why = unavailable();
if (why && process.env.CI) {
  test('memif forwarder end to end', () => {
    throw new Error(`${why}: CI must run the memif forwarder end to end`);
  });
} else {
  describe('memif forwarder end to end (dpdk-testpmd as client)', { skip: why ?? false }, () => {
    let dir: string;
    let control: string;
    let fake: string; // test/fake_client.c, built in before()
    let fwd: Forwarder | undefined;
    let ctl: Control;
    let pmd: Testpmd | undefined;
    let tapmac = '';

    const runHostile = (scenario: string) => inNs(POD, [fake, 'memif1', scenario], 15_000).out.trim();
    const cleanNs = () => {
      for (const ns of [POD, RD]) sh('ip', ['netns', 'del', ns]);
    };

    logged = (re: RegExp) => until(`the log line ${re}`, 3000, () => re.test(fwd!.stderr));
    /** Restarts testpmd's port until the forwarder sees it connected. */
    const reconnect = async () => {
      for (let i = 0; ; i++) {
        await pmd!.restartPort();
        try {
          await until('state=connected', 3000, async () => (await ctl.iface('p1'))?.state === 'connected');
          return;
        } catch (e) {
          if (i === 4) throw e;
        }
      }
    };

    before(async () => {
      cleanNs();
      for (const ns of [POD, RD]) assert.equal(sh('ip', ['netns', 'add', ns]).code, 0);
      dir = mkdtempSync(join(tmpdir(), 'mn-memifd-'));
      control = join(dir, 'memifd.sock');
      fake = join(dir, 'fake_client');
      const cc = sh('cc', [
        '-std=c11',
        '-D_GNU_SOURCE',
        '-O1',
        '-o',
        fake,
        join(SRC, 'test', 'fake_client.c'),
        join(SRC, 'memif_conn.c'),
      ]);
      assert.equal(cc.code, 0, cc.out);
      fwd = await Forwarder.start(control);
      ctl = await Control.connect(control);
    });

    after(async () => {
      ctl?.close();
      await pmd?.stop();
      await fwd?.kill('SIGKILL');
      cleanNs();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test('control protocol: HELLO, PUT (idempotent, validated, nothing left on failure), LIST', async () => {
      assert.equal(await ctl.request('HELLO 1'), 'OK memifd 1');
      assert.equal(
        await ctl.request('HELLO 7'),
        'ERR unsupported protocol version 7 (this forwarder speaks 1)',
      );
      const put = await ctl.request(PUT_P1);
      const m = put.match(/^OK p1 tapmac=([0-9a-f]{2}(:[0-9a-f]{2}){5})$/);
      assert.ok(m, put);
      tapmac = m[1]!;
      const link = JSON.parse(sh('ip', ['-j', '-n', RD, 'link', 'show', TAP]).out)[0];
      assert.equal(link.address, tapmac);
      assert.ok(link.flags.includes('UP'), link.flags);
      assert.match(abstractSockets(), /@memif1$/m);
      assert.equal(await ctl.request(PUT_P1), put, 'an identical PUT is a no-op');
      assert.deepEqual(await ctl.list(), [
        'OK 1',
        `IF id=p1 sock=memif1 tap=mnmttap0 state=listening rx=0 tx=0 drops=0 fast=0 mode=ethernet podns=/var/run/netns/${POD}`,
      ]);

      // Failures answer "ERR <field>: <reason>" and leave neither a socket nor a TAP.
      const p2 = `PUT id=p2 podns=/var/run/netns/${POD} sock=memif2 rns=/var/run/netns/${RD} mode=ethernet`;
      assert.match(await ctl.request(`${p2} tap=${TAP}`), /^ERR tap: mnmttap0 in .*already exists$/);
      assert.doesNotMatch(abstractSockets(), /@memif2$/m);
      assert.match(
        await ctl.request(p2.replace(POD, 'mnmt-none') + ' tap=mnmttap9'),
        /^ERR podns: cannot open/,
      );
      assert.match(await ctl.request(p2.replace(RD, 'mnmt-none') + ' tap=mnmttap9'), /^ERR rns: cannot open/);
      assert.doesNotMatch(abstractSockets(), /@memif2$/m);
      assert.equal(sh('ip', ['-n', RD, 'link', 'show', 'mnmttap9']).code, 1);
      assert.match(await ctl.request(`${p2} tap=mnmttap9 log2ring=20`), /^ERR log2ring: /);
      assert.match(await ctl.request(`${p2} tap=mnmttap9 sock=memif9`), /^ERR sock: given twice$/);
      assert.match(
        await ctl.request('PUT id=p2 podns=relative sock=memif2'),
        /^ERR podns: must be an absolute path$/,
      );
      assert.match(await ctl.request('FROB'), /^ERR unknown command FROB/);
      assert.equal(await ctl.request('DEL id=nosuch'), 'OK');
      assert.equal(await ctl.request('A'.repeat(5000)), 'ERR line longer than 4096 bytes');
      // The connection stays usable, and another client (a restarted agent) sees the same state.
      assert.equal(await ctl.request('HELLO 1'), 'OK memifd 1');
      const again = await Control.connect(control);
      assert.deepEqual(await again.list(), await ctl.list());
      again.close();
    });

    test('hostile clients get a DISCONNECT with a reason; the interface keeps listening', async () => {
      assert.match(runHostile('garbage'), /^DISCONNECT 1 unexpected unknown \(type \d+\) before INIT$/);
      assert.equal(runHostile('short'), 'DISCONNECT 1 message of 6 bytes (expected 128)');
      assert.equal(runHostile('badmode'), 'DISCONNECT 3 mode ip (1) requested, this interface is ethernet');
      assert.match(runHostile('outside'), /^DISCONNECT 10 S2M descriptor 0 .* outside the regions$/);
      runHostile('die'); // vanishes after ADD_REGION
      assert.equal(runHostile('first'), 'MESSAGE 2', 'a new client gets HELLO');
      assert.equal((await ctl.iface('p1'))?.state, 'listening');
      await logged(/p1: client hostile gone: client closed the connection/);
    });

    test('dpdk-testpmd (icmpecho) as memif client answers ping through the TAP', async (t) => {
      assert.equal(sh('ip', ['-n', RD, 'addr', 'add', '10.250.0.1/24', 'dev', TAP]).code, 0);
      pmd = await Testpmd.start({
        netns: POD,
        socket: 'memif1',
        filePrefix: 'mnmt1',
        forwardMode: 'icmpecho',
      });
      await until('state=connected', 20_000, async () => (await ctl.iface('p1'))?.state === 'connected');
      assert.ok(await pmd.linkUp());
      assert.equal(runHostile('first'), 'DISCONNECT 7 already connected');
      const ping = inNs(RD, ['ping', '-c', '3', '-i', '0.2', '-W', '2', '10.250.0.2']);
      assert.equal(ping.code, 0, ping.out);
      t.diagnostic(ping.out.split('\n').find((l) => l.includes('received')) ?? '');
      const s = (await ctl.iface('p1'))!;
      assert.equal(s.state, 'connected');
      assert.ok(Number(s.rx) >= 3 && Number(s.tx) >= 3, JSON.stringify(s));
    });

    test('measure: forwarder CPU with a connected idle client over 5 s', async (t) => {
      const c0 = fwd!.cpuSeconds();
      await sleep(5000);
      const used = fwd!.cpuSeconds() - c0;
      t.diagnostic(
        `idle forwarder CPU: ${used.toFixed(2)} s in 5 s (${((used / 5) * 100).toFixed(1)}% of a core)`,
      );
    });

    test('measure: 64-byte packets per second, testpmd txonly -> memif -> TAP', async (t) => {
      const rxKernel = () => Number(inNs(RD, ['cat', `/sys/class/net/${TAP}/statistics/rx_packets`]).out);
      // To the TAP's MAC and address (the kernel's full receive path, ending in ICMP port
      // unreachable), then to a foreign MAC (dropped at L2: the TAP path itself).
      for (const [what, peer] of [
        ['to the TAP address', tapmac],
        ['to a foreign MAC', '02:00:00:00:00:99'],
      ] as const) {
        await pmd!.stop();
        pmd = await Testpmd.start({
          netns: POD,
          socket: 'memif1',
          filePrefix: 'mnmt1',
          forwardMode: 'txonly',
          extra: ['--txpkts=64', `--eth-peer=0,${peer}`, '--tx-ip=10.250.0.2,10.250.0.1'],
        });
        await until('state=connected', 20_000, async () => (await ctl.iface('p1'))?.state === 'connected');
        await sleep(500);
        const k0 = rxKernel(),
          c0 = fwd!.cpuSeconds(),
          s0 = (await ctl.iface('p1'))!,
          t0 = Date.now();
        await sleep(3000);
        const k1 = rxKernel(),
          c1 = fwd!.cpuSeconds(),
          s1 = (await ctl.iface('p1'))!,
          secs = (Date.now() - t0) / 1000;
        t.diagnostic(
          `memif -> TAP, 64 B ${what}: kernel received ${((k1 - k0) / secs / 1e6).toFixed(3)} Mpps ` +
            `(forwarder rx ${((Number(s1.rx) - Number(s0.rx)) / secs / 1e6).toFixed(3)} Mpps, ` +
            `drops ${Number(s1.drops) - Number(s0.drops)}), forwarder CPU ${(((c1 - c0) / secs) * 100).toFixed(0)}%`,
        );
        assert.ok(Number(s1.rx) > Number(s0.rx), 'frames flowed');
      }
      await pmd!.stop();
      pmd = await Testpmd.start({
        netns: POD,
        socket: 'memif1',
        filePrefix: 'mnmt1',
        forwardMode: 'icmpecho',
      });
      await until('state=connected', 20_000, async () => (await ctl.iface('p1'))?.state === 'connected');
    });

    test('DEL disconnects the client (testpmd sees link down) and removes listener and TAP', async () => {
      assert.ok(await pmd!.linkUp());
      assert.equal(await ctl.request('DEL id=p1'), 'OK');
      assert.equal(tapExists(), false);
      assert.doesNotMatch(abstractSockets(), /@memif1$/m);
      await until('testpmd link down', 5000, async () => !(await pmd!.linkUp()));
      assert.deepEqual(await ctl.list(), ['OK 0']);
      assert.equal(await ctl.request('DEL id=p1'), 'OK');
      await logged(/p1: client DPDK [^ ]+ gone: interface deleted \(code 9\)/);
    });

    test('kill -9 leaves no TAP; a restarted forwarder takes over the socket and serves PUT again', async () => {
      assert.match(await ctl.request(PUT_P1), /^OK p1 /);
      await reconnect();
      ctl.close();
      assert.equal((await fwd!.kill('SIGKILL')).signal, 'SIGKILL');
      await until('the TAP to vanish', 5000, () => !tapExists());
      assert.ok(existsSync(control), 'the stale socket file is still there');
      fwd = await Forwarder.start(control);
      await logged(/removed stale control socket/);
      ctl = await Control.connect(control);
      assert.deepEqual(await ctl.list(), ['OK 0'], 'state lives in the forwarder: the agent re-PUTs');
      assert.match(await ctl.request(PUT_P1), /^OK p1 tapmac=/);
      assert.ok(tapExists());
      await until('testpmd to see the old link go', 5000, async () => !(await pmd!.linkUp()));
      await reconnect();
      assert.ok(await pmd!.linkUp());
      assert.equal(sh('ip', ['-n', RD, 'addr', 'add', '10.250.0.1/24', 'dev', TAP]).code, 0);
      const ping = inNs(RD, ['ping', '-c', '2', '-i', '0.2', '-W', '2', '10.250.0.2']);
      assert.equal(ping.code, 0, ping.out);
    });

    test('ip mode: bare IP on the memif, Ethernet on the TAP, ARP and NDP answered by the forwarder', async () => {
      const p4 = `PUT id=p4 podns=/var/run/netns/${POD} sock=memif4 rns=/var/run/netns/${RD} tap=mnmttap4 mode=ip`;
      assert.match(await ctl.request(p4), /^OK p4 /);
      assert.equal(sh('ip', ['-n', RD, 'addr', 'add', '10.251.0.1/24', 'dev', 'mnmttap4']).code, 0);
      const client = spawn('ip', ['netns', 'exec', POD, fake, 'memif4', 'ipecho'], {
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      let said = '';
      client.stdout.on('data', (d: Buffer) => (said += d.toString()));
      const exited = new Promise((r) => client.on('close', r));
      await until('p4 connected', 5000, async () => (await ctl.iface('p4'))?.state === 'connected');
      const ping = inNs(RD, ['ping', '-c', '3', '-i', '0.2', '-W', '2', '10.251.0.2']);
      assert.equal(ping.code, 0, ping.out);
      assert.match(sh('ip', ['-n', RD, 'neigh', 'show', '10.251.0.2']).out, /lladdr 02:00:00:00:00:01 /);
      // IPv6: the forwarder answers the kernel's neighbour solicitation for the client.
      assert.equal(sh('ip', ['-n', RD, 'addr', 'add', 'fd00:251::1/64', 'dev', 'mnmttap4', 'nodad']).code, 0);
      const ping6 = inNs(RD, ['ping', '-6', '-c', '3', '-i', '0.2', '-W', '2', 'fd00:251::2']);
      assert.equal(ping6.code, 0, ping6.out);
      assert.match(sh('ip', ['-n', RD, 'neigh', 'show', 'fd00:251::2']).out, /lladdr 02:00:00:00:00:01 /);
      assert.equal(await ctl.request('DEL id=p4'), 'OK');
      await exited;
      assert.match(said, /^ECHOED ([6-9]|\d\d)\nDISCONNECT 9 interface deleted$/m);
    });

    test('SIGTERM: DISCONNECT "forwarder stopping" to clients, TAPs and socket removed, exit 0', async () => {
      // A second interface with a client stuck in its handshake also gets the DISCONNECT.
      const p3 = `PUT id=p3 podns=/var/run/netns/${POD} sock=memif3 rns=/var/run/netns/${RD} tap=mnmttap3 mode=ip`;
      assert.match(await ctl.request(p3), /^OK p3 /);
      const stalled = spawn('ip', ['netns', 'exec', POD, fake, 'memif3', 'stall'], {
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      let said = '';
      stalled.stdout.on('data', (d: Buffer) => (said += d.toString()));
      const stalledExit = new Promise((r) => stalled.on('exit', r));
      await until('the stalled client', 5000, () => /p3: client accepted/.test(fwd!.stderr));
      ctl.close();
      const { code } = await fwd!.kill('SIGTERM');
      assert.equal(code, 0, fwd!.stderr);
      await stalledExit;
      assert.equal(said.trim(), 'DISCONNECT 9 forwarder stopping');
      await logged(/p1: client DPDK [^ ]+ gone: forwarder stopping \(code 9\)/);
      await logged(/stopped$/m);
      assert.equal(tapExists(), false);
      assert.equal(sh('ip', ['-n', RD, 'link', 'show', 'mnmttap3']).code, 1);
      assert.equal(existsSync(control), false);
      await until('testpmd link down', 5000, async () => !(await pmd!.linkUp()));
      fwd = undefined;
    });
  });
}
