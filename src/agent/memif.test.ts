import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeMemifForwarder, Memifd, memifSpecs, parseList, putLine, type MemifSpec } from './memif.js';
import type { DesiredNode } from '../dataplane/types.js';
import { hostVethMac, hostVethName, podMac, routingNs } from '../dataplane/naming.js';
import { silentLogger } from '../util/log.js';

const node = (pods: DesiredNode['pods']): DesiredNode => ({
  name: 'n1',
  netns: 'host',
  underlay: { address: '10.0.0.1', mtu: 1500 },
  networks: [{ name: 'blue', vni: 56, ranges: ['172.19.0.0/16'] }],
  pods,
  remotes: [],
});

const memifPod = {
  network: 'blue',
  netns: '/var/run/netns/cni-1',
  ifname: 'memif1',
  addresses: ['172.19.0.5'],
  routes: ['172.19.0.0/16'],
  kind: 'memif' as const,
};

test('memifSpecs: one entry per memif pod interface, TAP named and addressed as its host side', () => {
  const d = node([memifPod, { ...memifPod, ifname: 'eth1', kind: undefined }]);
  const [s, ...rest] = memifSpecs(d);
  assert.equal(rest.length, 0, 'kernel interfaces are not the forwarder’s');
  assert.deepEqual(s, {
    id: hostVethName(memifPod),
    podNetns: '/var/run/netns/cni-1',
    socket: 'memif1',
    routingNetns: `/var/run/netns/${routingNs('n1', 'blue')}`,
    tap: hostVethName(memifPod),
    mac: hostVethMac(memifPod),
    mode: 'ethernet',
    ips: ['172.19.0.5'],
    peerMac: podMac(memifPod),
    fast: false,
  });
  assert.equal(memifSpecs(d, new Set(['blue']))[0]!.fast, true, 'a network without services');
  assert.equal(
    memifSpecs(d, new Set(['blue']), new Set([hostVethName(memifPod)]))[0]!.fast,
    false,
    'an interface a policy selects goes through nft',
  );
  assert.equal(memifSpecs(node([{ ...memifPod, netns: 'pod-a' }]))[0]!.podNetns, '/var/run/netns/pod-a');
});

test('control protocol lines: PUT carries every field; LIST lines parse by id', () => {
  const s = memifSpecs(node([memifPod]))[0]!;
  assert.equal(
    putLine(s),
    `PUT id=${s.id} podns=/var/run/netns/cni-1 sock=memif1 rns=/var/run/netns/${routingNs('n1', 'blue')} tap=${s.tap} mode=ethernet mac=${s.mac} ips=172.19.0.5 peermac=${s.peerMac} fast=0`,
  );
  const l = parseList(['OK 1', 'IF id=a sock=memif1 tap=a state=connected rx=3 tx=4 drops=0']);
  assert.deepEqual(l.get('a'), {
    id: 'a',
    sock: 'memif1',
    tap: 'a',
    state: 'connected',
    rx: '3',
    tx: '4',
    drops: '0',
  });
});

test('the fake forwarder holds exactly what it is asked, with put/del hooks', async () => {
  const puts: string[] = [];
  const dels: string[] = [];
  const f = new FakeMemifForwarder({ onPut: (s) => puts.push(s.id), onDel: (id) => dels.push(id) });
  const [s] = memifSpecs(node([memifPod]));
  await f.reconcile([s!]);
  await f.reconcile([s!]);
  assert.deepEqual(puts, [s!.id]);
  await f.reconcile([]);
  assert.deepEqual(dels, [s!.id]);
  assert.equal(f.held.size, 0);
});

/** A forwarder stand-in speaking the control protocol, recording requests. */
function fakeMemifd(path: string): { server: Server; requests: string[]; held: Map<string, string> } {
  const requests: string[] = [];
  const held = new Map<string, string>();
  const server = createServer((c) => {
    let buf = '';
    c.setEncoding('utf8');
    c.on('data', (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        requests.push(line);
        const id = /id=(\S+)/.exec(line)?.[1] ?? '';
        if (line === 'HELLO 1') c.write('OK memifd 1\n');
        else if (line === 'LIST')
          c.write(
            `OK ${held.size}\n` +
              [...held]
                .map(([k, v]) => `IF id=${k} sock=${v} tap=${k} state=listening rx=0 tx=0 drops=0\n`)
                .join(''),
          );
        else if (line.startsWith('PUT ')) {
          if (line.includes('sock=memif9')) c.write('ERR sock: refused for the test\n');
          else {
            held.set(id, /sock=(\S+)/.exec(line)![1]!);
            c.write(`OK ${id} tapmac=02:00:00:00:00:02\n`);
          }
        } else if (line.startsWith('DEL ')) {
          held.delete(id);
          c.write('OK\n');
        } else c.write('ERR unknown command\n');
      }
    });
  });
  server.listen(path);
  return { server, requests, held };
}

test('Memifd: HELLO, LIST, then PUT what is missing and DEL what is not wanted; errors named, not thrown', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mn-memifd-'));
  const control = join(dir, 'memifd.sock');
  const fake = fakeMemifd(control);
  try {
    fake.held.set('stale0', 'memif7');
    const m = new Memifd({ binary: '/nonexistent', control, log: silentLogger });
    const [s] = memifSpecs(node([memifPod]));
    assert.deepEqual(await m.reconcile([s!]), { errors: [], changed: true });
    assert.deepEqual(fake.requests.slice(0, 3), ['HELLO 1', 'LIST', 'DEL id=stale0']);
    assert.equal(fake.requests[3], putLine(s!));
    assert.deepEqual([...fake.held.keys()], [s!.id]);
    // Held already: only LIST.
    fake.requests.length = 0;
    assert.deepEqual(await m.reconcile([s!]), { errors: [], changed: false });
    assert.deepEqual(fake.requests, ['LIST']);
    const bad: MemifSpec = { ...s!, id: 'x1', tap: 'x1', socket: 'memif9' };
    const { errors: errs } = await m.reconcile([s!, bad]);
    assert.equal(errs.length, 1);
    assert.match(errs[0]!, /memif9 \(x1\): sock: refused for the test/);
    await m.close();
  } finally {
    fake.server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Memifd: nothing wanted and no forwarder running: none is started', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mn-memifd-'));
  try {
    const m = new Memifd({ binary: '/nonexistent', control: join(dir, 'none.sock'), log: silentLogger });
    assert.deepEqual(await m.reconcile([]), { errors: [], changed: false });
    const { errors: errs } = await m.reconcile(memifSpecs(node([memifPod])));
    assert.match(errs[0] ?? '', /memif forwarder \/nonexistent is missing/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Memifd external (its own container): never starts one, says so until it answers', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mn-memifd-'));
  try {
    const control = join(dir, 'none.sock');
    const m = new Memifd({ binary: '/bin/true', control, spawn: false, log: silentLogger });
    const { errors: errs } = await m.reconcile(memifSpecs(node([memifPod])));
    assert.match(
      errs[0] ?? '',
      /memif forwarder not answering on .*none\.sock \(it runs in its own container/,
    );
    assert.equal(existsSync(`${control}.pid`), false, 'nothing started');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('memifSpecs: IP mode when the pod interface asks for it (never switched directly)', () => {
  const [s] = memifSpecs(node([{ ...memifPod, memifMode: 'ip' }]), new Set(['blue']));
  assert.equal(s!.mode, 'ip');
  assert.equal(s!.fast, false);
});
