// The kube lab's kubelet + Multus role, without root: a MemoryStore as the API server, a fake
// PodApi, and a fake Runner standing in for `ip netns` and the CNI plugin binaries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore } from '../store/memory.js';
import { isStoreError } from '../store/types.js';
import type { RunOptions, RunResult, Runner } from '../util/exec.js';
import { silentLogger } from '../util/log.js';
import { LabKubelet, type PodApi } from './kubelet.js';
import { containerIdFor, makeLabConfig, podNetns } from './layout.js';
import { DEFAULT_NETCONF_NAME, NETWORK_STATUS_ANNOTATION, type NetworkStatusEntry } from './pods.js';

const lab = makeLabConfig('t', 2, 'memory://');
const me = lab.nodes[0]!;
const other = lab.nodes[1]!;
const NETWORKS_ANNOTATION = 'k8s.v1.cni.cncf.io/networks';

interface Call {
  readonly cmd: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly input?: string;
}

/** `ip netns` and the CNI plugins of cniPath: ADD answers a result, DEL nothing. */
class FakeRunner implements Runner {
  readonly calls: Call[] = [];
  readonly netns = new Set<string>();
  private next = 10;

  constructor(private readonly cniPath: string) {}

  async run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    this.calls.push({
      cmd,
      args,
      ...(opts.env ? { env: opts.env } : {}),
      ...(opts.input ? { input: opts.input } : {}),
    });
    const ok = (stdout = ''): RunResult => ({ code: 0, stdout, stderr: '' });
    if (cmd === 'ip') {
      const [a, b, c, ...rest] = args;
      if (a === 'netns' && b === 'add' && c) {
        this.netns.add(c);
        return ok();
      }
      if (a === 'netns' && b === 'del' && c) {
        this.netns.delete(c);
        return ok();
      }
      if (a === '-n' && c === 'link' && rest.join(' ') === 'set lo up') return ok();
      return { code: 1, stdout: '', stderr: `unexpected: ip ${args.join(' ')}` };
    }
    if (cmd.startsWith(`${this.cniPath}/`)) {
      const env = opts.env ?? {};
      if (env.CNI_COMMAND === 'DEL') return ok();
      if (env.CNI_COMMAND !== 'ADD') return { code: 1, stdout: '', stderr: `unexpected ${env.CNI_COMMAND}` };
      const n = this.next++;
      const eth0 = env.CNI_IFNAME === 'eth0';
      const result = {
        cniVersion: '1.0.0',
        interfaces: [
          { name: `cali${n}`, mac: '02:00:00:00:ff:ff' },
          { name: env.CNI_IFNAME, mac: `02:00:00:00:00:${n}`, sandbox: env.CNI_NETNS },
        ],
        ips: [
          eth0
            ? { address: `10.244.0.${n}/16`, gateway: '10.244.0.1', interface: 1 }
            : { address: `10.9.0.${n}/16`, interface: 1 },
        ],
        dns: {},
      };
      return ok(JSON.stringify(result));
    }
    return { code: 127, stdout: '', stderr: `unexpected command ${cmd}` };
  }

  plugin(command: 'ADD' | 'DEL', ifName?: string): Call[] {
    return this.calls.filter(
      (c) => c.env?.CNI_COMMAND === command && (ifName === undefined || c.env.CNI_IFNAME === ifName),
    );
  }

  ip(...args: string[]): Call[] {
    return this.calls.filter((c) => c.cmd === 'ip' && c.args.join(' ') === args.join(' '));
  }
}

type ApiCall =
  | { op: 'annotations'; ns: string; name: string; annotations: Record<string, string> }
  | { op: 'status'; ns: string; name: string; status: Record<string, unknown> }
  | { op: 'deleteNow'; ns: string; name: string; uid: string };

/** Records the kubelet's writes and applies them to the store, as the API server would. */
class FakePodApi implements PodApi {
  readonly calls: ApiCall[] = [];

  constructor(private readonly store: MemoryStore) {}

