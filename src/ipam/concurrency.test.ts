// 8 OS processes allocate and release at random on one store; the recorded history must never show
// an address held by two holders at once, and everything must be free at the end. Then a crash:
// kill -9 an allocator mid-run, reconcile after the grace period, check nothing leaked and nothing
// live was freed. Runs on the embedded store and on a real etcd.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../store/open.js';
import { etcdUnavailableReason, startTestEtcd, type TestEtcd } from '../store/etcd-test-server.js';
import { FakeKubeApiServer } from '../store/kube-fake-server.js';
import { kubeTestsBlocked, startTestKube, type TestKube } from '../store/kube-test-server.js';
import { forkWorker, waitMessage } from './fork-worker.js';
import type { HistoryLine } from './load-worker.js';
import type { IpPool } from './pool.js';
import { reconcile } from './reconcile.js';
import { ALLOCATION_KIND, RESERVATION_KIND } from './records.js';

const dir = mkdtempSync(join(tmpdir(), 'mn-ipamc-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Holding intervals [allocEnd, releaseStart] per address must not overlap between holders. */
function checkHistory(lines: HistoryLine[]): void {
  const open = new Map<string, number>(); // holder -> allocEnd
  const intervals = new Map<string, Array<[number, number, string]>>();
  for (const l of lines) {
    if (l.op === 'alloc') open.set(l.holder, l.t1);
    else {
      const start = open.get(l.holder);
      assert.ok(start !== undefined, `release without alloc for ${l.holder}`);
      open.delete(l.holder);
      const list = intervals.get(l.address!) ?? [];
      list.push([start, l.t0, l.holder]);
      intervals.set(l.address!, list);
    }
  }
  assert.equal(open.size, 0, 'every allocation was released');
  for (const [addr, list] of intervals) {
    list.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < list.length; i++) {
      assert.ok(
        list[i]![0] >= list[i - 1]![1],
        `${addr} held by ${list[i - 1]![2]} and ${list[i]![2]} at once`,
      );
    }
  }
}

function scenarios(name: string, url: () => string): void {
  describe(`IPAM concurrency on ${name}`, () => {
    test('8 processes allocating and releasing at random: never a duplicate, all free at the end', async () => {
      // Small pool (62 addresses) for 8 x 6 holders: heavy contention on purpose.
      const pool: IpPool = { network: `conc-${name}`, ranges: [{ range: '10.9.0.0/26' }] };
      const historyFile = join(dir, `history-${name}.jsonl`);
      const workers = Array.from({ length: 8 }, (_, i) =>
        forkWorker({ storeUrl: url(), pool, id: `w${i}`, mode: 'churn', ops: 60, holders: 6, historyFile }),
      );
      await Promise.all(workers.map((w) => waitMessage(w, 'done')));
      const lines = readFileSync(historyFile, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as HistoryLine);
      assert.ok(lines.length >= 8 * 60);
      checkHistory(lines);
      const s = await openStore(url());
      try {
        assert.equal((await s.list(RESERVATION_KIND, pool.network)).items.length, 0);
        assert.equal((await s.list(ALLOCATION_KIND, pool.network)).items.length, 0);
      } finally {
        await s.close();
      }
    });

    test('kill -9 mid-allocation, reconcile after grace: nothing leaked, nothing live freed', async () => {
      const pool: IpPool = { network: `crash-${name}`, ranges: [{ range: '10.8.0.0/24' }] };
      const victim = forkWorker({
        storeUrl: url(),
        pool,
        id: 'victim',
        mode: 'churn',
        ops: 100000,
        holders: 40,
      });
      const survivor = forkWorker({ storeUrl: url(), pool, id: 'live', mode: 'bench', ops: 20 });
      await waitMessage(survivor, 'ready');
      survivor.send('go');
      await waitMessage(survivor, 'result'); // 20 live allocations held by 'live'
      await waitMessage(victim, 'allocated');
      await new Promise((r) => setTimeout(r, 150));
      victim.kill('SIGKILL');
      await new Promise((r) => victim.once('exit', r));
      const s = await openStore(url());
      try {
        const before = (await s.list<{ podName: string }>(RESERVATION_KIND, pool.network)).items;
        assert.ok(
          before.some((r) => r.value.podName.startsWith('victim')),
          'the victim held addresses when killed',
        );
        const isLive = (_ns: string, podName: string) => podName.startsWith('live');
        const graceMs = 300;
        const young = await reconcile(s, { isLive, graceMs: 60_000 });
        assert.equal(young.freed.length, 0, 'nothing freed within the grace period');
        await new Promise((r) => setTimeout(r, graceMs));
        const r = await reconcile(s, { isLive, graceMs });
        assert.ok(r.freed.length > 0);
        assert.ok(
          r.freed.every((f) => f.podName.startsWith('victim')),
          'only the dead holder was freed',
        );
        const left = (await s.list<{ podName: string }>(RESERVATION_KIND, pool.network)).items;
        assert.equal(left.length, 20);
        assert.ok(left.every((x) => x.value.podName.startsWith('live')));
        const idx = (await s.list<{ podName: string }>(ALLOCATION_KIND, pool.network)).items;
        assert.ok(idx.every((x) => x.value.podName.startsWith('live')));
      } finally {
        survivor.send('release');
        await waitMessage(survivor, 'done');
        await s.close();
      }
    });
  });
}

scenarios('embedded', () => `embedded://${dir}/store.db`);

const skip = etcdUnavailableReason();
if (skip) {
  test('IPAM concurrency on etcd', (t) => t.skip(skip));
} else {
  let etcd: TestEtcd | undefined;
  before(async () => {
    etcd = await startTestEtcd();
  });
  after(async () => {
    await etcd?.stop();
  });
  scenarios('etcd', () => etcd!.url);
}

// kubernetes:// against the fake API server (kube-fake-server.ts), in this process.
{
  const fake = new FakeKubeApiServer();
  const kc = join(dir, 'fake-kubeconfig');
  before(async () => {
    await fake.start();
    writeFileSync(
      kc,
      `current-context: f\ncontexts: [{name: f, context: {cluster: f, user: f}}]\nclusters: [{name: f, cluster: {server: "${fake.url}"}}]\nusers: [{name: f, user: {}}]\n`,
    );
  });
  after(async () => {
    await fake.stop();
  });
  scenarios('kubernetes-fake', () => `kubernetes://?kubeconfig=${kc}`);
}

// kubernetes:// on a real kube-apiserver (kube-test-server.ts).
if (!kubeTestsBlocked('IPAM concurrency on kubernetes', test)) {
  let kube: TestKube | undefined;
  before(async () => {
    kube = await startTestKube();
  });
  after(async () => {
    await kube?.stop();
  });
  scenarios('kubernetes', () => `kubernetes://?kubeconfig=${kube!.kubeconfig}`);
}
