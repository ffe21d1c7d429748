// Policies end to end in a lab: the seed's `pol` enforced by the agents (mnpol nft table in each
// routing namespace) on real TCP connections across nodes, and a relabelled pod. Needs root and
// the built tree.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { Lab } from './lab.js';
import { labSkip, SEED_DIR, sourcePath } from './test-support.js';
import type { Endpoint } from './check.js';

const skip = labSkip;
const SEED = SEED_DIR;
const TESTDATA = sourcePath('./testdata/policies');
const quiet = (): void => undefined;

function connects(netns: string, ip: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = spawn('ip', ['netns', 'exec', netns, 'nc', '-z', '-w', '1', ip, String(port)], {
      stdio: 'ignore',
    });
    c.once('exit', (code) => resolve(code === 0));
  });
}

describe('lab: policies on real traffic', { skip }, () => {
  let lab: Lab;
  let eps: Endpoint[];
  const servers: ChildProcess[] = [];
  const ep = (pod: string, ifName: string): Endpoint => {
    const e = eps.find((x) => x.pod === pod && x.ifName === ifName);
    assert.ok(e, `endpoint ${pod}/${ifName}`);
    return e;
  };
  const listen = async (netns: string, ports: readonly number[]): Promise<void> => {
    const code = `const n=require('net');let k=0;for(const p of ${JSON.stringify(ports)})n.createServer(s=>s.end()).listen(p,'0.0.0.0',()=>{if(++k===${ports.length})console.log('ok')});`;
    const child = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', code], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    servers.push(child);
    await new Promise<void>((resolve, reject) => {
      child.stdout!.once('data', () => resolve());
      child.once('exit', (c) => reject(new Error(`listener exited (${c})`)));
    });
  };
  /** Waits until the agents programmed `pol`: probe -> samplepod:3434 on eth0 opens, :9999 refuses. */
  const settled = async (): Promise<void> => {
    const end = Date.now() + 15_000;
    while (Date.now() < end) {
      if (!(await connects(ep('probe', 'eth0').netns, ep('samplepod', 'eth0').ip, 9999))) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error('policy never enforced');
  };

  before(async () => {
    // A long full-resync period: the test measures the event-driven path, not a queued resync.
    lab = await Lab.up('pl', { nodes: 2, resyncSeconds: 120 }, quiet);
    const r = await lab.apply([SEED, TESTDATA], quiet);
    assert.equal(r.errorCount, 0, JSON.stringify(r.issues));
    eps = await lab.endpoints();
    await listen(ep('samplepod', 'eth0').netns, [3434, 7809, 9999]);
    await listen(ep('probe', 'eth0').netns, [5555, 5588, 6000]);
    await settled();
  });
  after(async () => {
    for (const s of servers) s.kill('SIGKILL');
    await lab?.down(quiet);
  });

  test('seed pol: ingress 3434 on eth0 only, 7809 on blue only; egress 5555/5588 on red only', async () => {
    const cases: [string, string, string, string, number][] = [
      // from, its interface, to, its interface, port
      ['probe', 'eth0', 'samplepod', 'eth0', 3434],
      ['probe', 'eth0', 'samplepod', 'eth0', 7809],
      ['probe', 'eth0', 'samplepod', 'eth0', 9999],
      ['probe', 'eth1', 'samplepod', 'eth1', 7809],
      ['probe', 'eth1', 'samplepod', 'eth1', 3434],
      ['probe', 'eth2', 'samplepod', 'eth2', 3434],
      ['probe', 'eth2', 'samplepod', 'eth2', 7809],
      ['samplepod', 'eth2', 'probe', 'eth2', 5555],
      ['samplepod', 'eth2', 'probe', 'eth2', 5588],
      ['samplepod', 'eth2', 'probe', 'eth2', 6000],
      ['samplepod', 'eth1', 'probe', 'eth1', 5555],
      ['samplepod', 'eth0', 'probe', 'eth0', 5555],
    ];
    const seen = await Promise.all(
      cases.map(async ([a, ai, b, bi, port]) => {
        const ok = await connects(ep(a, ai).netns, ep(b, bi).ip, port);
        return `${a}/${ai} -> ${b}/${bi}:${port} ${ok ? 'open' : 'refused'}`;
      }),
    );
    assert.deepEqual(seen, [
      'probe/eth0 -> samplepod/eth0:3434 open',
      'probe/eth0 -> samplepod/eth0:7809 refused',
      'probe/eth0 -> samplepod/eth0:9999 refused',
      'probe/eth1 -> samplepod/eth1:7809 open',
      'probe/eth1 -> samplepod/eth1:3434 refused',
      'probe/eth2 -> samplepod/eth2:3434 refused',
      'probe/eth2 -> samplepod/eth2:7809 refused',
      'samplepod/eth2 -> probe/eth2:5555 open',
      'samplepod/eth2 -> probe/eth2:5588 open',
      'samplepod/eth2 -> probe/eth2:6000 refused',
      'samplepod/eth1 -> probe/eth1:5555 refused',
      'samplepod/eth0 -> probe/eth0:5555 refused',
    ]);
  });

  test('a relabelled pod changes enforcement within a second', async (t) => {
    const store = await lab.store();
    const key = { kind: 'Pod', namespace: 'default', name: 'samplepod' };
    const cur = (await store.get<{ metadata: { labels: Record<string, string> } }>(key))!;
    const value = structuredClone(cur.value);
    delete value.metadata.labels['demo'];
    const from = ep('probe', 'eth0').netns;
    const to = ep('samplepod', 'eth0').ip;
    const t0 = Date.now();
    await store.update(key, value, cur.resourceVersion);
    // A refused (dropped) probe takes its whole 1 s timeout, so probes are started every 50 ms in
    // parallel; the answer is the start time of the first probe that got through.
    let ms = -1;
    const probes: Promise<void>[] = [];
    while (Date.now() - t0 < 3000 && ms < 0) {
      const started = Date.now() - t0;
      probes.push(
        connects(from, to, 9999).then((ok) => {
          if (ok && (ms < 0 || started < ms)) ms = started;
        }),
      );
      await new Promise((r) => setTimeout(r, 50));
    }
    await Promise.all(probes);
    t.diagnostic(`unselected -> open after ${ms} ms`);
    assert.ok(ms >= 0 && ms <= 1000, `took ${ms} ms`);
  });
});
