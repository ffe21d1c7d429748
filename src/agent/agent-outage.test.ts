// The agent while its store is unreachable: started with the store down it waits (no exit) and
// answers CNI "try again later"; the store back, it becomes ready by itself; an outage later on
// leaves the cache and the dataplane as they are, and the watch is re-listed when the store returns.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore } from '../store/memory.js';
import { FaultyStore } from '../store/faulty.js';
import { EtcdStore } from '../store/etcd.js';
import { ownEtcdUnavailableReason, startOwnTestEtcd } from '../store/etcd-test-server.js';
import type { Store } from '../store/types.js';
import { FakeDataplane } from '../dataplane/fake.js';
import { silentLogger } from '../util/log.js';
import { ErrorCode } from '../cni/spec.js';
import { Agent } from './agent.js';
import { blueNetwork, blueRequest, SequentialAllocator } from '../testing/agent-fixtures.js';
import type { CniRequest, CniResponse } from '../cni/protocol.js';
import { KIND_ATTACHMENT } from '../calc/records.js';

const blue = blueNetwork();

function req(command: CniRequest['command'], pod: string, netns = `/run/netns/${pod}`): CniRequest {
  return blueRequest(command, pod, { netns });
}

/** One request over the agent's socket, as the plugin sends it; the answer line (acked). */
function call(path: string, r: CniRequest): Promise<CniResponse> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    let buf = '';
    s.on('connect', () => s.write(JSON.stringify(r) + '\n'));
    s.on('data', (d) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        const resp = JSON.parse(buf.slice(0, nl)) as CniResponse;
        if ('result' in resp) s.end('ack\n');
        else s.end();
        resolve(resp);
      }
    });
    s.on('error', reject);
  });
}

const errorCode = (r: CniResponse): number | undefined => ('error' in r ? r.error.code : undefined);

async function waitFor(what: string, pred: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'mn-outage-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function newAgent(store: Store, dp: FakeDataplane, socketPath: string): Agent {
  if (!dp.kernel.namespaces.has('mn-n1')) dp.kernel.addNamespace('mn-n1');
  return new Agent({
    node: 'n1',
    netns: 'mn-n1',
    underlay: '10.99.0.1',
    mtu: 1500,
    store,
    dataplane: dp,
    ipam: new SequentialAllocator(),
    log: silentLogger,
    socketPath,
    resyncMs: 0,
    backoff: { initialMs: 10, maxMs: 100 },
    progressMs: 0,
  });
}