  async patchAnnotations(ns: string, name: string, annotations: Record<string, string>): Promise<void> {
    this.calls.push({ op: 'annotations', ns, name, annotations });
    await modifyPod(this.store, name, (v) => ({
      ...v,
      metadata: { ...v.metadata, annotations: { ...v.metadata.annotations, ...annotations } },
    }));
  }

  async patchStatus(ns: string, name: string, status: Record<string, unknown>): Promise<void> {
    this.calls.push({ op: 'status', ns, name, status });
    await modifyPod(this.store, name, (v) => ({ ...v, status }));
  }

  async deleteNow(ns: string, name: string, uid: string): Promise<void> {
    this.calls.push({ op: 'deleteNow', ns, name, uid });
    const cur = await this.store.get<PodValue>(podKey(name));
    if (cur?.value.metadata.uid === uid) await this.store.delete(podKey(name));
  }

  statuses(name: string): Record<string, unknown>[] {
    return this.calls.flatMap((c) => (c.op === 'status' && c.name === name ? [c.status] : []));
  }
}

interface PodValue {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    annotations?: Record<string, string>;
    deletionTimestamp?: string;
  };
  spec: { nodeName?: string; containers: { name: string; image?: string }[] };
  status?: Record<string, unknown>;
}

const podKey = (name: string) => ({ kind: 'Pod', namespace: 'default', name });

function kubePod(name: string, nodeName: string | undefined, annotations?: Record<string, string>): PodValue {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', uid: `uid-${name}`, ...(annotations ? { annotations } : {}) },
    spec: { containers: [{ name: 'c', image: 'busybox' }], ...(nodeName ? { nodeName } : {}) },
  };
}

const addPod = (store: MemoryStore, p: PodValue) => store.create(podKey(p.metadata.name), p);

/** Get, change, update: again on a conflict (the kubelet's writes race with the test's). */
async function modifyPod(store: MemoryStore, name: string, f: (v: PodValue) => PodValue): Promise<void> {
  for (;;) {
    const cur = await store.get<PodValue>(podKey(name));
    if (!cur) return;
    try {
      await store.update(podKey(name), f(cur.value), cur.resourceVersion);
      return;
    } catch (err) {
      if (!isStoreError(err, 'Conflict')) throw err;
    }
  }
}

const blueNad = {
  apiVersion: 'k8s.cni.cncf.io/v1',
  kind: 'NetworkAttachmentDefinition',
  metadata: { name: 'blue-conf', namespace: 'default' },
  spec: {
    config: JSON.stringify({
      cniVersion: '1.0.0',
      name: 'blue-conf',
      type: 'multinet',
      network: 'blue',
      ipam: { type: 'whereabouts' },
    }),
  },
};

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const settle = (ms = 50) => new Promise((r) => setTimeout(r, ms));

interface Env {
  readonly store: MemoryStore;
  readonly stateDir: string;
  readonly cniPath: string;
  readonly dirs: string[];
}

function makeEnv(): Env {
  const root = mkdtempSync(join(tmpdir(), 'mn-kubelet-'));
  const cniPath = join(root, 'cni-bin');
  // The plugins are looked up as files of cniPath; the fake runner answers their executions.
  mkdirSync(cniPath);
  writeFileSync(join(cniPath, 'multinet'), '#!/bin/sh\nexit 1\n', { mode: 0o755 });
  return { store: new MemoryStore(), stateDir: join(root, 'state'), cniPath, dirs: [root] };
}

/** A kubelet on `me`, running until stop(). */
function startKubelet(env: Env, opts: { attempts?: number; retryMs?: number } = {}) {
  const runner = new FakeRunner(env.cniPath);
  const api = new FakePodApi(env.store);
  const kubelet = new LabKubelet({
    lab,
    node: me,
    store: env.store,
    api,
    runner,
    cniPath: env.cniPath,
    log: silentLogger,
    stateDir: env.stateDir,
    attempts: opts.attempts ?? 10,
    retryMs: opts.retryMs ?? 10,
  });
  const ac = new AbortController();
  const done = kubelet.run(ac.signal);
  const stop = async (): Promise<void> => {
    ac.abort();
    await done;
  };
  return { runner, api, kubelet, stop };
}

