import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { createServer } from 'node:net';
import type { HealthSource, HealthState } from './health.js';
import { startHealthServer, type HealthServer } from './health-server.js';

const NOW = 1_700_000_000_000;

class FakeSource implements HealthSource {
  state: HealthState = {
    firstSyncDone: true,
    cniRefusal: undefined,
    watch: { connected: true, failures: 0, staleMs: 1500 },
    lastSyncAt: NOW - 2_000,
    syncRunningSince: undefined,
    syncs: 4,
    resyncMs: 30_000,
    attachments: 2,
    socketPath: '/run/multinet/cni.sock',
  };
  socket = true;
  healthState(): HealthState {
    return this.state;
  }
  async cniSocketAnswers(): Promise<boolean> {
    return this.socket;
  }
}

function get(
  port: number,
  path: string,
  method = 'GET',
): Promise<{ status: number; body: string; type: string | undefined }> {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: res.headers['content-type'] }));
    });
    r.on('error', reject);
    r.end();
  });
}

describe('health server', () => {
  const src = new FakeSource();
  let server: HealthServer;
  before(async () => {
    server = await startHealthServer(src, { host: '127.0.0.1', port: 0, now: () => NOW });
  });
  after(() => server.close());

  test('listens on the address given, with the port bound', () => {
    assert.ok(server.port > 0);
    assert.equal(server.address, `127.0.0.1:${server.port}`);
  });

  test('/readyz: 200 ok when ready, 503 with the reason otherwise; ?verbose lists each check', async () => {
    assert.deepEqual(await get(server.port, '/readyz'), {
      status: 200,
      body: 'ok\n',
      type: 'text/plain; charset=utf-8',
    });
    const v = await get(server.port, '/readyz?verbose');
    assert.equal(v.status, 200);
    assert.equal(v.body, '[+]first-sync ok\n[+]store-watch ok\n[+]cni-gate ok\n[+]cni-socket ok\nok\n');

    src.socket = false;
    const noSock = await get(server.port, '/readyz');
    assert.equal(noSock.status, 503);
    assert.equal(noSock.body, 'not ready: CNI socket /run/multinet/cni.sock does not answer\n');
    src.socket = true;

    const saved = src.state;
    src.state = {
      ...saved,
      cniRefusal: 'store watch lost, re-listing (etcd://e:2379): unavailable',
      watch: { connected: false, failures: 3, lastError: 'unavailable', staleMs: 45_000 },
    };
    const lost = await get(server.port, '/readyz');
    assert.equal(lost.status, 503);
    assert.equal(lost.body, 'not ready: store watch lost (3 failures): unavailable\n');
    const lostV = await get(server.port, '/readyz?verbose=1');
    assert.equal(lostV.status, 503);
    assert.match(lostV.body, /^\[\+\]first-sync ok\n\[-\]store-watch failed: store watch lost/);
    assert.match(lostV.body, /\nnot ready: store watch lost \(3 failures\): unavailable\n$/);
    // The outage does not touch liveness.
    assert.equal((await get(server.port, '/livez')).status, 200);
    src.state = saved;
  });

  test('/livez: 200 ok, 500 with the reason when the sync loop is wedged', async () => {
    assert.deepEqual(await get(server.port, '/livez'), {
      status: 200,
      body: 'ok\n',
      type: 'text/plain; charset=utf-8',
    });
    assert.equal((await get(server.port, '/livez?verbose')).body, '[+]sync-loop ok\nok\n');
    const saved = src.state;
    src.state = { ...saved, syncRunningSince: NOW - 600_000 };
    const stuck = await get(server.port, '/livez');
    assert.equal(stuck.status, 500);
    assert.equal(stuck.body, 'not live: a sync pass has been running for 600 s\n');
    src.state = saved;
  });

  test('/metrics: Prometheus text with the gauges', async () => {
    const m = await get(server.port, '/metrics');
    assert.equal(m.status, 200);
    assert.equal(m.type, 'text/plain; version=0.0.4; charset=utf-8');
    const samples = Object.fromEntries(
      m.body
        .split('\n')
        .filter((l) => l && !l.startsWith('#'))
        .map((l) => l.split(' ') as [string, string]),
    );
    assert.deepEqual(samples, {
      multinet_agent_ready: '1',
      multinet_agent_store_watch_connected: '1',
      multinet_agent_store_watch_failures: '0',
      multinet_agent_store_stale_seconds: '1.5',
      multinet_agent_last_sync_timestamp_seconds: String((NOW - 2000) / 1000),
      multinet_agent_syncs_total: '4',
      multinet_agent_attachments: '2',
    });
    assert.match(
      m.body,
      /^# HELP multinet_agent_ready .+\n# TYPE multinet_agent_ready gauge\nmultinet_agent_ready 1\n/,
    );
    assert.match(m.body, /# TYPE multinet_agent_syncs_total counter\n/);

    const saved = src.state;
    src.state = {
      ...saved,
      firstSyncDone: false,
      cniRefusal: 'starting',
      watch: { connected: false, failures: 2, lastError: 'x' },
      lastSyncAt: undefined,
    };
    const down = (await get(server.port, '/metrics')).body;
    assert.match(down, /\nmultinet_agent_ready 0\n/);
    assert.match(down, /\nmultinet_agent_store_watch_connected 0\n/);
    assert.match(down, /\nmultinet_agent_store_watch_failures 2\n/);
    assert.doesNotMatch(down, /\nmultinet_agent_store_stale_seconds /, 'unknown: no sample');
    assert.doesNotMatch(down, /\nmultinet_agent_last_sync_timestamp_seconds /);
    assert.match(down, /# TYPE multinet_agent_last_sync_timestamp_seconds gauge\n/);
    src.state = saved;
  });

  test('404 for anything else, 405 for other methods, HEAD answers without a body', async () => {
    for (const p of ['/', '/healthz', '/readyz/x', '/metricsz'])
      assert.equal((await get(server.port, p)).status, 404, p);
    const post = await get(server.port, '/readyz', 'POST');
    assert.equal(post.status, 405);
    assert.deepEqual(await get(server.port, '/readyz', 'HEAD'), {
      status: 200,
      body: '',
      type: 'text/plain; charset=utf-8',
    });
  });
});

test('a port in use is a clear error naming the address', async () => {
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  const port = (busy.address() as { port: number }).port;
  try {
    await assert.rejects(
      startHealthServer(new FakeSource(), { host: '127.0.0.1', port }),
      new RegExp(
        `^Error: health endpoints: cannot listen on 127\\.0\\.0\\.1:${port}: the address is already in use$`,
      ),
    );
  } finally {
    busy.close();
  }
});