describe('agent with its store unreachable', () => {
  test('started with the store down: waits, answers 11, becomes ready when the store returns', async () => {
    const mem = new MemoryStore();
    await mem.create({ kind: 'Network', namespace: '', name: 'blue' }, blue);
    const store = new FaultyStore(mem);
    store.down();
    const dp = new FakeDataplane();
    dp.kernel.addNamespace('/run/netns/pa');
    const sock = join(dir, 'a.sock');
    const agent = newAgent(store, dp, sock);
    const kernelBefore = JSON.stringify([...dp.kernel.namespaces]);
    let started = false;
    const starting = agent.start().then(() => (started = true));
    await waitFor('the CNI socket', () => agent.cni.reason?.startsWith('waiting for the store') ?? false);

    const t0 = Date.now();
    const add = await call(sock, req('ADD', 'pa'));
    const answerMs = Date.now() - t0;
    assert.equal(errorCode(add), ErrorCode.TryAgainLater, JSON.stringify(add));
    assert.ok(answerMs < 1000, `ADD answered in ${answerMs} ms`);
    if ('error' in add) assert.match(add.error.details ?? '', /waiting for the store.*unreachable/);
    assert.equal(errorCode(await call(sock, req('DEL', 'pa'))), ErrorCode.TryAgainLater);
    assert.equal(errorCode(await call(sock, req('STATUS', ''))), ErrorCode.PluginNotAvailable);
    assert.equal(started, false);
    assert.equal(
      JSON.stringify([...dp.kernel.namespaces]),
      kernelBefore,
      'nothing written to the kernel before the first list',
    );

    // Up again, but the first list fails half way (one kind): still ready by itself.
    let failOnce = true;
    store.failWhen = (m, kind) => m === 'list' && kind === 'Pod' && failOnce && !(failOnce = false);
    const tUp = Date.now();
    store.up();
    await starting;
    const readyMs = Date.now() - tUp;
    assert.equal(failOnce, false, 'the half-way failure happened');
    assert.equal(agent.cni.ready, true);
    const ok = await call(sock, req('ADD', 'pa'));
    assert.ok('result' in ok, JSON.stringify(ok));
    assert.equal((await mem.list(KIND_ATTACHMENT)).items.length, 1);
    console.log(
      `# CNI ADD with the store down answered 11 in ${answerMs} ms; ready ${readyMs} ms after the store returned`,
    );
    await agent.stop();
  });

  test('an outage later: dataplane and cache kept, CNI gets 11, the watch is re-listed after', async () => {
    const mem = new MemoryStore();
    await mem.create({ kind: 'Network', namespace: '', name: 'blue' }, blue);
    const store = new FaultyStore(mem);
    const dp = new FakeDataplane();
    dp.kernel.addNamespace('/run/netns/pb');
    dp.kernel.addNamespace('/run/netns/pc');
    const sock = join(dir, 'b.sock');
    const agent = newAgent(store, dp, sock);
    await agent.start();
    assert.ok('result' in (await call(sock, req('ADD', 'pb'))));
    const kernelBefore = JSON.stringify([...dp.kernel.namespaces]);
    const desiredBefore = JSON.stringify(agent.desired());

    store.down();
    await waitFor('the gate to close', () => !agent.cni.ready);
    assert.equal(agent.watchHealth.connected, false);
    const t0 = Date.now();
    const add = await call(sock, req('ADD', 'pc'));
    assert.equal(errorCode(add), ErrorCode.TryAgainLater);
    assert.ok(Date.now() - t0 < 1000);
    // A full resync during the outage changes nothing: nothing is deleted for lack of a store.
    await new Promise((r) => setTimeout(r, 100));
    const report = await agent.sync();
    assert.equal(report.changes, 0);
    assert.equal(JSON.stringify([...dp.kernel.namespaces]), kernelBefore);
    assert.equal(JSON.stringify(agent.desired()), desiredBefore);
    assert.ok(agent.watchStatus().failures >= 1);

    // Written while we could not see it: the re-list brings it in.
    await mem.create(
      { kind: 'Network', namespace: '', name: 'red' },
      {
        ...blue,
        metadata: { name: 'red' },
        spec: { vni: 57, range: '172.20.0.0/16' },
      },
    );
    store.up();
    await waitFor('ready again', () => agent.cni.ready);
    assert.ok(agent.cache.networks.has('red'), 'the re-list replaced the cache');
    assert.ok(agent.cache.networks.has('blue'));
    assert.ok('result' in (await call(sock, req('ADD', 'pc'))));
    assert.equal(agent.watchStatus().connected, true);
    assert.ok((agent.watchStatus().staleSeconds ?? 99) < 1);
    await agent.stop();
  });

  test('stop() while waiting for the store ends start() at once', async () => {
    const store = new FaultyStore(new MemoryStore());
    store.down();
    const agent = newAgent(store, new FakeDataplane(), join(dir, 'c.sock'));
    const starting = agent.start();
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    await agent.stop();
    await starting;
    assert.ok(Date.now() - t0 < 500, `took ${Date.now() - t0} ms`);
  });
});

const noEtcd = ownEtcdUnavailableReason();
describe('agent on a real etcd that is down at start', { skip: noEtcd }, () => {
  test('answers 11 while etcd is down, becomes ready when it is restarted, watches again', async () => {
    const etcd = await startOwnTestEtcd();
    const prefix = `/mn-agent-${process.pid}/`;
    const admin = await EtcdStore.connect([etcd.endpoint], { prefix });
    await admin.create({ kind: 'Network', namespace: '', name: 'blue' }, blue);
    await admin.close();
    await etcd.kill();
    const store = await EtcdStore.connect([etcd.endpoint], { prefix, callTimeoutMs: 1000, failFast: false });
    const dp = new FakeDataplane();
    dp.kernel.addNamespace('/run/netns/pe');
    const sock = join(dir, 'e.sock');
    const agent = newAgent(store, dp, sock);
    try {
      const starting = agent.start();
      await waitFor('the CNI socket', () => agent.cni.reason?.startsWith('waiting for the store') ?? false);
      const t0 = Date.now();
      const add = await call(sock, req('ADD', 'pe'));
      const answerMs = Date.now() - t0;
      assert.equal(errorCode(add), ErrorCode.TryAgainLater, JSON.stringify(add));
      assert.ok(answerMs < 2000, `${answerMs} ms`);

      const tUp = Date.now();
      await etcd.restart();
      const answeringMs = Date.now() - tUp;
      await starting;
      const readyMs = Date.now() - tUp;
      assert.equal(agent.cni.ready, true);
      assert.ok('result' in (await call(sock, req('ADD', 'pe'))));

      // Killed again once ready: CNI gets 11, then the watch is back by itself.
      await etcd.kill();
      await waitFor('the gate to close', () => !agent.cni.ready);
      assert.equal(errorCode(await call(sock, req('ADD', 'pf', '/run/netns/pe'))), ErrorCode.TryAgainLater);
      const tUp2 = Date.now();
      await etcd.restart();
      await waitFor('ready again', () => agent.cni.ready, 20_000);
      const againMs = Date.now() - tUp2;
      console.log(
        `# etcd down at start: ADD answered 11 in ${answerMs} ms; etcd answered ${answeringMs} ms after restart, ` +
          `agent ready after ${readyMs} ms; killed and restarted when ready: ready again after ${againMs} ms`,
      );
    } finally {
      await agent.stop();
      await store.close();
      await etcd.stop();
    }
  });
});