async function withEnv(f: (env: Env) => Promise<void>): Promise<void> {
  const env = makeEnv();
  try {
    await f(env);
  } finally {
    await env.store.close();
    for (const d of env.dirs) rmSync(d, { recursive: true, force: true });
  }
}

const netnsOf = (name: string) => podNetns(lab.name, 'default', name, `uid-${name}`);

test('a pod bound to this node is created: netns, eth0 through the CNI chain, network-status, then Running', () =>
  withEnv(async (env) => {
    await addPod(env.store, kubePod('web', me.name));
    await addPod(env.store, kubePod('elsewhere', other.name));
    await addPod(env.store, kubePod('pending', undefined));
    const k = startKubelet(env);
    try {
      await until('web Running', () => k.api.statuses('web').length > 0);
      const netns = netnsOf('web');
      assert.equal(k.runner.ip('netns', 'add', netns).length, 1);
      assert.equal(k.runner.ip('-n', netns, 'link', 'set', 'lo', 'up').length, 1);
      assert.ok(k.runner.netns.has(netns));

      // eth0 on the default network, through our plugin, with the pod's identity in CNI_ARGS.
      const adds = k.runner.plugin('ADD');
      assert.equal(adds.length, 1);
      const add = adds[0]!;
      assert.equal(add.cmd, join(env.cniPath, 'multinet'));
      assert.deepEqual(add.args, []);
      assert.equal(add.env?.CNI_IFNAME, 'eth0');
      assert.equal(add.env?.CNI_NETNS, `/var/run/netns/${netns}`);
      assert.equal(add.env?.CNI_CONTAINERID, containerIdFor('default', 'web', 'uid-web'));
      assert.equal(add.env?.CNI_PATH, env.cniPath);
      assert.equal(add.env?.MULTINET_CNI_SOCKET, me.socket);
      assert.match(add.env?.CNI_ARGS ?? '', /K8S_POD_NAME=web;K8S_POD_UID=uid-web;/);
      assert.match(add.env?.CNI_ARGS ?? '', /MULTINET_DEFAULT_ROUTE=true/);
      const conf = JSON.parse(add.input ?? '{}') as Record<string, unknown>;
      assert.equal(conf.name, DEFAULT_NETCONF_NAME);
      assert.equal(conf.type, 'multinet');
      assert.deepEqual(conf.dataplane_options, { network_name: lab.defaultNetwork.name });

      // Multus' annotation first, then kubelet's status.
      const mine = k.api.calls.filter((c) => c.name === 'web');
      assert.deepEqual(
        mine.map((c) => c.op),
        ['annotations', 'status'],
      );
      const ann = mine[0]!.op === 'annotations' ? mine[0]!.annotations : {};
      const ns = JSON.parse(ann[NETWORK_STATUS_ANNOTATION] ?? '[]') as NetworkStatusEntry[];
      assert.deepEqual(ns, [
        {
          name: DEFAULT_NETCONF_NAME,
          interface: 'eth0',
          ips: ['10.244.0.10'],
          mac: '02:00:00:00:00:10',
          default: true,
          dns: {},
          // No gateway: Multus reports the gateways of the result's default routes (none here),
          // not those of its addresses.
        },
      ]);
      const st = k.api.statuses('web')[0]!;
      assert.equal(st.phase, 'Running');
      assert.equal(st.podIP, '10.244.0.10');
      assert.deepEqual(st.podIPs, [{ ip: '10.244.0.10' }]);
      assert.equal(st.hostIP, me.underlay);

      // Its record is on disk; the pods of another node, or of none, are not touched.
      assert.deepEqual(readdirSync(env.stateDir), ['uid-web.json']);
      assert.deepEqual(k.kubelet.held(), ['default/web']);
      await settle();
      assert.equal(k.runner.plugin('ADD').length, 1);
      assert.equal(k.runner.ip('netns', 'add', netnsOf('elsewhere')).length, 0);
      assert.equal(k.runner.ip('netns', 'add', netnsOf('pending')).length, 0);
      assert.ok(k.api.calls.every((c) => c.name === 'web'));
      // The status written back to the store (an event) does not make it report again.
      assert.equal(k.api.statuses('web').length, 1);
    } finally {
      await k.stop();
    }
  }));

