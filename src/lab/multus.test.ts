// The real Multus in the kube lab, without root or a binary: which Multus a lab picks, the files a
// node's Multus reads, and the kubelet role calling Multus as the pod's only CNI network (a
// MemoryStore as the API server, a fake runner as `ip` and Multus).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore } from '../store/memory.js';
import type { RunOptions, RunResult, Runner } from '../util/exec.js';
import { silentLogger } from '../util/log.js';
import { LabKubelet, type PodApi } from './kubelet.js';
import { makeLabConfig, type LabConfig } from './layout.js';
import { describeMultus, findMultus, multusDir, prepareMultusNode } from './multus.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'mn-multus-'));
}

test('findMultus: none forces the emulation; a missing binary says how to build it; a binary says its version', () => {
  assert.deepEqual(findMultus({ MULTINET_MULTUS_BIN: 'none' }), {
    kind: 'emulated',
    why: 'MULTINET_MULTUS_BIN=none',
  });
  const missing = findMultus({ MULTINET_MULTUS_BIN: '/nonexistent/multus' });
  assert.equal(missing.kind, 'emulated');
  assert.match(describeMultus(missing), /emulated .*\/nonexistent\/multus.*scripts\/multus-bin\.sh/);
  const dir = tmp();
  try {
    const bin = join(dir, 'multus');
    writeFileSync(bin, '#!/bin/sh\necho "multus: version:v4.2.4(cleanreleased), commit:x, date:y"\n');
    chmodSync(bin, 0o755);
    const m = findMultus({ MULTINET_MULTUS_BIN: bin });
    assert.deepEqual(m, { kind: 'thin', binary: bin, version: 'v4.2.4' });
    assert.match(describeMultus(m), /^Multus: the real thin plugin v4\.2\.4 \(/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function kubeLab(dir: string): LabConfig {
  const c = makeLabConfig('t', 1, undefined, { apiPort: 1, etcdPort: 2, etcdPeerPort: 3 });
  return { ...c, dir, kube: { ...c.kube!, dir: join(dir, 'kube') } };
}

test("a node's Multus files: thin netconf (kubeconfig, folder clusterNetwork, cache), our conflist for eth0", () => {
  const dir = tmp();
  try {
    const lab = kubeLab(dir);
    const node = lab.nodes[0]!;
    const chain = prepareMultusNode(lab, node, '/bin/cni');
    assert.equal(chain.name, 'multus-cni-network');
    const plugin = chain.plugins[0]!;
    const md = multusDir(lab, node);
    assert.deepEqual(plugin, {
      type: 'multus',
      kubeconfig: join(dir, 'kube', `${node.name}-multus.kubeconfig`),
      clusterNetwork: join(md, 'net.d'),
      confDir: join(md, 'net.d'),
      cniDir: join(md, 'cache'),
      binDir: '/bin/cni',
      logFile: join(md, 'multus.log'),
      logLevel: 'verbose',
      logToStderr: false,
    });
    assert.ok(existsSync(join(md, 'cache')));
    const conflist = JSON.parse(readFileSync(join(md, 'net.d', 'multinet-default.conflist'), 'utf8')) as {
      name: string;
      plugins: Record<string, unknown>[];
    };
    assert.equal(conflist.name, 'multinet-default');
    assert.deepEqual(conflist.plugins[0], {
      type: 'multinet',
      ipam: { type: 'multinet-ipam' },
      dataplane_options: { network_name: 'default' },
      runtimeConfig: { 'default-route': true },
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** `ip` and the Multus binary: ADD answers eth0's result, DEL nothing. */
class FakeRunner implements Runner {
  readonly cni: { command: string; ifName: string; conf: Record<string, unknown> }[] = [];
  async run(cmd: string, _args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    if (cmd === 'ip') return { code: 0, stdout: '', stderr: '' };
    const env = opts.env ?? {};
    this.cni.push({
      command: env.CNI_COMMAND!,
      ifName: env.CNI_IFNAME!,
      conf: JSON.parse(opts.input ?? '{}') as Record<string, unknown>,
    });
    if (env.CNI_COMMAND !== 'ADD') return { code: 0, stdout: '', stderr: '' };
    const r = {
      cniVersion: '1.0.0',
      interfaces: [{ name: 'eth0', mac: '02:00:00:00:00:01', sandbox: env.CNI_NETNS }],
      ips: [{ address: '10.244.0.7/32', gateway: '169.254.1.1', interface: 0 }],
    };
    return { code: 0, stdout: JSON.stringify(r), stderr: '' };
  }
}

class FakePodApi implements PodApi {
  readonly ops: string[] = [];
  readonly statuses: Record<string, unknown>[] = [];
  constructor(private readonly store: MemoryStore) {}
  async patchAnnotations(): Promise<void> {
    this.ops.push('annotations');
  }
  async patchStatus(_ns: string, _name: string, status: Record<string, unknown>): Promise<void> {
    this.ops.push('status');
    this.statuses.push(status);
  }
  async deleteNow(ns: string, name: string): Promise<void> {
    this.ops.push('deleteNow');
    await this.store.delete({ kind: 'Pod', namespace: ns, name });
  }
}

async function until(what: string, ok: () => boolean): Promise<void> {
  const end = Date.now() + 5000;
  while (!ok()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('kubelet with Multus: one ADD of Multus for eth0, no network-status of its own, DEL through Multus', async () => {
  const dir = tmp();
  const store = new MemoryStore();
  try {
    const lab = kubeLab(dir);
    const node = lab.nodes[0]!;
    const cniPath = join(dir, 'cni-bin');
    mkdirSync(cniPath);
    writeFileSync(join(cniPath, 'multus'), '', { mode: 0o755 });
    const runner = new FakeRunner();
    const api = new FakePodApi(store);
    const kubelet = new LabKubelet({
      lab,
      node,
      store,
      api,
      runner,
      cniPath,
      log: silentLogger,
      stateDir: join(dir, 'state'),
      retryMs: 10,
      multus: prepareMultusNode(lab, node, cniPath),
    });
    const key = { kind: 'Pod', namespace: 'default', name: 'web' };
    const value = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'web',
        namespace: 'default',
        uid: 'uid-web',
        // Multus reads it: the kubelet role neither decodes it nor calls the NAD's plugins.
        annotations: { 'k8s.v1.cni.cncf.io/networks': 'blue-conf@eth1' },
      },
      spec: { nodeName: node.name, containers: [{ name: 'c' }] },
    };
    await store.create(key, value);
    const ac = new AbortController();
    const done = kubelet.run(ac.signal);
    await until('web reported', () => api.statuses.length > 0);
    assert.deepEqual(
      runner.cni.map((c) => [c.command, c.ifName, c.conf.type]),
      [['ADD', 'eth0', 'multus']],
    );
    assert.equal(runner.cni[0]!.conf.name, 'multus-cni-network');
    assert.deepEqual(api.ops, ['status'], 'network-status is Multus to write');
    assert.equal(api.statuses[0]!.phase, 'Running');
    assert.equal(api.statuses[0]!.podIP, '10.244.0.7');
    const cur = (await store.get(key))!;
    await store.update(
      key,
      { ...value, metadata: { ...value.metadata, deletionTimestamp: 'now' } },
      cur.resourceVersion,
    );
    await until('web deleted', () => api.ops.includes('deleteNow'));
    assert.deepEqual(
      runner.cni.map((c) => [c.command, c.ifName, c.conf.type]),
      [
        ['ADD', 'eth0', 'multus'],
        ['DEL', 'eth0', 'multus'],
      ],
    );
    ac.abort();
    await done;
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
