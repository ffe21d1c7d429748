// The health endpoints over a real Agent (memory store behind FaultyStore, fake dataplane, a real
// CNI socket in a temp folder): what a DaemonSet's probes see through start, an outage and stop.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore } from '../store/memory.js';
import { FaultyStore } from '../store/faulty.js';
import { FakeDataplane } from '../dataplane/fake.js';
import { silentLogger } from '../util/log.js';
import { Agent } from './agent.js';
import { blueNetwork, blueRequest, SequentialAllocator } from '../testing/agent-fixtures.js';
import { startHealthServer } from './health-server.js';

const addReq = blueRequest('ADD', 'pa');

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    r.on('error', reject);
    r.end();
  });
}

async function waitFor(what: string, pred: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'mn-health-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('readyz follows the agent through start, an outage and stop; livez stays ok', async () => {
  const mem = new MemoryStore();
  await mem.create({ kind: 'Network', namespace: '', name: 'blue' }, blueNetwork());
  const store = new FaultyStore(mem);
  const dp = new FakeDataplane();
  dp.kernel.addNamespace('mn-n1');
  dp.kernel.addNamespace('/run/netns/pa');
  const socketPath = join(dir, 'cni.sock');
  const agent = new Agent({
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
    backoff: { initialMs: 10, maxMs: 50 },
    progressMs: 0,
  });
  const health = await startHealthServer(agent, { host: '127.0.0.1', port: 0 });
  try {
    const port = health.port;
    const r0 = await get(port, '/readyz');
    assert.equal(r0.status, 503);
    assert.equal(r0.body, 'not ready: first sync not done (the agent is starting: store not in sync yet)\n');

    store.down('etcd unreachable (injected)');
    const starting = agent.start();
    await waitFor('the agent to wait for its store', async () =>
      /waiting for the store/.test((await get(port, '/readyz')).body),
    );
    const waiting = await get(port, '/readyz?verbose');
    assert.equal(waiting.status, 503);
    assert.match(
      waiting.body,
      /\[-\]first-sync failed: first sync not done \(waiting for the store .*etcd unreachable/,
    );
    assert.match(waiting.body, /\[\+\]cni-socket ok/, 'the socket is served (answering 11) meanwhile');
    assert.equal((await get(port, '/livez')).status, 200, 'waiting for the store is alive');

    store.up();
    await starting;
    assert.deepEqual(await get(port, '/readyz'), { status: 200, body: 'ok\n' });
    await agent.cni.add(addReq, { signal: new AbortController().signal });
    const m = (await get(port, '/metrics')).body;
    assert.match(m, /\nmultinet_agent_ready 1\n/);
    assert.match(m, /\nmultinet_agent_store_watch_connected 1\n/);
    assert.match(m, /\nmultinet_agent_attachments 1\n/);
    assert.match(m, /\nmultinet_agent_last_sync_timestamp_seconds \d+(\.\d+)?\n/);

    store.down('etcd unreachable (injected)');
    await waitFor('the watch loss', async () => (await get(port, '/readyz')).status === 503);
    assert.match(
      (await get(port, '/readyz')).body,
      /^not ready: store watch lost \(\d+ failures?\): etcd unreachable \(injected\)\n$/,
    );
    assert.deepEqual(
      await get(port, '/livez'),
      { status: 200, body: 'ok\n' },
      'an outage is not a liveness failure',
    );
    assert.match((await get(port, '/metrics')).body, /\nmultinet_agent_store_watch_connected 0\n/);

    store.up();
    await waitFor('ready again', async () => (await get(port, '/readyz')).status === 200);

    await agent.stop();
    assert.deepEqual(await get(port, '/readyz'), {
      status: 503,
      body: `not ready: CNI socket ${socketPath} does not answer\n`,
    });
  } finally {
    await agent.stop();
    await health.close();
  }
});