test('a pod naming a NAD not stored yet is retried, stays unreported, and runs once the NAD arrives', () =>
  withEnv(async (env) => {
    await addPod(env.store, kubePod('multi', me.name, { [NETWORKS_ANNOTATION]: 'blue-conf' }));
    const k = startKubelet(env, { attempts: 1000, retryMs: 10 });
    try {
      await until('two tries', () => k.runner.plugin('ADD', 'eth0').length >= 2);
      assert.equal(k.api.calls.length, 0);
      assert.deepEqual(k.kubelet.held(), []);
      // Not reported while it is retried: the pod stays Pending, as kubelet keeps it.
      await env.store.create(
        { kind: 'NetworkAttachmentDefinition', namespace: 'default', name: 'blue-conf' },
        blueNad,
      );
      await until('multi reported', () => k.api.statuses('multi').length > 0);
      const st = k.api.statuses('multi')[0]!;
      assert.equal(st.phase, 'Running');
      const tries = k.runner.plugin('ADD', 'eth0').length;
      assert.ok(tries >= 3);
      // Each failed try undid its eth0 and its netns.
      assert.equal(k.runner.plugin('DEL', 'eth0').length, tries - 1);
      assert.equal(k.runner.ip('netns', 'del', netnsOf('multi')).length, tries - 1);
      assert.equal(k.runner.plugin('ADD', 'net1').length, 1);
      assert.ok(k.runner.netns.has(netnsOf('multi')));
      assert.ok(k.api.statuses('multi').every((s) => s.phase === 'Running'));
      // podIP is eth0's; net1 is in network-status.
      assert.match(String(st.podIP), /^10\.244\.0\.\d+$/);
      const ann = k.api.calls.find((c) => c.op === 'annotations');
      assert.ok(ann && ann.op === 'annotations');
      const entries = JSON.parse(ann.annotations[NETWORK_STATUS_ANNOTATION]!) as NetworkStatusEntry[];
      assert.deepEqual(
        entries.map((e) => [e.name, e.interface, e.default]),
        [
          [DEFAULT_NETCONF_NAME, 'eth0', true],
          ['default/blue-conf', 'net1', undefined],
        ],
      );
      assert.match(entries[1]!.ips![0]!, /^10\.9\.0\.\d+$/);
      assert.deepEqual(k.kubelet.held(), ['default/multi']);
    } finally {
      await k.stop();
    }
  }));

test('a pod whose NAD never comes is reported Failed after the attempts', () =>
  withEnv(async (env) => {
    await addPod(env.store, kubePod('lonely', me.name, { [NETWORKS_ANNOTATION]: 'blue-conf' }));
    const k = startKubelet(env, { attempts: 2, retryMs: 10 });
    try {
      await until('lonely reported', () => k.api.statuses('lonely').length > 0);
      const st = k.api.statuses('lonely')[0]!;
      assert.equal(st.phase, 'Failed');
      assert.equal(st.reason, 'FailedCreatePodSandBox');
      assert.match(
        String(st.message),
        /^plugin type="multus" name="multus-cni-network" failed \(add\): Multus: \[default\/lonely\/[^\]]+\]: .*cannot find a network-attachment-definition \(blue-conf\) in namespace \(default\)/,
      );
      // No network-status for a pod without a network.
      assert.ok(!k.api.calls.some((c) => c.op === 'annotations'));
      assert.equal(k.runner.plugin('ADD', 'eth0').length, 2);
      assert.ok(!k.runner.netns.has(netnsOf('lonely')));
    } finally {
      await k.stop();
    }
  }));

