// Where the emulation failed differently from the real Multus (seen in the kube lab with Multus
// 4.2.4): a NAD whose config is not strict JSON, a conflist without cniVersion, a missing NAD, a
// delegate that fails: the emulation now does and says what Multus does. Fake runner, no root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeStored, type NetAttachDef, type Pod } from '../api/index.js';
import type { RunOptions, RunResult, Runner } from '../util/exec.js';
import { makeLabConfig } from './layout.js';
import { createPod, MissingNadError } from './pods.js';
import { addedInterfaceMessage } from './multus-messages.js';

const lab = makeLabConfig('t', 1, 'memory://');
const uid = 'u-1';

/** Every CNI exec answers a result, or the error it is told to for one interface. */
class FakeRunner implements Runner {
  readonly stdin: { ifName: string; conf: Record<string, unknown> }[] = [];
  constructor(private readonly failIf?: string) {}
  async run(cmd: string, _args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    if (cmd === 'ip') return { code: 0, stdout: '', stderr: '' };
    const env = opts.env ?? {};
    if (env.CNI_COMMAND !== 'ADD') return { code: 0, stdout: '', stderr: '' };
    this.stdin.push({
      ifName: env.CNI_IFNAME!,
      conf: JSON.parse(opts.input ?? '{}') as Record<string, unknown>,
    });
    if (env.CNI_IFNAME === this.failIf)
      return { code: 1, stdout: JSON.stringify({ code: 7, msg: 'no good', details: 'why' }), stderr: '' };
    const r = {
      cniVersion: '1.0.0',
      interfaces: [{ name: env.CNI_IFNAME, sandbox: env.CNI_NETNS }],
      ips: [],
    };
    return { code: 0, stdout: JSON.stringify(r), stderr: '' };
  }
}

function nad(name: string, config: string): NetAttachDef {
  const d = decodeStored('NetworkAttachmentDefinition', {
    kind: 'NetworkAttachmentDefinition',
    namespace: 'default',
    name,
    value: {
      apiVersion: 'k8s.cni.cncf.io/v1',
      kind: 'NetworkAttachmentDefinition',
      metadata: { name, namespace: 'default' },
      spec: { config },
    },
  });
  assert.ok(d.ok, JSON.stringify(d));
  return d.value;
}

function pod(networks: string): Pod {
  const d = decodeStored('Pod', {
    kind: 'Pod',
    namespace: 'default',
    name: 'p',
    value: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', namespace: 'default', annotations: { 'k8s.v1.cni.cncf.io/networks': networks } },
      spec: { containers: [{ name: 'c' }] },
    },
  });
  assert.ok(d.ok, JSON.stringify(d));
  return d.value;
}

const conf = (extra: string) =>
  `{${extra} "name": "net-blue", "plugins": [{"type": "calico", "ipam": {"type": "whereabouts"}, "dataplane_options": {"network_name": "blue"}}]}`;

async function withCni(f: (cniPath: string) => Promise<void>): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'mn-emul-'));
  try {
    const bin = join(root, 'bin');
    mkdirSync(bin);
    for (const t of ['multinet', 'calico']) writeFileSync(join(bin, t), '', { mode: 0o755 });
    await f(bin);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const SANDBOX = 'plugin type="multus" name="multus-cni-network" failed (add): ';

test('a NAD config with a trailing comma fails the pod as in Multus (Go reads it strictly)', () =>
  withCni(async (cniPath) => {
    const runner = new FakeRunner();
    const nads = new Map([
      ['default/blue', nad('blue', conf('"cniVersion": "1.0.0",').replace('}]}', '},]}'))],
    ]);
    const st = await createPod({ runner, lab, cniPath, nads }, pod('blue'), lab.nodes[0]!.name, {
      uid,
      netns: 'n',
    });
    assert.equal(st.phase, 'Failed');
    assert.ok(
      st.reason?.startsWith(
        `${SANDBOX}Multus: [default/p/${uid}]: error loading k8s delegates k8s args: TryLoadPodDelegates: error in getting k8s network for pod: GetNetworkDelegates: failed getting the delegate: GetCNIConfig: err in getCNIConfigFromSpec: failed to unmarshal Spec.Config: `,
      ),
      st.reason,
    );
    assert.equal(st.transient, undefined);
    assert.deepEqual(
      runner.stdin.map((c) => c.ifName),
      ['eth0'],
      'the NAD plugin is never called',
    );
  }));

test('a NAD conflist without cniVersion reaches its plugin with "" (as libcni in Multus passes it)', () =>
  withCni(async (cniPath) => {
    const runner = new FakeRunner();
    const nads = new Map([['default/blue', nad('blue', conf(''))]]);
    const st = await createPod({ runner, lab, cniPath, nads }, pod('blue'), lab.nodes[0]!.name, {
      uid,
      netns: 'n',
    });
    assert.equal(st.phase, 'Running');
    assert.equal(runner.stdin.find((c) => c.ifName === 'net1')?.conf.cniVersion, '');
  }));

test('a missing NAD and a failing delegate: Multus words, with the pod and the conflist name', () =>
  withCni(async (cniPath) => {
    const missing = await createPod(
      { runner: new FakeRunner(), lab, cniPath, nads: new Map() },
      pod('blue'),
      lab.nodes[0]!.name,
      { uid, netns: 'n' },
    );
    assert.equal(
      missing.reason,
      `${SANDBOX}Multus: [default/p/${uid}]: error loading k8s delegates k8s args: TryLoadPodDelegates: error in getting k8s network for pod: GetNetworkDelegates: failed getting the delegate: getKubernetesDelegate: cannot find a network-attachment-definition (blue) in namespace (default): network-attachment-definitions.k8s.cni.cncf.io "blue" not found`,
    );
    assert.equal(missing.transient, true, 'a NAD may come later');
    assert.ok(new MissingNadError('x') instanceof Error);
    const nads = new Map([['default/blue', nad('blue', conf('"cniVersion": "1.0.0",'))]]);
    const failed = await createPod(
      { runner: new FakeRunner('net1'), lab, cniPath, nads },
      pod('blue'),
      lab.nodes[0]!.name,
      {
        uid,
        netns: 'n',
      },
    );
    assert.equal(
      failed.reason,
      `${SANDBOX}[default/p/${uid}:net-blue]: error adding container to network "net-blue": plugin type="calico" failed (add): no good; why`,
    );
  }));

test("Multus' AddedInterface event text: the result's addresses as CIDRs, space separated", () => {
  const r = { ips: [{ address: '10.9.0.1/16' }, { address: 'fd00::1/64' }] };
  assert.equal(
    addedInterfaceMessage('eth1', r, 'default/blue'),
    'Add eth1 [10.9.0.1/16 fd00::1/64] from default/blue',
  );
});