test('a pod with deletionTimestamp is torn down (DEL, netns) and then deleted with its UID', () =>
  withEnv(async (env) => {
    await addPod(env.store, kubePod('web', me.name));
    const k = startKubelet(env);
    try {
      await until('web Running', () => k.api.statuses('web').length > 0);
      await modifyPod(env.store, 'web', (v) => ({
        ...v,
        metadata: { ...v.metadata, deletionTimestamp: new Date().toISOString() },
      }));
      await until('deleteNow', () => k.api.calls.some((c) => c.op === 'deleteNow'));
      const del = k.runner.plugin('DEL', 'eth0');
      assert.equal(del.length, 1);
      assert.equal(del[0]!.env?.CNI_NETNS, `/var/run/netns/${netnsOf('web')}`);
      // DEL gets what ADD returned as prevResult.
      const conf = JSON.parse(del[0]!.input ?? '{}') as { prevResult?: { ips?: { address: string }[] } };
      assert.equal(conf.prevResult?.ips?.[0]?.address, '10.244.0.10/16');
      assert.equal(k.runner.ip('netns', 'del', netnsOf('web')).length, 1);
      assert.ok(!k.runner.netns.has(netnsOf('web')));
      // The netns goes after the DEL, and the delete after both.
      const iDel = k.runner.calls.indexOf(del[0]!);
      const iNetns = k.runner.calls.indexOf(k.runner.ip('netns', 'del', netnsOf('web'))[0]!);
      assert.ok(iDel < iNetns);
      assert.deepEqual(
        k.api.calls.filter((c) => c.op === 'deleteNow'),
        [{ op: 'deleteNow', ns: 'default', name: 'web', uid: 'uid-web' }],
      );
      await until('web gone from the store', () => k.kubelet.held().length === 0);
      assert.equal(await env.store.get(podKey('web')), undefined);
      assert.deepEqual(readdirSync(env.stateDir), []);
      await settle();
      assert.equal(k.runner.plugin('DEL').length, 1);
    } finally {
      await k.stop();
    }
  }));

test('a pod being deleted that this kubelet never started is deleted at once', () =>
  withEnv(async (env) => {
    const p = kubePod('late', me.name);
    await addPod(env.store, { ...p, metadata: { ...p.metadata, deletionTimestamp: '2024-05-01T00:00:00Z' } });
    const k = startKubelet(env);
    try {
      await until('deleteNow', () => k.api.calls.some((c) => c.op === 'deleteNow'));
      assert.deepEqual(k.api.calls, [{ op: 'deleteNow', ns: 'default', name: 'late', uid: 'uid-late' }]);
      assert.equal(k.runner.calls.length, 0);
    } finally {
      await k.stop();
    }
  }));

test('a restarted kubelet keeps the pods it holds and tears down those gone from the API', () =>
  withEnv(async (env) => {
    await addPod(env.store, kubePod('keep', me.name));
    await addPod(env.store, kubePod('gone', me.name));
    const first = startKubelet(env);
    try {
      await until(
        'both reported',
        () => first.api.statuses('keep').length + first.api.statuses('gone').length === 2,
      );
      assert.deepEqual(first.kubelet.held(), ['default/gone', 'default/keep']);
    } finally {
      await first.stop();
    }
    // Deleted while the kubelet was down (a force delete: no deletionTimestamp seen).
    await env.store.delete(podKey('gone'));

    const second = startKubelet(env);
    try {
      assert.deepEqual(second.kubelet.held(), ['default/gone', 'default/keep']);
      await until('gone torn down', () => second.kubelet.held().length === 1);
      assert.deepEqual(second.kubelet.held(), ['default/keep']);
      const del = second.runner.plugin('DEL', 'eth0');
      assert.equal(del.length, 1);
      assert.equal(del[0]!.env?.CNI_NETNS, `/var/run/netns/${netnsOf('gone')}`);
      assert.equal(second.runner.ip('netns', 'del', netnsOf('gone')).length, 1);
      assert.deepEqual(readdirSync(env.stateDir), ['uid-keep.json']);
      await settle();
      // `keep` is not created again, nor reported again; nothing is deleted through the API.
      assert.equal(second.runner.plugin('ADD').length, 0);
      assert.equal(second.runner.calls.filter((c) => c.args[1] === 'add').length, 0);
      assert.deepEqual(second.api.calls, []);
    } finally {
      await second.stop();
    }
  }));
